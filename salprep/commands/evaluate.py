"""``salprep evaluate``: score a model on GT shards with the DHF1K protocol."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from salprep.atomic import atomic_output
from salprep.errors import SalprepError
from salprep.provenance import parse_config_json, write_provenance
from salprep.store import open_shard, read_scaled
from salprep.video import iter_frames

MODELS = ("center_bias",)


def register_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model's predictions against GT shards (DHF1K protocol)",
        description="Score MODEL on one or more splits of GT shards with the DHF1K evaluation "
        "protocol (METRICS.md) and write metrics.json (one object per split), per_video.csv, "
        "per_frame.csv, provenance.json, score histograms and overlay images into --out-dir.",
    )
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--checkpoint", required=True, help="model file (center_bias: prior.npz)")
    p.add_argument("--split", nargs="+", action="append", required=True, metavar=("NAME", "SHARD"),
                   help="a split name followed by its GT shards; repeat for several splits")
    p.add_argument("--out-dir", required=True, help="results/<model>")
    p.add_argument("--max-frames", type=int, default=50_000, help="random subsample above this many frames")
    p.add_argument("--n-other", type=int, default=10, help="frames merged into the sAUC other map")
    p.add_argument("--n-splits", type=int, default=100, help="sAUC random splits")
    p.add_argument("--gt-maps", choices=("auto", "shipped", "built"), default="auto",
                   help="continuous GT for CC/SIM/KLD: published maps (auto: when present) or built")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel videos (Dask threads)")
    p.add_argument("--overlays", type=int, default=4, help="overlay images per split (0: none)")
    p.add_argument("--config-json", default=None, help="effective workflow config, for provenance")
    p.set_defaults(func=run)


def load_predictor(model: str, checkpoint: str):
    from salprep.evaluate import PriorPredictor

    path = Path(checkpoint)
    if not path.exists():
        raise SalprepError("checkpoint not found", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            prior = npz["prior"]
            meta = json.loads(str(npz["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise SalprepError(f"not a center_bias prior.npz ({exc.__class__.__name__}: {exc})", path) from None
    return PriorPredictor(prior), meta


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _overlays(split: str, index, predictor, n: int, out: Path) -> Path | None:
    from salprep.report import overlay_grid

    if n <= 0:
        return None
    rng = np.random.default_rng(0)
    picks = [(v, int(rng.integers(v.n_frames))) for v in index[:n]]
    while len(picks) < n and index:
        v = index[int(rng.integers(len(index)))]
        picks.append((v, int(rng.integers(v.n_frames))))
    frames, preds, gts, fixes, titles = [], [], [], [], []
    for video, t in picks:
        with open_shard(video.path, "gt") as h5:
            source = h5.attrs.get("source_video")
            gts.append(read_scaled(h5["maps"], t))
        if source is None or not Path(source).exists():
            continue
        for k, img in enumerate(iter_frames(source)):
            if k == t:
                frames.append(img)
                break
        preds.append(predictor.predict(video, np.array([t]))[0])
        fixes.append(video.frame_points(t))
        titles.append(f"{split} video {video.video} frame {t + 1}")
    if not frames:
        return None
    path = out / f"overlays_{split}.png"
    overlay_grid(frames, preds, gts[: len(frames)], fixes, titles, path)
    return path


def _json_safe(value):
    """NaN is not JSON: write null for a metric no frame could score."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run(args) -> int:
    from salprep.evaluate import METRICS, evaluate_split
    from salprep.report import metric_histograms, save_map_png

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictor, train_meta = load_predictor(args.model, args.checkpoint)
    metrics, per_video, per_frame, all_shards = {}, [], [], []
    for split_args in args.split:
        if len(split_args) < 2:
            raise SalprepError(f"--split {split_args[0]} names no GT shards")
        name, shards = split_args[0], split_args[1:]
        all_shards += shards
        result = evaluate_split(
            shards, predictor, max_frames=args.max_frames, n_other=args.n_other, n_splits=args.n_splits,
            gt_maps=args.gt_maps, seed=args.seed, workers=args.workers,
        )
        metrics[name] = result["summary"]
        per_video += [{"split": name, "video": v, **s} for v, s in result["per_video"].items()]
        per_frame += [{"split": name, **r} for r in result["per_frame"]]
        metric_histograms(result["per_frame"], METRICS, out / f"scores_{name}.png",
                          title=f"{args.model} on {name}: per-frame scores")
        _overlays(name, result["index"], predictor, args.overlays, out)
        line = ", ".join(f"{m} {result['summary'][m]:.4f}" for m in METRICS)
        print(f"{args.model} {name} ({result['summary']['n_frames']} frames): {line}")
    _write_csv(out / "per_video.csv", per_video)
    _write_csv(out / "per_frame.csv", per_frame)
    write_provenance(
        out / "provenance.json",
        config=parse_config_json(args.config_json),
        shards=all_shards,
        weights=train_meta.get("weights", "none"),
        extra={"model": args.model, "checkpoint": str(args.checkpoint), "train": train_meta,
               "protocol": {"max_frames": args.max_frames, "n_other": args.n_other,
                            "n_splits": args.n_splits, "gt_maps": args.gt_maps, "seed": args.seed}},
    )
    checkpoint = Path(args.checkpoint)
    if checkpoint.resolve() != (out / checkpoint.name).resolve():
        shutil.copy2(checkpoint, out / checkpoint.name)
    if args.model == "center_bias":
        save_map_png(predictor.prior, out / "prior.png", title="centre-bias prior (mean training GT map)")
    with atomic_output(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(_json_safe(metrics), indent=2, sort_keys=True) + "\n")
    return 0
