"""``salprep depth``: monodepth2 disparity of every N-th frame of one video.

Runs the network at the checkpoint's height x width (``mono_640x192``: 640x192), resizes the
scale-0 sigmoid disparity back to the frame and writes ``store/<ds>/depth/<v>.h5``:
``disparity`` (K, H, W) float16 in (0, 1) and ``frame_index`` (K,) = 0, N, 2N, ...
"""

from __future__ import annotations

from salprep.commands.stage_args import add_stage_arguments
from salprep.stages.depth import build_depth
from salprep.stages.runner import defaults

D = defaults(build_depth)


def register_parser(sub) -> None:
    p = sub.add_parser("depth", help="monodepth2 disparity of one video into a depth shard",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--video", required=True, help="video file")
    p.add_argument("--encoder", required=True, help="monodepth2 encoder.pth")
    p.add_argument("--decoder", required=True, help="monodepth2 depth.pth")
    add_stage_arguments(p, D, "frames")
    p.add_argument("--every", type=int, default=D["every"], help="disparity of every N-th frame (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    summary = build_depth(args.video, args.out, args.encoder, args.decoder, dataset_name=args.dataset_name,
                          video_id=args.video_id, device=args.device, dtype=args.dtype,
                          batch_size=args.batch_size, every=args.every)
    print(f"{args.out}: disparity of {summary['entries']} of {summary['frames']} frames ({summary['seconds']:.1f} s)")
    return 0
