"""The per-video stage runner: every stage's shard is made by :func:`run_stage`.

A stage supplies data and one function (:class:`StageRun`): the source stream (decoded video
frames, fixation maps, stored flow fields), a sampler (:mod:`salprep.stages.samplers`), a
``compute(batch) -> {dataset: array}`` and the shapes/dtypes of what it returns. The runner does
the rest, the same way for every stage: writes the shard through the one atomic writer
(:func:`salprep.store.write_shard`) with the provenance attributes, the ``frame_index`` of sampled
stages, batching, ``torch.inference_mode()`` and optional autocast on the chosen device, tqdm
progress, and the frame-count check (a stream that yields more or fewer frames than the probed
count fails the job and leaves no shard).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from salprep.errors import SalprepError
from salprep.progress import progress
from salprep.stages.samplers import Batch, counted
from salprep.store import STAGES, ShardWriter, sha256_source, stage_version, write_shard

log = logging.getLogger(__name__)

#: ``--dtype`` names -> torch dtype names (float32 runs without autocast)
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class StageRun:
    """One stage on one video: what to read, how to compute it, what to write.

    Attributes:
        stage: store stage name (a key of :data:`salprep.store.STAGES`).
        out: shard path.
        dataset, video: recorded in the shard.
        n_frames: frames of the video (the stream must yield exactly this many).
        source: the input file (video, flow shard, annotation folder) named in errors and
            recorded (resolved) as the ``source`` attribute.
        source_sha256: its hash (provenance; ``salprep verify`` recomputes it).
        params: what the shard depends on (JSON; stage version and sampler are added).
        frames: the source stream, one numpy array per video frame.
        sampler: an :mod:`~salprep.stages.samplers` sampler.
        compute: ``f(batch) -> {dataset name: (B, ...) numpy array}``.
        outputs: per-entry (or per-frame) datasets: name -> (shape without the leading
            dimension, numpy dtype name).
        weights: checkpoint identity (``"none"``, ``"random-init"``, ``"sha256:..."``).
        batch_size: entries per ``compute`` call.
        device: torch device for inference (None: no torch context, e.g. GT).
        dtype: ``float32``, or ``bfloat16`` / ``float16`` autocast on ``device``.
        attrs: extra root attributes; ``dataset_attrs``: name -> attributes of that dataset.
        finish: optional ``f(shard)`` called after the last batch (extra datasets/attributes).
        source_video: the video the shard derives from (``salprep verify`` decodes it to check
            ``n_frames``).
    """

    stage: str
    out: Path
    dataset: str
    video: str
    n_frames: int
    source: str
    source_sha256: str
    params: dict
    frames: Iterable[np.ndarray]
    sampler: Any
    compute: Callable[[Batch], dict[str, np.ndarray]]
    outputs: dict[str, tuple[tuple[int, ...], str]]
    weights: str = "none"
    batch_size: int = 1
    device: Any = None
    dtype: str = "float32"
    attrs: dict = field(default_factory=dict)
    dataset_attrs: dict = field(default_factory=dict)
    finish: Callable[[ShardWriter], None] | None = None
    source_video: str | None = None


def video_facts(path: str | os.PathLike) -> tuple[Any, str]:
    """(:class:`~salprep.video.VideoInfo`, sha256) of a source video (decoded once to count)."""
    from salprep.video import probe_video

    return probe_video(path), sha256_source(path)


def inference_context(device, dtype: str):
    """``torch.inference_mode()`` plus autocast to ``dtype`` on ``device`` (none for float32)."""
    if device is None:
        return contextlib.nullcontext()
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype != "float32":
        stack.enter_context(torch.autocast(device_type=device.type, dtype=getattr(torch, dtype)))
    return stack


def run_stage(run: StageRun) -> dict:
    """Compute ``run`` and write its shard atomically; returns a summary.

    Returns:
        ``{"entries": K, "frames": T, "seconds": s, "out": path}``.

    Raises:
        SalprepError: the stream had a different number of frames than ``n_frames``, or
            ``compute`` returned the wrong shapes (a bug in a stage); no shard is written.
    """
    if run.batch_size < 1:
        raise SalprepError(f"batch size must be >= 1, got {run.batch_size}")
    if run.dtype not in DTYPES:
        raise SalprepError(f"dtype must be one of {DTYPES}, got {run.dtype!r}")
    spec = STAGES[run.stage]
    index = run.sampler.frame_index(run.n_frames)
    n_entries = len(index)
    if n_entries == 0:
        raise SalprepError(f"{run.n_frames} frame(s) give no {run.stage} entries", run.source)
    params = {**run.params, **run.sampler.params(), "stage_version": stage_version(run.stage)}
    start = time.perf_counter()
    with write_shard(run.out, stage=run.stage, dataset=run.dataset, video=run.video, n_frames=run.n_frames,
                     source_sha256=run.source_sha256, params=params, weights=run.weights) as shard:
        shard.attrs["source"] = str(Path(run.source).resolve())
        if run.source_video is not None:
            shard.attrs["source_video"] = str(Path(run.source_video).resolve())
        for key, value in run.attrs.items():
            shard.attrs[key] = value
        if run.device is not None:
            shard.attrs["device"] = str(run.device)
            shard.attrs["dtype"] = run.dtype
        datasets = {}
        for name, (shape, dtype) in run.outputs.items():
            per = spec.datasets[name].per
            length = run.n_frames if per == "frame" else n_entries
            datasets[name] = shard.create_frames(name, (length, *shape), dtype)
            for key, value in run.dataset_attrs.get(name, {}).items():
                datasets[name].attrs[key] = value
        if spec.sampled:
            shard.put("frame_index", index.astype(np.int32))
        stream = counted(run.frames)
        done = 0
        with progress(total=n_entries, desc=f"{run.stage} {run.video}", unit="entry", leave=False) as bar, \
                inference_context(run.device, run.dtype):
            for batch in run.sampler.batches(stream, run.n_frames, run.batch_size):
                arrays = run.compute(batch)
                for name, ds in datasets.items():
                    arr = arrays[name]
                    expected = (len(batch), *ds.shape[1:])
                    if tuple(arr.shape) != expected:
                        raise SalprepError(f"stage {run.stage} computed {name} of shape {tuple(arr.shape)}, "
                                           f"expected {expected}", run.source)
                    ds[done: done + len(batch)] = arr
                done += len(batch)
                bar.update(len(batch))
        if stream.count != run.n_frames:
            raise SalprepError(f"the stream has {stream.count} frames, expected {run.n_frames}", run.source)
        if done != n_entries:  # a sampler bug; inside the shard's block, so no shard is left
            raise SalprepError(f"computed {done} of {n_entries} entries", run.source)
        if run.finish is not None:
            run.finish(shard)
    seconds = time.perf_counter() - start
    log.debug("%s: %d entries of %d frames in %.1f s", run.out, n_entries, run.n_frames, seconds)
    return {"entries": n_entries, "frames": run.n_frames, "seconds": seconds, "out": str(run.out)}


def parse_size(text: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` -> (width, height), at least 8x8."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise SalprepError(f"bad size {text!r}: expected WIDTHxHEIGHT, e.g. 112x112") from None
    if w < 8 or h < 8:
        raise SalprepError(f"size {text!r} is too small (at least 8x8)")
    return w, h


def parse_bool(text) -> bool:
    """``true``/``false`` (also yes/no, 1/0, any case; YAML booleans arrive as ``True``).
    Raises ValueError otherwise (an argparse ``type``: a usage error, exit 2)."""
    value = str(text).strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise ValueError(f"bad boolean {text!r}: expected true or false")


def defaults(func) -> dict:
    """The keyword defaults of a stage's ``build_*`` function: the one place each default is
    stated (subcommands show and use them; the workflow config only overrides)."""
    import inspect

    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}
