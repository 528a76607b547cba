"""The ``gt`` stage: fixation maps + Gaussian GT maps of one video (``store/<ds>/gt/<v>.h5``).

Datasets: ``fixations`` (T, H, W) uint8 0/1, ``maps`` (T, H, W) uint16 codes of [0, 1]
(attribute ``scale`` = 1/65535), ``fixation_points`` (N, 3) int32 frame, y, x, and
``shipped_maps`` (T, H, W) uint8 when the dataset publishes maps: each published map on the 0..255
scale of its own bit depth (a 16-bit map: ``round(value * 255 / 65535)``, never divided by its own
maximum; :func:`salprep.image_frames.read_map_image`), so a 16-bit export and an 8-bit export of
one map give the same codes (within one level). Frames are those of the video as displayed
(rotation metadata applied, :mod:`salprep.video`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from salprep import gt as gtlib
from salprep.datasets import FrameInfo, open_dataset
from salprep.errors import SalprepError
from salprep.image_frames import read_map_image
from salprep.stages.runner import StageRun, run_stage
from salprep.stages.samplers import EveryNth
from salprep.store import sha256_files
from salprep.video import probe_video

log = logging.getLogger(__name__)


def gt_recipe(preset_name: str, overrides: dict) -> dict:
    """The preset's GT recipe with ``overrides`` (sigma | fwhm, truncate (0 = none), border, shift)."""
    recipe = dict(gtlib.GT_PRESETS[preset_name])
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "fwhm":
            recipe["sigma"] = gtlib.fwhm_to_sigma(value)
        elif key == "truncate":
            recipe["truncate"] = None if value == 0 else value
        else:
            recipe[key] = value
    return {"preset": preset_name, **recipe}


@dataclass
class _GTCompute:
    """Per-batch GT maps; collects fixation points and CC against the published maps."""

    recipe: dict
    shipped: bool
    compare: bool
    counts: bool = False  # blur the count map (LEDOV) instead of the binary one
    points: list = field(default_factory=list)
    ccs: list = field(default_factory=list)
    empty: int = 0

    def __call__(self, batch) -> dict[str, np.ndarray]:
        from salprep.metrics import cc

        fix = batch.data[:, 0] > 0
        maps = np.empty(fix.shape, np.uint16)
        for i, (t, frame) in enumerate(zip(batch.index, fix)):
            ys, xs = np.nonzero(frame)
            self.empty += len(ys) == 0
            self.points.append(np.stack([np.full_like(ys, t), ys, xs], axis=1))
            blurred = batch.data[i, 0].astype(np.float64) if self.counts else frame
            smap = gtlib.saliency_map(blurred, self.recipe["sigma"], self.recipe["truncate"],
                                      border=self.recipe["border"], shift=self.recipe["shift"])
            maps[i] = gtlib.quantize_unit(smap)
            if self.compare and self.shipped and len(ys):
                self.ccs.append(cc(smap, batch.data[i, 1]))
        out = {"fixations": fix.astype(np.uint8), "maps": maps}
        if self.shipped:
            out["shipped_maps"] = batch.data[:, 1]
        return out

    def finish(self, shard) -> None:
        shard.put("fixation_points", np.concatenate(self.points).astype(np.int32))
        shard.attrs["empty_frames"] = int(self.empty)
        if self.ccs:
            shard.attrs["shipped_cc_mean"] = float(np.nanmean(self.ccs))


def _frames(fixation_frame, shipped: list[Path], n: int, shape: tuple[int, int], size_note: str = ""):
    """(1 or 2, H, W) uint8 per frame: the fixation map, and the published map when there is one
    (0..255 by its bit depth, :func:`~salprep.image_frames.read_map_image`); ``size_note``: the
    video's rotation, for a size message (``VideoInfo.size_note()``)."""
    for t in range(n):
        fix = fixation_frame(t).astype(np.uint8)
        if not shipped:
            yield fix[None]
            continue
        published = read_map_image(shipped[t])
        if published.shape != shape:
            raise SalprepError(f"published map is {published.shape[1]}x{published.shape[0]}, "
                               f"the video is {shape[1]}x{shape[0]}{size_note}", shipped[t])
        yield np.stack([fix, published])


def gt_source_files(root, layout: str, video: str, fixations: str, shipped: bool, n_frames: int,
                    shape: tuple[int, int]) -> list[Path]:
    """The annotation files a GT shard's ``source_sha256`` covers, as :func:`build_gt` hashes
    them (the adapter's fixation sources, plus the published maps if the shard holds them)."""
    ds = open_dataset(layout, root)
    info = FrameInfo(n_frames, shape[1], shape[0], ds.frame_rate(video) or 0.0)
    files = list(ds.fixations(video, info, fixations).sources)
    return files + (list(ds.shipped_map_files(video)) if shipped else [])


def gt_shard_sources(shard) -> list[Path] | None:
    """The annotation files an open GT shard's ``source_sha256`` covers, found from its
    attributes (``dataset_root``, the ``layout`` and ``fixations`` of its params, ``video``,
    ``n_frames``) through the layout's adapter (:func:`gt_source_files`); None when they cannot
    be found (unknown layout, annotations gone or unreadable). What ``salprep verify`` hands
    :func:`salprep.store.verify_shard` as ``annotation_sources``."""
    attrs = shard.attrs
    try:
        params = json.loads(attrs["params"])
        return gt_source_files(str(attrs["dataset_root"]), params["layout"], str(attrs["video"]),
                               params.get("fixations"), "shipped_maps" in shard, int(attrs["n_frames"]),
                               tuple(shard["maps"].shape[1:]))
    except (SalprepError, KeyError, TypeError, ValueError):
        return None


def build_gt(root, layout: str, video: str, out, *, dataset_name: str | None = None,
             preset: str | None = None, overrides: dict | None = None, fixations: str | None = None,
             cartesian: bool = False, compare: bool = False, shipped: bool = True) -> dict:
    """Build the GT shard of one video, from whatever the layout's adapter reads.

    Args:
        root, layout: the dataset on disk (:data:`salprep.datasets.LAYOUTS`).
        video: video id as in file names (DHF1K: ``"001"``; LEDOV: ``"animal_alpaca01"``).
        out: shard path.
        preset: GT recipe preset (default: the layout's); ``overrides``: see :func:`gt_recipe`.
        fixations: where the adapter reads fixations (its ``fixation_sources``; None: its
            default, e.g. DHF1K ``"png"`` or ``"gaze"``).
        cartesian: DHF1K ``gaze`` only: record_mapping.m's (y_i, x_j) quirk.
        compare: record and return the CC between built and published maps.
        shipped: copy the published maps into the shard when the dataset has them.

    Returns:
        summary: frames, fixated pixels, empty frames, dropped samples, CCs (one per frame with
        fixations, when ``compare`` and published maps), ``published`` (how many published maps
        were read: 0 without them or with ``shipped=False``).
    """
    ds = open_dataset(layout, root)
    ds.check_root()
    fixations = ds.check_source(fixations)
    video_path = ds.video_path(video)
    info = probe_video(video_path)
    shape = (info.height, info.width)
    frame_info = FrameInfo(info.frames, info.width, info.height, ds.frame_rate(video) or info.fps, info.size_note())
    options = {"cartesian": cartesian} if cartesian else {}
    fix = ds.fixations(video, frame_info, fixations, **options)
    if len(fix) != info.frames:
        raise SalprepError(f"{len(fix)} frames of fixations but the video decodes to {info.frames}",
                           ds.annotation_dir(video))
    published = ds.shipped_map_files(video) if shipped else []
    if published and len(published) != info.frames:
        raise SalprepError(f"{len(published)} published maps but the video decodes to {info.frames}",
                           published[0].parent)
    recipe = gt_recipe(preset or ds.gt_preset, overrides or {})
    params = {**recipe, "layout": layout, "fixations": fixations}
    if cartesian:
        params["cartesian"] = cartesian
    if fix.combine != "union":
        params["combine"] = fix.combine
    compute = _GTCompute(recipe, bool(published), compare, counts=fix.combine == "count")
    outputs = {"fixations": (shape, "uint8"), "maps": (shape, "uint16")}
    if published:
        outputs["shipped_maps"] = (shape, "uint8")
    sources = list(fix.sources)
    summary = run_stage(StageRun(
        stage="gt", out=Path(out), dataset=dataset_name or Path(root).name, video=video,
        n_frames=info.frames, source=str(sources[0].parent if sources else video_path),
        source_sha256=sha256_files(sources + published), params=params,
        frames=_frames(lambda t: fix.frame_map(t, shape), published, info.frames, shape, info.size_note()),
        sampler=EveryNth(1),
        compute=compute, outputs=outputs, batch_size=8,
        attrs={"dropped_out_of_frame": int(fix.dropped), "dataset_root": str(Path(root).resolve())},
        dataset_attrs={"maps": {"scale": gtlib.MAP_SCALE}}, finish=compute.finish,
        source_video=str(video_path),
    ))
    return {**summary, "fixated": int(sum(len(p) for p in compute.points)), "empty_frames": compute.empty,
            "dropped": int(fix.dropped), "ccs": compute.ccs, "published": len(published)}
