"""``salprep gt``: fixation maps + Gaussian GT maps of one video into ``store/<ds>/gt/<v>.h5``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from salprep.progress import progress

from salprep import gt as gtlib
from salprep.datasets import LAYOUTS, open_dataset
from salprep.datasets.dhf1k import read_gray_png
from salprep.errors import SalprepError
from salprep.store import sha256_files, stage_version, write_shard
from salprep.video import probe_video

log = logging.getLogger(__name__)

MAP_SCALE = 1.0 / 65535


def register_parser(sub) -> None:
    p = sub.add_parser(
        "gt",
        help="build the ground-truth shard of one video (fixations + Gaussian maps)",
        description="Read the fixation maps of one video, check them against the decoded video, "
        "blur them into continuous saliency maps and write store/<dataset>/gt/<video>.h5 "
        "(datasets: fixations (T,H,W) uint8 0/1, maps (T,H,W) uint16 codes of [0,1] (attribute scale = 1/65535), "
        "fixation_points (N,3) int32 frame,y,x, and shipped_maps (T,H,W) uint8 when the dataset "
        "publishes maps). Sigma etc. default to the layout's preset (DATASETS.md).",
    )
    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--layout", default="dhf1k", choices=sorted(LAYOUTS), help="on-disk layout")
    p.add_argument("--video", required=True, help="video id as in the file name (DHF1K: 001)")
    p.add_argument("--out", required=True, help="output shard path (.h5)")
    p.add_argument("--dataset-name", default=None, help="dataset name recorded in the shard")
    p.add_argument("--preset", default=None, choices=sorted(gtlib.GT_PRESETS),
                   help="GT recipe preset (default: the layout's)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sigma", type=float, help="Gaussian sigma in px (overrides the preset)")
    g.add_argument("--fwhm", type=float, help="Gaussian FWHM in px (sigma = fwhm / 2.3548)")
    p.add_argument("--truncate", type=float, default=None,
                   help="kernel radius in sigmas; 0 = no truncation (default: preset)")
    p.add_argument("--border", choices=gtlib.BORDERS, default=None, help="border mode (default: preset)")
    p.add_argument("--shift", type=int, default=None, help="peak shift in px right+down (DHF1K as coded: 2)")
    p.add_argument("--fixations", choices=("png", "gaze"), default="png",
                   help="fixation source: the per-frame fixation PNGs (default) or the raw gaze records "
                   "(DHF1K gaze_record/, mapped as record_mapping.m does; out-of-frame samples are "
                   "dropped with a warning giving their count)")
    p.add_argument("--cartesian", action="store_true",
                   help="with --fixations gaze: reproduce record_mapping.m's every-(y_i, x_j) quirk")
    p.add_argument("--compare", action="store_true",
                   help="report the CC between built and published maps (per frame mean/min)")
    p.add_argument("--no-shipped", action="store_true", help="do not copy published maps into the shard")
    p.set_defaults(func=run)


def gt_params(args, preset_name: str) -> dict:
    preset = dict(gtlib.GT_PRESETS[preset_name])
    if args.sigma is not None:
        preset["sigma"] = args.sigma
    if args.fwhm is not None:
        preset["sigma"] = gtlib.fwhm_to_sigma(args.fwhm)
    if args.truncate is not None:
        preset["truncate"] = None if args.truncate == 0 else args.truncate
    if args.border is not None:
        preset["border"] = args.border
    if args.shift is not None:
        preset["shift"] = args.shift
    return {"preset": preset_name, **preset}


def _fixation_source(args, ds, info, shape):
    """(frame -> bool (H, W) fixation map, source files, out-of-frame samples dropped)."""
    if args.fixations == "png":
        files = ds.fixation_files(args.video)
        if len(files) != info.frames:
            raise SalprepError(f"{len(files)} fixation frames but the video decodes to {info.frames}",
                               files[0].parent)
        return (lambda t: ds.read_fixation_file(files[t], shape)), files, 0
    from salprep.datasets.dhf1k_gaze import read_video_gaze

    gaze = read_video_gaze(args.root, args.video, info.frames, shape, fps=info.fps or 30.0,
                           cartesian=args.cartesian)
    if gaze.n_dropped:
        log.warning("%s: %d fixation samples outside the %dx%d frame dropped (of %d observers' records)",
                    args.video, gaze.n_dropped, shape[1], shape[0], len(gaze.observers))
    return gaze.fixation_map, list(gaze.files), gaze.n_dropped


def run(args) -> int:
    from salprep.metrics import cc

    ds = open_dataset(args.layout, args.root)
    video_path = ds.video_path(args.video)
    info = probe_video(video_path)
    shape = (info.height, info.width)
    fixation_frame, sources, dropped = _fixation_source(args, ds, info, shape)
    shipped = [] if args.no_shipped else ds.shipped_map_files(args.video)
    if shipped and len(shipped) != info.frames:
        raise SalprepError(f"{len(shipped)} published maps but the video decodes to {info.frames}",
                           shipped[0].parent)
    params = gt_params(args, args.preset or ds.gt_preset)
    params["layout"] = args.layout
    params["fixations"] = args.fixations
    if args.fixations == "gaze":
        params["cartesian"] = args.cartesian
    T = info.frames
    ccs: list[float] = []
    empty_frames = 0
    with write_shard(
        args.out,
        stage="gt",
        dataset=args.dataset_name or Path(args.root).name,
        video=args.video,
        n_frames=T,
        source_sha256=sha256_files(sources + shipped),
        params={**params, "stage_version": stage_version("gt")},
        weights="none",
    ) as shard:
        shard.attrs["source_video"] = str(Path(video_path).resolve())
        fix_ds = shard.create_frames("fixations", (T, *shape), np.uint8)
        map_ds = shard.create_frames("maps", (T, *shape), np.uint16)
        map_ds.attrs["scale"] = MAP_SCALE  # value = code * scale; error <= 7.6e-6, ~15x smaller than float32
        shp_ds = shard.create_frames("shipped_maps", (T, *shape), np.uint8) if shipped else None
        points = []
        for t in progress(range(T), desc=f"gt {args.video}", unit="frame", leave=False):
            fix = fixation_frame(t)
            ys, xs = np.nonzero(fix)
            empty_frames += len(ys) == 0
            points.append(np.stack([np.full_like(ys, t), ys, xs], axis=1))
            smap = gtlib.saliency_map(
                fix, params["sigma"], params["truncate"], border=params["border"], shift=params["shift"]
            )
            fix_ds[t] = fix
            map_ds[t] = np.round(smap * (1 / MAP_SCALE)).astype(np.uint16)
            if shp_ds is not None:
                published = read_gray_png(shipped[t])
                if published.shape != shape:
                    raise SalprepError(f"published map is {published.shape[1]}x{published.shape[0]}, "
                                       f"the video is {info.width}x{info.height}", shipped[t])
                shp_ds[t] = published
                if args.compare and len(ys):
                    ccs.append(cc(smap, published))
        shard.put("fixation_points", np.concatenate(points).astype(np.int32))
        shard.attrs["empty_frames"] = int(empty_frames)
        shard.attrs["dropped_out_of_frame"] = int(dropped)
        if ccs:
            shard.attrs["shipped_cc_mean"] = float(np.nanmean(ccs))
    msg = f"{args.out}: {T} frames, {sum(len(p) for p in points)} fixated pixels"
    if empty_frames:
        msg += f", {empty_frames} frame(s) without fixations"
    print(msg)
    if args.compare:
        if ccs:
            print(f"CC(built, published) over {len(ccs)} frames: mean {np.nanmean(ccs):.4f}, "
                  f"min {np.nanmin(ccs):.4f}")
        else:
            print("no published maps to compare with")
    return 0
