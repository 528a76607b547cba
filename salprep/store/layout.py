"""What a shard holds: the stages, their datasets and versions, paths and source hashes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

#: 2: every chunked dataset carries fletcher32 checksums (1: none)
STORE_FORMAT = 2
REQUIRED_ATTRS = (
    "salprep_type",
    "salprep_version",
    "stage_version",
    "source_sha256",
    "params",
    "weights",
    "created",
    "n_frames",
)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a shard.

    Attributes:
        ndim: rank.
        dtype: numpy dtype name (``"float16"``, ``"int8"``, ...).
        per: ``"frame"`` (first dim = ``n_frames``), ``"entry"`` (first dim = length of the
            shard's ``frame_index``: sampled stages), or ``None`` (free length).
        required: ``False`` for datasets a shard holds only sometimes (GT ``shipped_maps``).
    """

    ndim: int
    dtype: str
    per: str | None = "frame"
    required: bool = True


@dataclass(frozen=True)
class StageSpec:
    """What a stage's shard holds: its algorithm version and every dataset, exactly.

    Sampled stages (``sampled=True``) store one entry per sample and a ``frame_index`` (K,)
    int32 dataset: the 0-based video frame of each entry (flow: the first frame of the pair;
    I3D: the last frame of the window), strictly increasing.
    """

    version: str
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    sampled: bool = False

    def __post_init__(self):
        if self.sampled:
            self.datasets.setdefault("frame_index", DatasetSpec(1, "int32", per=None))


def _sampled(version: str, **datasets: DatasetSpec) -> StageSpec:
    return StageSpec(version, dict(datasets), sampled=True)


#: Every stage of the store. ``version`` is the stage's algorithm version: bump it when the
#: algorithm or the shard layout changes, so shared caches never serve stale shards (rules pass
#: it via params:).
STAGES: dict[str, StageSpec] = {
    "gt": StageSpec("1", {
        "maps": DatasetSpec(3, "uint16"),
        "fixations": DatasetSpec(3, "uint8"),
        "fixation_points": DatasetSpec(2, "int32", per=None),
        "shipped_maps": DatasetSpec(3, "uint8", required=False),
    }),
    "flow_tvl1": _sampled("2", flow=DatasetSpec(4, "int8", per="entry")),
    "flow_spynet": _sampled("2", flow=DatasetSpec(4, "float16", per="entry")),
    "depth": _sampled("1", disparity=DatasetSpec(3, "float16", per="entry")),
    "frames": _sampled("1", frames=DatasetSpec(4, "uint8", per="entry")),
    "i3d_rgb": _sampled("1", features=DatasetSpec(5, "float16", per="entry")),
    "i3d_flow": _sampled("1", features=DatasetSpec(5, "float16", per="entry")),
}


def stage_version(stage: str) -> str:
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; known: {sorted(STAGES)}")
    return STAGES[stage].version


def shard_path(store: str | os.PathLike, dataset: str, stage: str, video: str) -> Path:
    return Path(store) / dataset / stage / f"{video}.h5"


def remove_dangling_shards(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """Remove the shards under ``folder`` (``<stage>/<video>.h5``) that are symlinks to nothing
    (shared-cache entries that are gone); returns (link, its target) of each. A dangling link
    holds no data; left in place, Snakemake cannot plan a job downstream of it (it has no
    modification time), removed, the shard is planned and recomputed like a missing one."""
    removed = []
    for link in sorted(Path(folder).glob("*/*.h5")):
        if link.is_symlink() and not link.exists():
            target = os.readlink(link)
            link.unlink()
            removed.append((link, target))
    return removed


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 (hex) of a file's bytes, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | os.PathLike]) -> str:
    """One hash over several files: sha256 of the sorted list of (name, sha256) lines."""
    digest = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        digest.update(f"{p.name} {sha256_file(p)}\n".encode())
    return digest.hexdigest()


def sha256_source(path: str | os.PathLike) -> str:
    """The hash a shard records of its source: of the file, or, for a folder of frame images
    (:mod:`salprep.image_frames`), :func:`sha256_files` of its images."""
    if Path(path).is_dir():
        from salprep.image_frames import image_files

        return sha256_files(image_files(path))
    return sha256_file(path)
