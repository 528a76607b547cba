"""A model's results folder (``results/<model>/``, CONTRACT.md): scores on each split with the
DHF1K protocol (:mod:`salprep.evaluate`), the per-video and per-frame tables, provenance with
the run's recipe, score histograms, overlays of predictions on frames, and the model's training
record. ``salprep evaluate`` parses its arguments and calls :func:`write_results`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from salprep.provenance import parse_config_json, write_provenance
from salprep.store import open_shard, read_scaled
from salprep.video import iter_frames


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def pick_overlays(split: str, index, predictor, n: int, out: Path, seed: int) -> Path | None:
    """``overlays_<split>.png`` of ``n`` random frames (by ``seed``; each video's first, then
    random videos), each frame with the prediction, its video's GT map and fixations; frames are
    decoded from each GT shard's source video (one decode per video); None when none is shown."""
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
    gt_maps: dict[int, np.ndarray] = {}
    for ks in by_video.values():
        video = picks[ks[0]][0]
        with open_shard(video.path, "gt") as h5:  # one open per video: its source and its picks' maps
            source = h5.attrs.get("source_video")
            if source is None or not Path(source).exists():
                continue  # no frame to show for this video: none of its picks
            gt_maps.update({k: read_scaled(h5["maps"], picks[k][1]) for k in ks})
        wanted = {picks[k][1]: k for k in ks}
        for t, img in enumerate(iter_frames(source)):  # one decode per video for all its picks
            if t in wanted:
                images[wanted[t]] = img
            if t >= max(wanted):
                break
    for k, (video, t) in enumerate(picks):
        if k not in images:
            continue
        shown.append((images[k], predictor.predict(video, np.array([t]))[0], gt_maps[k], video.frame_points(t),
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


def write_results(out: Path, *, model: str, checkpoint: str | os.PathLike, splits: list[tuple[str, list[str]]],
                  predictor, train_meta: dict, protocol: dict, scoring: dict, overlays: int = 4,
                  config_json: str | None = None) -> dict:
    """Score ``predictor`` on each (split name, GT shards) with the DHF1K protocol and write the
    results folder ``out`` (CONTRACT.md): metrics.json, per_video.csv, per_frame.csv,
    provenance.json, scores_<split>.png, overlays_<split>.png, the model's training record
    (model.pt of a decoder, loss.png, train.json) and prior.png of a prior. Prints one score line
    per split and one warning per cause of frames missing from a metric's mean.

    ``protocol``: :func:`salprep.evaluate.evaluate_split`'s scoring keywords, ``seed`` among them
    (it also draws the overlay frames; recorded in provenance); ``scoring``: where it runs
    (``workers``, ``scheduler``; not recorded).
    Returns metrics.json's content (split -> summary)."""
    from salprep.evaluate import METRICS, evaluate_split, nan_causes
    from salprep.models.predictor import PriorPredictor
    from salprep.report import metric_histograms, save_map_png

    metrics, per_video, per_frame, all_shards = {}, [], [], []
    for name, shards in splits:
        all_shards += shards
        result = evaluate_split(shards, predictor, **protocol, **scoring)
        metrics[name] = result["summary"]
        per_video += [{"split": name, "video": v, **_flat(s)} for v, s in result["per_video"].items()]
        for line in nan_causes(result["summary"], result["causes"]):
            print(f"salprep: warning: {model} {name}: {line}", file=sys.stderr)
        per_frame += [{"split": name, **r} for r in result["per_frame"]]
        metric_histograms(result["per_frame"], METRICS, out / f"scores_{name}.png",
                          title=f"{model} on {name}: per-frame scores")
        pick_overlays(name, result["index"], predictor, overlays, out, protocol["seed"])
        line = ", ".join(f"{m} {result['summary'][m]:.4f}" for m in METRICS)
        print(f"{model} {name} ({result['summary']['n_frames']} frames): {line}")
    _write_csv(out / "per_video.csv", per_video)
    _write_csv(out / "per_frame.csv", per_frame)
    config = parse_config_json(config_json)
    write_provenance(
        out / "provenance.json",
        config=config,
        shards=all_shards,
        weights=train_meta.get("weights", "none"),
        extra={"model": model, "checkpoint": str(checkpoint), "train": train_meta,
               "recipe": _recipe(config, model), "protocol": protocol},
    )
    checkpoint = Path(checkpoint)
    prior = isinstance(predictor, PriorPredictor)
    kept = ("loss.png", "train.json") if prior else (checkpoint.name, "loss.png", "train.json")
    for name in kept:  # the model (not the prior: CONTRACT) and its training record
        source = checkpoint.parent / name
        if source.exists() and source.resolve() != (out / name).resolve():
            shutil.copy2(source, out / name)
    if prior:
        save_map_png(predictor.prior, out / "prior.png", title="centre-bias prior (mean training GT map)")
    (out / "metrics.json").write_text(json.dumps(_json_safe(metrics), indent=2, sort_keys=True) + "\n")
    return metrics
