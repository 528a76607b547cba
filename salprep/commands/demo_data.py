"""``salprep demo-data``: write the synthetic demo dataset in DHF1K layout (DATASETS.md §8).

Generate a small synthetic eye-tracking video dataset, deterministic by seed, in the exact DHF1K
layout: video/NNN.AVI (MJPEG, 30 fps; train 001.., val 601.., test 701..),
annotation/NNNN/fixation/NNNN.png (binary, 255 = fixated), annotation/NNNN/maps/NNNN.png
(round(255 x Gaussian map), dhf1k preset: sigma 12.7398 px, no truncation),
annotation/NNNN/fixation/maps/NNNN.mat (variable I, uint8 0/1) for train and val videos, raw gaze
gaze_record/P%03d/P%03d_Trail%04d.txt (1440x900 screen coordinates) and a demo.json manifest written
last. Each video shows 2-4 moving textured objects on a panning textured background, watched by
12-17 simulated observers who mostly pursue the objects (the fastest most), with some centre bias.
The fixation maps are exactly what DHF1K's record_mapping.m makes of the gaze records; every frame
has a fixation except one deliberately empty frame in the first val video. Files appear under their
final names only when complete; an earlier demo in --out is replaced.
"""

from __future__ import annotations

import time

from salprep import demo
from salprep.errors import SalprepError


def register_parser(sub) -> None:
    p = sub.add_parser("demo-data", description=__doc__.split("\n\n", 1)[1],
                       help="generate the synthetic demo dataset (DHF1K layout)")
    p.add_argument("--out", metavar="DIR", help="dataset root to write (e.g. data/demo)")
    p.add_argument("--weights-out", metavar="DIR",
                   help="also (or only, without --out) write seeded random-init checkpoints in the original "
                   "file formats (SpyNet, ...) into DIR, each with a <file>.json sidecar saying random-init")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same dataset (default: 0)")
    p.add_argument("--train", type=int, default=4, metavar="N", help="number of training videos: 001, 002, ... (default: 4)")
    p.add_argument("--val", type=int, default=2, metavar="N", help="number of validation videos: 601, 602, ... (default: 2)")
    p.add_argument("--test", type=int, default=1, metavar="N",
                   help="number of test videos: 701, ...; video only, no annotation, as in DHF1K (default: 1)")
    p.add_argument("--frames", type=int, default=demo.DEFAULT_FRAMES, metavar="T",
                   help="frames per video; >= 100 leaves room for the LSTS/TASED/UNISAL clip windows, small "
                   "values are for tests (default: %(default)s)")
    p.add_argument("--size", default="{}x{}".format(*demo.DEFAULT_SIZE), metavar="WxH",
                   help="frame size; even numbers, width/height >= 1.6 as the video is letterboxed on a 1440x900 "
                   "screen; e.g. 160x90 for fast tests (default: %(default)s)")
    p.add_argument("--no-gaze", action="store_true",
                   help="do not write the raw gaze records (gaze_record/); the fixation maps stay the same")
    p.set_defaults(func=run, outputs=[("out", True), ("weights_out", True)])


def run(args) -> int:
    if not args.out and not args.weights_out:
        raise SalprepError("give --out (the dataset) and/or --weights-out (random-init checkpoints)")
    if args.weights_out:
        from salprep.demo.weights import write_random_checkpoints

        for name, path in write_random_checkpoints(args.weights_out, seed=args.seed).items():
            print(f"{path}: random-init {name} checkpoint (seed {args.seed})")
        if not args.out:
            return 0
    spec = demo.DemoSpec(
        seed=args.seed, train=args.train, val=args.val, test=args.test, frames=args.frames,
        size=demo.parse_size(args.size), gaze=not args.no_gaze,
    )
    start = time.perf_counter()
    manifest = demo.write_demo(args.out, spec)
    n_videos = len(manifest["videos"])
    n_ann = sum(1 for v in manifest["videos"] if v["split"] != "test")
    n_gaze = sum(len(v.get("observers", [])) for v in manifest["videos"]) if spec.gaze else 0
    print(
        f"{args.out}: {n_videos} videos ({spec.train} train, {spec.val} val, {spec.test} test), "
        f"{spec.frames} frames at {spec.size[0]}x{spec.size[1]}, {n_ann} annotated, {n_gaze} gaze records, "
        f"{len(manifest['empty_frames'])} empty frame(s), seed {spec.seed}, "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0
