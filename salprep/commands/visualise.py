"""``salprep visualise SHARD --out PNG``: a few frames of a flow or depth shard as one PNG grid.

Flow shards (flow_tvl1, flow_spynet) are drawn with torchvision's colour wheel (hue = direction,
saturation = magnitude, white = no motion; every panel on the scale of the largest vector shown,
the wheel as key); depth shards as the disparity through a colour map with one colour bar. The
frames shown are spread evenly over the shard's entries, first and last included. The shard is
only read.
"""

from __future__ import annotations


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def register_parser(sub) -> None:
    p = sub.add_parser("visualise", help="PNG grid of a few frames of a flow or depth shard",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("shard", help="a flow_tvl1, flow_spynet or depth shard (store/<ds>/<stage>/<v>.h5)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--frames", type=_positive, default=4, help="frames to show (default: %(default)s)")
    p.set_defaults(func=run, outputs=[("out", False)])


def run(args) -> int:
    from salprep.visualise import render_shard

    fig = render_shard(args.shard, args.out, frames=args.frames)
    what = f"saturated at {fig.scale:.3g} px" if fig.stage != "depth" else f"disparity {fig.low:.3g}..{fig.scale:.3g}"
    print(f"{fig.path}: {fig.stage} video {fig.video}, frames {', '.join(str(t + 1) for t in fig.frames)} "
          f"({what}), {fig.size[0]}x{fig.size[1]} px")
    return 0
