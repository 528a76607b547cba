"""``salprep gt``: fixation maps + Gaussian GT maps of one video into ``store/<ds>/gt/<v>.h5``."""

from __future__ import annotations

import numpy as np

from salprep import gt as gtlib
from salprep.commands.stage_args import add_dataset_video_arguments


def register_parser(sub) -> None:
    p = sub.add_parser(
        "gt",
        help="build the ground-truth shard of one video (fixations + Gaussian maps)",
        description="Read the fixation maps of one video, check them against the decoded video, "
        "blur them into continuous saliency maps and write store/<dataset>/gt/<video>.h5 "
        "(datasets: fixations (T,H,W) uint8 0/1, maps (T,H,W) uint16 codes of [0,1] (attribute scale = 1/65535), "
        "fixation_points (N,3) int32 frame,y,x, and shipped_maps (T,H,W) uint8 when the dataset "
        "publishes maps: each on the 0..255 scale of its own bit depth, a 16-bit map as round(value*255/65535)). "
        "Frames are the video as displayed (rotation metadata applied). Sigma etc. default to the layout's preset "
        "(DATASETS.md).",
    )
    add_dataset_video_arguments(p)
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
    p.add_argument("--fixations", default=None,
                   help="where the layout's adapter reads fixations (default: its first source). dhf1k: png "
                   "(per-frame fixation PNGs) or gaze (the raw gaze_record/, mapped as record_mapping.m does; "
                   "out-of-frame samples are dropped with a warning giving their count); ledov: datamat; "
                   "hollywood, ucf: png; salicon: fixations or location")
    p.add_argument("--cartesian", action="store_true",
                   help="dhf1k --fixations gaze: reproduce record_mapping.m's every-(y_i, x_j) quirk")
    p.add_argument("--compare", action="store_true",
                   help="report the CC between built and published maps (mean/min over the frames with "
                   "fixations; a video without fixations, or without published maps, says so)")
    p.add_argument("--no-shipped", action="store_true", help="do not copy published maps into the shard")
    p.set_defaults(func=run, outputs=[("out", False)])


def run(args) -> int:
    from salprep.stages.gt import build_gt

    overrides = {"sigma": args.sigma, "fwhm": args.fwhm, "truncate": args.truncate, "border": args.border,
                 "shift": args.shift}
    result = build_gt(args.root, args.layout, args.video, args.out, dataset_name=args.dataset_name,
                      preset=args.preset, overrides=overrides, fixations=args.fixations,
                      cartesian=args.cartesian, compare=args.compare, shipped=not args.no_shipped)
    msg = f"{args.out}: {result['frames']} frames, {result['fixated']} fixated pixels"
    if result["empty_frames"]:
        msg += f", {result['empty_frames']} frame(s) without fixations"
    print(msg)
    if args.compare:
        ccs = result["ccs"]
        scored = [c for c in ccs if np.isfinite(c)]
        if scored:
            flat = len(ccs) - len(scored)
            print(f"CC(built, published) over {len(scored)} frames: mean {np.mean(scored):.4f}, "
                  f"min {np.min(scored):.4f}"
                  + (f" ({flat} frame(s) with fixations have a constant published map: no CC)" if flat else ""))
        elif ccs:
            print(f"no CC: the published map is constant (e.g. all zero) on all {len(ccs)} frames with fixations")
        elif args.no_shipped:
            print("published maps not read (--no-shipped): nothing compared")
        elif not result.get("published"):
            print("no published maps to compare with")
        else:
            print(f"no fixations in this video: nothing to compare the {result['published']} published "
                  "maps with")
    return 0
