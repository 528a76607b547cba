"""``salprep evaluate``: score a model on GT shards with the DHF1K protocol."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from salprep.atomic import atomic_output
from salprep.errors import SalprepError
from salprep.provenance import parse_config_json, write_provenance
from salprep.store import open_shard, read_scaled
from salprep.video import iter_frames

def register_parser(sub) -> None:
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
    p.add_argument("--max-frames", type=int, default=50_000, help="random subsample above this many frames")
    p.add_argument("--n-other", type=int, default=10, help="frames merged into the sAUC other map")
    p.add_argument("--n-splits", type=int, default=100, help="sAUC random splits")
    p.add_argument("--gt-maps", choices=("auto", "shipped", "built"), default="auto",
                   help="continuous GT for CC/SIM/KLD: published maps (auto: when present) or built")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="videos scored in parallel (local Dask workers; default: all cores)")
    p.add_argument("--scheduler", default="processes", metavar="NAME|ADDRESS",
                   help="Dask scheduler: processes (local worker processes, default), threads, sync "
                   "(serial), or the address of a dask.distributed scheduler (tcp://host:8786) whose "
                   "workers see the same paths; the scores are the same on each")
    p.add_argument("--overlays", type=int, default=4, help="overlay images per split (0: none)")
    p.add_argument("--config-json", default=None, help="effective workflow config, for provenance")
    p.set_defaults(func=run, outputs=[("out_dir", True)])


def load_predictor(model: str, checkpoint: str, device: str = "cpu"):
    """(predictor, training record) of a registered model's trained file."""
    from salprep.evaluate import PriorPredictor
    from salprep.models.registry import get_model

    path = Path(checkpoint)
    if not path.exists():
        raise SalprepError("checkpoint not found", path)
    spec = get_model(model)
    if spec.family != "prior":
        from salprep.device import resolve_device
        from salprep.models.predictor import DecoderPredictor, load_model_file

        dev = resolve_device(device)
        found, net, state = load_model_file(path, dev)
        if found.name != model:
            raise SalprepError(f"this model.pt is of model {found.name!r}, not {model!r}", path)
        weights = state.get("features_weights") or ["none"]
        return DecoderPredictor(found, net, dev, source=path), {"model": model, "weights": "+".join(weights),
                                                   "settings": state.get("settings")}
    import torch

    from salprep.checkpoints import read_checkpoint, require_finite

    state = read_checkpoint(path, "center_bias model.pt")
    if state.get("model") != "center_bias" or "prior" not in state:
        raise SalprepError(f"not a center_bias model.pt (model {state.get('model')!r})", path)
    prior = state["prior"]
    if not isinstance(prior, torch.Tensor) or prior.ndim != 2 or not prior.is_floating_point() or min(prior.shape) < 1:
        found = f"{tuple(prior.shape)} {prior.dtype}" if isinstance(prior, torch.Tensor) else type(prior).__name__
        raise SalprepError(f"unusable center_bias model.pt: prior must be a float (H, W) map, found {found}", path)
    require_finite({"prior": prior}, "center_bias model.pt", path)
    try:
        meta = json.loads(str(state.get("meta", "{}")))
    except ValueError as exc:
        raise SalprepError(f"unusable center_bias model.pt: meta is not JSON ({exc})", path) from None
    if not isinstance(meta, dict):
        raise SalprepError("unusable center_bias model.pt: meta is not a JSON object", path)
    return PriorPredictor(prior.float().numpy()), meta


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _overlays(split: str, index, predictor, n: int, out: Path, seed: int) -> Path | None:
    """``n`` random frames (by ``seed``), each with its own video's GT map and fixations."""
    from salprep.report import overlay_grid

    if n <= 0 or not index:
        return None
    rng = np.random.default_rng([seed, 0x0E7])
    picks = [(v, int(rng.integers(v.n_frames))) for v in index[:n]]
    while len(picks) < n:
        v = index[int(rng.integers(len(index)))]
        picks.append((v, int(rng.integers(v.n_frames))))
    shown = []  # (frame, prediction, GT map, fixations, title), in pick order
    by_video: dict[int, list[int]] = {}
    for k, (video, _) in enumerate(picks):
        by_video.setdefault(id(video), []).append(k)
    images: dict[int, np.ndarray] = {}
    for ks in by_video.values():
        video = picks[ks[0]][0]
        with open_shard(video.path, "gt") as h5:
            source = h5.attrs.get("source_video")
        if source is None or not Path(source).exists():
            continue  # no frame to show for this video: none of its picks
        wanted = {picks[k][1]: k for k in ks}
        for t, img in enumerate(iter_frames(source)):  # one decode per video for all its picks
            if t in wanted:
                images[wanted[t]] = img
            if t >= max(wanted):
                break
    for k, (video, t) in enumerate(picks):
        if k not in images:
            continue
        with open_shard(video.path, "gt") as h5:
            gt_map = read_scaled(h5["maps"], t)
        shown.append((images[k], predictor.predict(video, np.array([t]))[0], gt_map, video.frame_points(t),
                      f"{split} video {video.video} frame {t + 1}"))
    if not shown:
        return None
    path = out / f"overlays_{split}.png"
    overlay_grid(*(list(column) for column in zip(*shown)), path)
    return path


def _flat(scores: dict) -> dict:
    """A per-video row for the CSV: ``n_scored`` spread into ``n_scored_<metric>`` columns."""
    row = {k: v for k, v in scores.items() if k != "n_scored"}
    return {**row, **{f"n_scored_{m}": n for m, n in scores["n_scored"].items()}}


def _json_safe(value):
    """NaN is not JSON: write null for a metric no frame could score."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _recipe(config: dict, model: str) -> dict:
    """Whether the scores are the papers' recipe (salprep.recipe.result_recipe), from the workflow
    config the run used; unknown without one (a bare `salprep evaluate`)."""
    if config.get("dataset") not in (config.get("datasets") or {}):
        return {"paper": None, "summary": "unknown: no workflow config with the dataset's entry (--config-json)"}
    from salprep.recipe import describe, recipe, result_recipe, run_overrides

    result = result_recipe(recipe(run_overrides(config)), model)
    return {**result, "summary": describe(result)}


def run(args) -> int:
    """Everything is written into a hidden temporary folder renamed to --out-dir at the end: a
    failed evaluation leaves no partial results/<model>/ (and an earlier one as it was)."""
    for option in ("max_frames", "n_other", "n_splits", "workers"):
        if getattr(args, option) < 1:
            raise SalprepError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    predictor, train_meta = load_predictor(args.model, args.checkpoint, args.device)
    with atomic_output(Path(args.out_dir), directory=True) as out:
        _evaluate(args, predictor, train_meta, out)
    return 0


def _evaluate(args, predictor, train_meta: dict, out: Path) -> None:
    from salprep.evaluate import METRICS, evaluate_split, nan_causes
    from salprep.report import metric_histograms, save_map_png

    metrics, per_video, per_frame, all_shards = {}, [], [], []
    for split_args in args.split:
        if len(split_args) < 2:
            raise SalprepError(f"--split {split_args[0]} names no GT shards")
        name, shards = split_args[0], split_args[1:]
        all_shards += shards
        result = evaluate_split(
            shards, predictor, max_frames=args.max_frames, n_other=args.n_other, n_splits=args.n_splits,
            gt_maps=args.gt_maps, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
        )
        metrics[name] = result["summary"]
        per_video += [{"split": name, "video": v, **_flat(s)} for v, s in result["per_video"].items()]
        for line in nan_causes(result["summary"], result["causes"]):
            print(f"salprep: warning: {args.model} {name}: {line}", file=sys.stderr)
        per_frame += [{"split": name, **r} for r in result["per_frame"]]
        metric_histograms(result["per_frame"], METRICS, out / f"scores_{name}.png",
                          title=f"{args.model} on {name}: per-frame scores")
        _overlays(name, result["index"], predictor, args.overlays, out, args.seed)
        line = ", ".join(f"{m} {result['summary'][m]:.4f}" for m in METRICS)
        print(f"{args.model} {name} ({result['summary']['n_frames']} frames): {line}")
    _write_csv(out / "per_video.csv", per_video)
    _write_csv(out / "per_frame.csv", per_frame)
    config = parse_config_json(args.config_json)
    write_provenance(
        out / "provenance.json",
        config=config,
        shards=all_shards,
        weights=train_meta.get("weights", "none"),
        extra={"model": args.model, "checkpoint": str(args.checkpoint), "train": train_meta,
               "recipe": _recipe(config, args.model),
               "protocol": {"max_frames": args.max_frames, "n_other": args.n_other,
                            "n_splits": args.n_splits, "gt_maps": args.gt_maps, "seed": args.seed}},
    )
    checkpoint = Path(args.checkpoint)
    kept = ("loss.png", "train.json") if args.model == "center_bias" else (checkpoint.name, "loss.png", "train.json")
    for name in kept:  # the model (not the prior: CONTRACT) and its training record
        source = checkpoint.parent / name
        if source.exists() and source.resolve() != (out / name).resolve():
            shutil.copy2(source, out / name)
    if args.model == "center_bias":
        save_map_png(predictor.prior, out / "prior.png", title="centre-bias prior (mean training GT map)")
    (out / "metrics.json").write_text(json.dumps(_json_safe(metrics), indent=2, sort_keys=True) + "\n")
