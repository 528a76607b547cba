"""``salprep evaluate``: score a model on GT shards with the DHF1K protocol.

Defaults are :func:`salprep.evaluate.evaluate_split`'s and :func:`salprep.results.write_results`'s
(the workflow's schema states the same: tests/test_defaults.py)."""

from __future__ import annotations

from pathlib import Path

from salprep.atomic import atomic_output
from salprep.errors import SalprepError

#: the protocol keywords of evaluate_split that results record (provenance) and the options set
PROTOCOL = ("max_frames", "n_other", "n_splits", "gt_maps", "seed")


def register_parser(sub) -> None:
    from salprep.evaluate import GT_MAPS, evaluate_split
    from salprep.results import write_results
    from salprep.stages.runner import defaults

    protocol, results = defaults(evaluate_split), defaults(write_results)
    p = sub.add_parser(
        "evaluate",
        help="score a model's predictions against GT shards (DHF1K protocol)",
        description="Score MODEL on one or more splits of GT shards with the DHF1K evaluation "
        "protocol (METRICS.md) and write metrics.json (one object per split), per_video.csv, "
        "per_frame.csv, provenance.json, score histograms and overlay images into --out-dir.",
    )
    p.add_argument("--model", required=True, help="a registered model (salprep.models.registry)")
    p.add_argument("--checkpoint", required=True, help="the model.pt written by salprep train")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (decoders)")
    p.add_argument("--split", nargs="+", action="append", required=True, metavar=("NAME", "SHARD"),
                   help="a split name followed by its GT shards; repeat for several splits")
    p.add_argument("--out-dir", required=True, help="results/<model>")
    p.add_argument("--max-frames", type=int, default=protocol["max_frames"],
                   help="random subsample above this many frames (default: %(default)s)")
    p.add_argument("--n-other", type=int, default=protocol["n_other"],
                   help="frames merged into the sAUC other map (default: %(default)s)")
    p.add_argument("--n-splits", type=int, default=protocol["n_splits"], help="sAUC random splits (default: %(default)s)")
    p.add_argument("--gt-maps", choices=GT_MAPS, default=protocol["gt_maps"],
                   help="continuous GT for CC/SIM/KLD: published maps (auto: when present) or built")
    p.add_argument("--seed", type=int, default=protocol["seed"])
    p.add_argument("--workers", type=int, default=protocol["workers"],
                   help="videos scored in parallel (local Dask workers; default: all cores)")
    p.add_argument("--scheduler", default=protocol["scheduler"], metavar="NAME|ADDRESS",
                   help="Dask scheduler: processes (local worker processes, default), threads, sync "
                   "(serial), or the address of a dask.distributed scheduler (tcp://host:8786) whose "
                   "workers see the same paths; the scores are the same on each")
    p.add_argument("--overlays", type=int, default=results["overlays"],
                   help="overlay images per split (0: none; default: %(default)s)")
    p.add_argument("--config-json", default=None, help="effective workflow config, for provenance")
    p.set_defaults(func=run, outputs=[("out_dir", True)])


def run(args) -> int:
    """Everything is written into a hidden temporary folder renamed to --out-dir at the end: a
    failed evaluation leaves no partial results/<model>/ (and an earlier one as it was)."""
    from salprep.models.predictor import load_predictor
    from salprep.results import write_results

    for option in ("max_frames", "n_other", "n_splits", "workers"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise SalprepError(f"--{option.replace('_', '-')} must be at least 1, got {value}")
    splits = []
    for split_args in args.split:
        if len(split_args) < 2:
            raise SalprepError(f"--split {split_args[0]} names no GT shards")
        splits.append((split_args[0], split_args[1:]))
    predictor, train_meta = load_predictor(args.model, args.checkpoint, args.device)
    with atomic_output(Path(args.out_dir), directory=True) as out:
        write_results(out, model=args.model, checkpoint=args.checkpoint, splits=splits, predictor=predictor,
                      train_meta=train_meta, protocol={k: getattr(args, k) for k in PROTOCOL},
                      scoring={"workers": args.workers, "scheduler": args.scheduler}, overlays=args.overlays,
                      config_json=args.config_json)
    return 0
