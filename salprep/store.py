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

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np

from salprep import __version__
from salprep.errors import SalprepError

STORE_FORMAT = 1
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
class StageSpec:
    """What a stage's shard must hold: dataset name -> (ndim, per-frame?)."""

    version: str
    datasets: dict = field(default_factory=dict)


#: Every stage of the store. ``version`` is the stage's algorithm version: bump it when the
#: algorithm changes, so shared caches never serve stale shards (rules pass it via params:).
STAGES: dict[str, StageSpec] = {
    "gt": StageSpec(
        "1",
        {"maps": (3, True), "fixations": (3, True), "fixation_points": (2, False)},
    ),
    "flow_tvl1": StageSpec("1", {"flow": (4, True)}),
    "flow_spynet": StageSpec("1", {"flow": (4, True), "frame_index": (1, False)}),
    "depth": StageSpec("1", {"disparity": (3, True)}),
    "i3d_rgb": StageSpec("1", {"features": (5, True)}),
    "i3d_flow": StageSpec("1", {"features": (5, True)}),
}


def stage_version(stage: str) -> str:
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; known: {sorted(STAGES)}")
    return STAGES[stage].version


def shard_path(store: str | os.PathLike, dataset: str, stage: str, video: str) -> Path:
    return Path(store) / dataset / stage / f"{video}.h5"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ShardWriter:
    """An open, not yet visible shard; use :func:`write_shard`."""

    def __init__(self, h5: h5py.File, compression: str | None, level: int | None):
        self.h5 = h5
        self._compression = compression
        self._level = level

    def create_frames(self, name: str, shape: tuple[int, ...], dtype, **kwargs) -> h5py.Dataset:
        """A per-frame dataset (T, ...): one frame per chunk, compressed."""
        chunks = (1,) + tuple(int(s) for s in shape[1:]) if shape[0] > 0 else None
        return self.h5.create_dataset(
            name,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            compression=self._compression,
            compression_opts=self._level,
            shuffle=self._compression is not None,
            **kwargs,
        )

    def put(self, name: str, data: np.ndarray) -> h5py.Dataset:
        """A small, whole dataset (not per frame), compressed when large enough to matter."""
        data = np.asarray(data)
        if data.size >= 1024:
            return self.h5.create_dataset(
                name, data=data, compression=self._compression, compression_opts=self._level
            )
        return self.h5.create_dataset(name, data=data)

    @property
    def attrs(self):
        return self.h5.attrs


@contextlib.contextmanager
def write_shard(
    path: str | os.PathLike,
    *,
    stage: str,
    dataset: str,
    video: str,
    n_frames: int,
    source_sha256: str,
    params: dict,
    weights: str = "none",
    compression: str | None = "gzip",
    level: int | None = 4,
) -> Iterator[ShardWriter]:
    """Write a shard atomically: temp name in the same folder, renamed when complete.

    On any exception (or KeyboardInterrupt) the temporary file is removed and an existing
    shard at ``path`` is left untouched.
    """
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp.h5")
    if compression is None:
        level = None
    try:
        with h5py.File(tmp, "w") as h5:
            attrs = h5.attrs
            attrs["salprep_type"] = stage
            attrs["salprep_version"] = __version__
            attrs["stage_version"] = STAGES[stage].version
            attrs["store_format"] = STORE_FORMAT
            attrs["dataset"] = dataset
            attrs["video"] = video
            attrs["n_frames"] = int(n_frames)
            attrs["source_sha256"] = source_sha256
            attrs["params"] = json.dumps(params, sort_keys=True)
            attrs["weights"] = weights
            yield ShardWriter(h5, compression, level)
            attrs["created"] = _now()  # written last: a shard without it was never finished
            h5.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_scaled(ds: h5py.Dataset, index=()) -> np.ndarray:
    """``ds[index]`` as float32, multiplied by the dataset's ``scale`` attribute when it has one
    (quantised datasets such as the GT ``maps``: uint16 codes, scale 1/65535)."""
    raw = ds[index]
    scale = ds.attrs.get("scale")
    return raw.astype(np.float32) if scale is None else (raw * np.float32(scale)).astype(np.float32)


def open_shard(path: str | os.PathLike, stage: str | None = None) -> h5py.File:
    """Open a shard read-only (cached shards are symlinks to read-only files)."""
    path = Path(path)
    if not path.exists():
        raise SalprepError("shard not found", path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise SalprepError(f"not a readable HDF5 shard ({exc})", path) from None
    kind = h5.attrs.get("salprep_type")
    if stage is not None and kind != stage:
        h5.close()
        raise SalprepError(f"expected a {stage!r} shard, found salprep_type={kind!r}", path)
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


def verify_shard(path: str | os.PathLike, *, video_frames: int | None = None) -> list[str]:
    """Problems found in one shard (an empty list means it is fine).

    Checks: readable HDF5, known ``salprep_type``, every required attribute present,
    ``stage_version`` equal to the current one, ``params`` valid JSON, each required dataset
    present with the right rank, per-frame datasets' first dimension equal to ``n_frames``,
    and ``n_frames`` equal to ``video_frames`` when given (the decoded count of the video).
    """
    problems: list[str] = []
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        return [f"not a readable HDF5 file ({exc})"]
    with h5:
        attrs = h5.attrs
        missing = [a for a in REQUIRED_ATTRS if a not in attrs]
        if missing:
            problems.append(f"missing attributes {missing}")
        stage = attrs.get("salprep_type")
        if stage not in STAGES:
            problems.append(f"unknown salprep_type {stage!r}")
            return problems
        spec = STAGES[stage]
        if "stage_version" in attrs and str(attrs["stage_version"]) != spec.version:
            problems.append(
                f"stage_version {attrs['stage_version']!r} is stale (current {spec.version!r})"
            )
        if "params" in attrs:
            try:
                json.loads(attrs["params"])
            except (TypeError, ValueError):
                problems.append("params is not valid JSON")
        n_frames = int(attrs.get("n_frames", -1))
        for name, (ndim, per_frame) in spec.datasets.items():
            if name not in h5:
                problems.append(f"missing dataset {name!r}")
                continue
            ds = h5[name]
            if ds.ndim != ndim:
                problems.append(f"dataset {name!r} has rank {ds.ndim}, expected {ndim}")
            elif per_frame and ds.shape[0] != n_frames and not _frames_ok(stage, ds, n_frames, attrs):
                problems.append(f"dataset {name!r} has {ds.shape[0]} frames, n_frames is {n_frames}")
        if video_frames is not None and n_frames != video_frames:
            problems.append(f"n_frames {n_frames} != {video_frames} frames decoded from the video")
    return problems


def _frames_ok(stage: str, ds: h5py.Dataset, n_frames: int, attrs) -> bool:
    """Stages whose per-frame datasets are not one entry per video frame declare it."""
    expected = attrs.get("n_entries")
    return expected is not None and ds.shape[0] == int(expected)
