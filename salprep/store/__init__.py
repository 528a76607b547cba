"""The feature store: one HDF5 shard per (dataset, stage, video).

Layout ``<store>/<dataset>/<stage>/<video>.h5``. Every shard has the root attributes of
CONTRACT.md (``salprep_type``, ``salprep_version``, ``source_sha256``, ``params``, ``weights``,
``created``) plus ``stage_version`` (the algorithm version of the stage), ``store_format``,
``dataset``, ``video`` and ``n_frames``. Per-frame datasets are chunked one frame per chunk
and compressed.

A shard is written under a hidden temporary name in its own folder and renamed into place
only after it has been completely written and flushed, so a reader never sees a partial
shard; a failed writer removes its temporary file, and a killed one leaves at most a hidden
``.<video>.<random>.tmp.h5`` beside the shard, which no reader opens (``salprep verify`` lists
such leftovers).
"""

from salprep.store.layout import (
    REQUIRED_ATTRS,
    STAGES,
    STORE_FORMAT,
    remove_dangling_shards,
    DatasetSpec,
    StageSpec,
    sha256_file,
    sha256_files,
    sha256_source,
    shard_path,
    stage_version,
)
from salprep.store.reader import Shard, ShardDataset, open_shard, read_attrs, read_scaled
from salprep.store.verify import verify_shard
from salprep.store.writer import ShardWriter, check_plain_name, write_shard

__all__ = [
    "REQUIRED_ATTRS", "STAGES", "STORE_FORMAT", "DatasetSpec", "StageSpec", "Shard", "ShardDataset", "ShardWriter",
    "check_plain_name", "open_shard", "read_attrs", "read_scaled", "sha256_file", "sha256_files", "sha256_source", "shard_path",
    "remove_dangling_shards", "stage_version", "verify_shard", "write_shard",
]
