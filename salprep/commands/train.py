"""``salprep train``: fit a model on the training split's shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from salprep.atomic import atomic_output
from salprep.baselines import center_bias_prior
from salprep.provenance import parse_config_json, shard_record

MODELS = ("center_bias",)


def register_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from store shards",
        description="Train MODEL on the training split. center_bias: the mean continuous GT map "
        "over every training frame, saved as prior.npz in --out-dir.",
    )
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--gt", nargs="+", required=True, metavar="SHARD", help="training GT shards")
    p.add_argument("--out-dir", required=True, help="results/<model>")
    p.add_argument("--config-json", default=None, help="effective workflow config, for provenance")
    p.set_defaults(func=run)


def run(args) -> int:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prior = center_bias_prior(args.gt)
    meta = {
        "model": "center_bias",
        "weights": "none",
        "train_shards": [shard_record(p) for p in args.gt],
        "config": parse_config_json(args.config_json),
    }
    with atomic_output(out / "prior.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, prior=prior.astype(np.float32), meta=json.dumps(meta))
    print(f"{out / 'prior.npz'}: mean GT map of {len(args.gt)} videos, {prior.shape[1]}x{prior.shape[0]}")
    return 0
