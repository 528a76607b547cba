"""``salprep frames``: RGB frames of one video at a model's input size into ``store/<ds>/frames/<v>.h5``.

Every --every-th frame, resized to --size (SalBCE: 256x192): ``frames`` (K, H, W, 3) uint8 and
``frame_index`` (K,). Image models train from these shards instead of decoding videos.
"""

from __future__ import annotations

from salprep.commands.stage_args import add_stage_arguments
from salprep.stages.frames import build_frames
from salprep.stages.runner import defaults

D = defaults(build_frames)


def register_parser(sub) -> None:
    p = sub.add_parser("frames", help="RGB frames of one video at a model's input size into a frames shard",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--video", required=True, help="video file")
    add_stage_arguments(p, D, "frames")
    p.add_argument("--size", default=D["size"], help="WIDTHxHEIGHT (default: %(default)s)")
    p.add_argument("--every", type=int, default=D["every"], help="every N-th frame (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    summary = build_frames(args.video, args.out, dataset_name=args.dataset_name, video_id=args.video_id,
                           size=args.size, every=args.every)
    print(f"{args.out}: {summary['entries']} of {summary['frames']} frames ({summary['seconds']:.1f} s)")
    return 0
