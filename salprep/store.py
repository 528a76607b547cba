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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np

from salprep import __version__
from salprep.atomic import atomic_output
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


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_plain_name(kind: str, value: str, path: str | os.PathLike | None = None) -> str:
    """``value`` if it is a plain name (letters, digits, ``.``, ``_``, ``-``; no path separator,
    no ``..``), so it cannot name a place outside the store when paths are built from it; else
    :class:`SalprepError` naming ``path``."""
    text = str(value)
    if not _PLAIN_NAME.fullmatch(text) or ".." in text:
        raise SalprepError(f"{kind} {text!r} is not a plain name (letters, digits, '.', '_', '-'; "
                           "no path separators or '..')", path)
    return text


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
    check_plain_name("dataset name", dataset, path)
    check_plain_name("video id", video, path)
    if compression is None:
        level = None
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
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


def read_scaled(ds: h5py.Dataset, index=()) -> np.ndarray:
    """``ds[index]`` as float32, multiplied by the dataset's ``scale`` attribute when it has one
    (quantised datasets such as the GT ``maps``: uint16 codes, scale 1/65535)."""
    raw = ds[index]
    scale = ds.attrs.get("scale")
    return raw.astype(np.float32) if scale is None else (raw * np.float32(scale)).astype(np.float32)


def open_shard(path: str | os.PathLike, stage: str | None = None, *, current: bool = False) -> h5py.File:
    """Open a shard read-only (cached shards are symlinks to read-only files).

    ``stage``: refuse a shard of another type; ``current``: also refuse one whose
    ``stage_version`` is not the stage's current version (an input to rebuild first).
    """
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
    if current:
        version = str(h5.attrs.get("stage_version"))
        if version != STAGES[stage].version:
            h5.close()
            raise SalprepError(f"{stage} shard has stage_version {version!r}, current is "
                               f"{STAGES[stage].version!r}: rebuild it", path)
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

    Checks: not a dangling symlink (a lost shared-cache entry), readable HDF5, known ``salprep_type``, every required attribute present,
    ``stage_version`` equal to the current one, ``params`` valid JSON, each required dataset
    present with the declared rank and dtype and no undeclared one, per-frame datasets' first
    dimension equal to ``n_frames``, per-entry datasets' equal to the length of ``frame_index``
    (strictly increasing frame numbers within the video), and ``n_frames`` equal to
    ``video_frames`` when given (the decoded count of the video).
    """
    problems: list[str] = []
    if os.path.islink(path) and not os.path.exists(path):
        return [f"dangling symlink to {os.readlink(path)} (a shared-cache entry that is gone; "
                "the next snakemake run recomputes it)"]
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
        n_entries = None
        if spec.sampled and "frame_index" in h5:
            index = h5["frame_index"][...]
            n_entries = len(index)
            if index.ndim != 1 or n_entries == 0:
                problems.append(f"frame_index has shape {index.shape}, expected (K,) with K >= 1")
            elif (np.diff(index) <= 0).any() or index[0] < 0 or index[-1] >= n_frames:
                problems.append(f"frame_index is not strictly increasing within 0..{n_frames - 1}")
        for name in h5:
            if name not in spec.datasets:
                problems.append(f"undeclared dataset {name!r} for stage {stage!r}")
        for name, ds_spec in spec.datasets.items():
            if name not in h5:
                if ds_spec.required:
                    problems.append(f"missing dataset {name!r}")
                continue
            ds = h5[name]
            length = {"frame": n_frames, "entry": n_entries}.get(ds_spec.per)
            if ds.ndim != ds_spec.ndim:
                problems.append(f"dataset {name!r} has rank {ds.ndim}, expected {ds_spec.ndim}")
            elif ds.dtype != np.dtype(ds_spec.dtype):
                problems.append(f"dataset {name!r} has dtype {ds.dtype}, expected {ds_spec.dtype}")
            elif length is not None and ds.shape[0] != length:
                if ds_spec.per == "frame":
                    problems.append(f"dataset {name!r} has {ds.shape[0]} frames, n_frames is {n_frames}")
                else:
                    problems.append(f"dataset {name!r} has {ds.shape[0]} entries, frame_index has {length}")
        if video_frames is not None and n_frames != video_frames:
            problems.append(f"n_frames {n_frames} != {video_frames} frames decoded from the video")
    return problems
