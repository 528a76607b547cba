"""``salprep flow``: optical flow of one video into ``store/<ds>/flow_{tvl1,spynet}/<v>.h5``.

TV-L1 (LSTS recipe): frames resized to --size (112x112) in grey, flow of every consecutive pair
(T-1 entries, entry k = frame k -> k+1, ``frame_index`` 0..T-2), upsampled to --out-size
(224x224) with the vectors rescaled, clipped to +-bound px, scaled to [-1, 1] and stored as
int8 (``flow`` (T-1, 2, H, W), value = q * attrs["flow_scale"]; pixels = value * attrs["bound"]).

SpyNet (SalBCE recipe): the flow from frame k to k+1 for every --every-th frame k, RGB resized to
--size, stored as float16 pixels at that size (``flow`` (K, 2, H, W), ``frame_index`` (K,)).
"""

from __future__ import annotations

from salprep.commands.stage_args import add_stage_arguments
from salprep.errors import SalprepError
from salprep.stages.flow_spynet import build_flow_spynet
from salprep.stages.flow_tvl1 import TVL1_PARAMS, build_flow_tvl1
from salprep.stages.runner import DTYPES, defaults

TVL1 = defaults(build_flow_tvl1)
SPYNET = defaults(build_flow_spynet)


def register_parser(sub) -> None:
    p = sub.add_parser(
        "flow",
        help="optical flow of one video (TV-L1 or SpyNet) into a flow shard",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--method", required=True, choices=("tvl1", "spynet"))
    p.add_argument("--video", required=True, help="video file")
    add_stage_arguments(p, {"device": TVL1["device"]}, "frame pairs")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"frame pairs per batch (default: tvl1 {TVL1['batch_size']}, spynet {SPYNET['batch_size']})")
    p.add_argument("--size", default=None,
                   help=f"compute size WIDTHxHEIGHT (default: tvl1 {TVL1['size']}, spynet {SPYNET['size']})")
    t = p.add_argument_group("tvl1")
    t.add_argument("--out-size", default=TVL1["out_size"], help="stored size WIDTHxHEIGHT (default: %(default)s)")
    t.add_argument("--bound", type=float, default=TVL1["bound"], help="clip bound in px at the stored size "
                   "(default: %(default)s)")
    t.add_argument("--backend", choices=("torch", "opencv"), default=TVL1["backend"],
                   help="torch (batched, CPU/CUDA) or opencv (DualTVL1, one pair at a time; default: %(default)s)")
    for name, kind in TVL1_PARAMS.items():
        t.add_argument(f"--{name.rstrip('_').replace('_', '-')}", dest=name, type=kind, default=None,
                       help=f"OpenCV DualTVL1 {name} (default: OpenCV's)")
    s = p.add_argument_group("spynet")
    s.add_argument("--checkpoint", help="SpyNet checkpoint (network-*.pytorch)")
    s.add_argument("--every", type=int, default=SPYNET["every"], help="flow of every N-th frame (default: %(default)s)")
    s.add_argument("--dtype", choices=DTYPES, default=SPYNET["dtype"], help="autocast dtype (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    common = {"dataset_name": args.dataset_name, "video_id": args.video_id, "device": args.device}
    given = {k: v for k, v in (("batch_size", args.batch_size), ("size", args.size)) if v is not None}
    if args.method == "tvl1":
        summary = build_flow_tvl1(args.video, args.out, **common, **given, out_size=args.out_size,
                                  bound=args.bound, backend=args.backend,
                                  tvl1={name: getattr(args, name) for name in TVL1_PARAMS})
    else:
        if not args.checkpoint:
            raise SalprepError("--method spynet needs --checkpoint (a network-*.pytorch file)")
        summary = build_flow_spynet(args.video, args.out, args.checkpoint, **common, **given, every=args.every,
                                    dtype=args.dtype)
    print(f"{args.out}: {args.method} flow of {summary['frames']} frames ({summary['entries']} entries, "
          f"{summary['seconds']:.1f} s)")
    return 0
