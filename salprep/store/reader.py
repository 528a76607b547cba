"""Reading shards: :func:`open_shard` turns missing datasets and damaged chunks into one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from salprep.errors import SalprepError
from salprep.store.layout import REQUIRED_ATTRS, STAGES

def read_scaled(ds: h5py.Dataset, index=()) -> np.ndarray:
    """``ds[index]`` as float32, multiplied by the dataset's ``scale`` attribute when it has one
    (quantised datasets such as the GT ``maps``: uint16 codes, scale 1/65535)."""
    raw = ds[index]
    scale = ds.attrs.get("scale")
    return raw.astype(np.float32) if scale is None else (raw * np.float32(scale)).astype(np.float32)


class ShardDataset(h5py.Dataset):
    """A dataset of a shard opened with :func:`open_shard`: a chunk that fails its checksum or
    does not decompress is a one-line :class:`SalprepError` naming the shard, not an OSError."""

    def __init__(self, bind, shard_path: str):
        super().__init__(bind)
        self._shard_path = shard_path

    def __getitem__(self, args, new_dtype=None):
        try:
            return super().__getitem__(args, new_dtype=new_dtype)
        except OSError as exc:
            raise SalprepError(f"cannot read dataset {self.name.lstrip('/')!r} ({h5_reason(exc)}): the shard "
                               "is damaged; 'salprep verify' lists the damage, rebuild the shard",
                               self._shard_path) from None


class Shard(h5py.File):
    """A shard opened read-only by :func:`open_shard`: ``shard[name]`` of a dataset it lacks
    is a one-line :class:`SalprepError`, and its datasets are :class:`ShardDataset`."""

    def __getitem__(self, name):
        try:
            obj = super().__getitem__(name)
        except KeyError:
            raise SalprepError(f"{self.attrs.get('salprep_type', 'this')} shard lacks dataset {name!r}: "
                               "rebuild it ('salprep verify' checks every shard)", self.filename) from None
        if isinstance(obj, h5py.Dataset):
            return ShardDataset(obj.id, self.filename)
        return obj


def h5_reason(exc: OSError) -> str:
    """An HDF5 read error in a few words: a chunk failing its checksum or decompression is
    named as such, anything else is HDF5's own text, shortened."""
    text = " ".join(str(exc).split())
    if "filter returned failure" in text or "checksum" in text.lower():
        return "a chunk fails its checksum or does not decompress"
    return text[:120]


def open_shard(path: str | os.PathLike, stage: str | None = None, *, current: bool = False,
               stored: bool = False) -> Shard:
    """Open a shard read-only (cached shards are symlinks to read-only files).

    ``stage``: refuse a shard of another type, or one that lacks a required attribute or
    dataset of that stage; ``current``: also refuse one whose ``stage_version`` is not the
    stage's current version (an input to rebuild first); ``stored``: also refuse a shard in a
    store folder (``<dataset>/<stage>/<video>.h5``) whose ``video`` attribute is not its file
    name -- a shard copied under another video's name, which a reader that takes the video from
    the name would use twice (training, evaluation). Reads of damaged chunks raise
    :class:`SalprepError` (see :class:`ShardDataset`).
    """
    path = Path(path)
    if not path.exists():
        raise SalprepError("shard not found", path)
    try:
        h5 = Shard(path, "r")
    except OSError as exc:
        raise SalprepError(f"not a readable HDF5 shard ({exc})", path) from None
    kind = h5.attrs.get("salprep_type")
    problem = None
    if stage is not None and kind != stage:
        problem = f"expected a {stage!r} shard, found salprep_type={kind!r}"
    elif stage is not None:
        missing = [a for a in REQUIRED_ATTRS if a not in h5.attrs]
        lacking = [n for n, d in STAGES[stage].datasets.items() if d.required and n not in h5]
        if missing:
            problem = f"{stage} shard lacks attributes {missing}: it was never finished, rebuild it"
        elif lacking:
            problem = f"{stage} shard lacks datasets {lacking}: rebuild it ('salprep verify' checks every shard)"
        elif current and str(h5.attrs.get("stage_version")) != STAGES[stage].version:
            problem = (f"{stage} shard has stage_version {str(h5.attrs.get('stage_version'))!r}, current is "
                       f"{STAGES[stage].version!r}: rebuild it")
        elif stored and path.parent.name == stage and str(h5.attrs.get("video")) != path.stem:
            problem = (f"the shard is of video {str(h5.attrs.get('video'))!r} but stored as video {path.stem!r} "
                       "(copied under another name?): rebuild it, or put it back under its own name")
    if problem:
        h5.close()
        raise SalprepError(problem, path)
    return h5


def read_attrs(path: str | os.PathLike) -> dict:
    with open_shard(path) as h5:
        out = {}
        for key, value in h5.attrs.items():
            if isinstance(value, np.generic):
                value = value.item()
            out[key] = value
    if "params" in out:
        out["params"] = json.loads(out["params"])
    return out


