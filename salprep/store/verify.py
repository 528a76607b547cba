"""``verify_shard``: every check of one shard, from its attributes to every chunk of data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from salprep.errors import SalprepError
from salprep.store.layout import REQUIRED_ATTRS, STAGES, sha256_files, sha256_source
from salprep.store.reader import h5_reason

def verify_shard(path: str | os.PathLike, *, video_frames: int | None = None, full: bool = True,
                 source_hashes: dict | None = None,
                 annotation_sources: Callable[[h5py.File], list[Path] | None] | None = None) -> list[str]:
    """Problems found in one shard (an empty list means it is fine).

    Checks: not a dangling symlink (a lost shared-cache entry), readable HDF5, known
    ``salprep_type``, every required attribute present, ``stage_version`` equal to the current
    one, ``params`` valid JSON, each required dataset present with the declared rank and dtype
    and no undeclared one, per-frame datasets' first dimension equal to ``n_frames``, per-entry
    datasets' equal to the length of ``frame_index`` (strictly increasing frame numbers within
    the video), in the store layout (``<dataset>/<stage>/<video>.h5``) the ``video``
    attribute equal to the file name, and
    ``n_frames`` equal to ``video_frames`` when given (the decoded count of the video).

    ``full`` (default): also read every chunk of every dataset (a chunk failing its fletcher32
    checksum or its decompression is reported with its frames) and refuse NaN/Inf in float
    datasets (no stage produces them). ``source_hashes``: a dict (cache, path -> sha256) to
    compare ``source_sha256`` with the source files as they are now; sources that are gone
    are skipped. A GT shard's source is the annotation files a dataset adapter read, which the
    store does not know: ``annotation_sources(shard)`` (given by the caller, e.g.
    :func:`salprep.stages.gt.gt_shard_sources`) names them, or returns None when they cannot be
    found; without it, GT shards' sources are not compared.
    """
    problems: list[str] = []
    if os.path.islink(path) and not os.path.exists(path):
        return [f"dangling symlink to {os.readlink(path)} (a shared-cache entry that is gone; "
                "snakemake removes the link when it plans, and recomputes the shard when a job needs it: "
                "`snakemake shards` now)"]
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        return [f"not a readable HDF5 file ({exc})"]
    with h5:
        problems += _check_layout(Path(path), h5)
        if problems and problems[-1].startswith("unknown salprep_type"):
            return problems
        if full:
            problems += _check_data(h5)
        if source_hashes is not None:
            problems += _check_source(h5, source_hashes, annotation_sources)
        if video_frames is not None and int(h5.attrs.get("n_frames", -1)) != video_frames:
            problems.append(f"n_frames {int(h5.attrs.get('n_frames', -1))} != {video_frames} frames decoded "
                            "from the video")
    return problems


def _check_layout(path: Path, h5: h5py.File) -> list[str]:
    """Attributes, datasets, shapes and names (no data read but ``frame_index``)."""
    problems = []
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
        problems.append(f"stage_version {attrs['stage_version']!r} is stale (current {spec.version!r})")
    if "params" in attrs:
        try:
            json.loads(attrs["params"])
        except (TypeError, ValueError):
            problems.append("params is not valid JSON")
    if path.parent.name == stage and "video" in attrs and str(attrs["video"]) != path.stem:
        # the store layout <dataset>/<stage>/<video>.h5: readers take the video from the name
        problems.append(f"attribute video={str(attrs['video'])!r} but the shard is stored as video {path.stem!r}")
    n_frames = int(attrs.get("n_frames", -1))
    n_entries = None
    if spec.sampled and "frame_index" in h5:
        try:
            index = h5["frame_index"][...]
        except OSError as exc:
            return problems + [f"dataset 'frame_index' unreadable ({h5_reason(exc)})"]
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
    return problems


#: bytes read at a time by the full check
_BLOCK_BYTES = 32 << 20


def _check_data(h5: h5py.File) -> list[str]:
    """Read every chunk of every dataset: unreadable chunks (checksum, decompression) and NaN/Inf."""
    problems = []
    for name, ds in h5.items():
        if not isinstance(ds, h5py.Dataset) or ds.size == 0:
            continue
        if ds.ndim == 0 or ds.chunks is None:
            blocks = [slice(None)]
        else:
            row = max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize)
            step = max(ds.chunks[0], (_BLOCK_BYTES // row) // ds.chunks[0] * ds.chunks[0])
            blocks = [slice(i, min(i + step, ds.shape[0])) for i in range(0, ds.shape[0], step)]
        bad_rows: list[int] = []
        non_finite = 0
        reason = ""
        floating = np.issubdtype(ds.dtype, np.floating)
        for block in blocks:
            try:
                data = ds[block]
            except OSError as exc:
                reason = h5_reason(exc)
                if block == slice(None):
                    bad_rows.append(0)
                    continue
                for i in range(block.start, block.stop):  # which rows (frames, entries)
                    try:
                        ds[i]
                    except OSError:
                        bad_rows.append(i)
                continue
            if floating:
                non_finite += int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad_rows:
            shown = ", ".join(str(i) for i in bad_rows[:5]) + (" ..." if len(bad_rows) > 5 else "")
            problems.append(f"dataset {name!r}: {len(bad_rows)} unreadable chunk row(s) [{shown}] ({reason})")
        if non_finite:
            problems.append(f"dataset {name!r}: {non_finite} NaN/Inf value(s) (no stage writes them)")
        if ds.chunks is not None and ds.size and not ds.fletcher32 and int(h5.attrs.get("store_format", 1)) >= 2:
            problems.append(f"dataset {name!r} has no fletcher32 checksums (store_format >= 2 writes them)")
    return problems


def _hash_cached(path: str, cache: dict) -> str | None:
    if path not in cache:
        try:
            cache[path] = sha256_source(path) if os.path.exists(path) else None
        except SalprepError:
            cache[path] = None  # a folder without readable frames: the frame check reports it
    return cache[path]


def _check_source(h5: h5py.File, cache: dict, annotation_sources=None) -> list[str]:
    """``source_sha256`` against the source as it is now (skipped when the source is gone)."""
    attrs = h5.attrs
    recorded = attrs.get("source_sha256")
    stage = attrs.get("salprep_type")
    if recorded is None:
        return []
    if stage == "gt":
        root = attrs.get("dataset_root")
        if annotation_sources is None or root is None or not os.path.isdir(str(root)):
            return []
        files = annotation_sources(h5)
        if files is None:
            return []
        key = "\0".join(str(f) for f in files)
        if key not in cache:
            cache[key] = sha256_files(files) if files else None
        now, source = cache[key], f"the annotations under {root}"
    else:
        source = attrs.get("source", None if stage == "i3d_flow" else attrs.get("source_video"))
        if source is None:
            return []
        now = _hash_cached(str(source), cache)
    if now is not None and now != str(recorded):
        return [f"source_sha256 {str(recorded)[:12]}... does not match {source} now ({now[:12]}...): the "
                "source changed since the shard was built, or the attribute was altered"]
    return []
