"""Pictures a person would rather look at than read: overlays, priors, score histograms, the
model comparison; and the labels of the HTML report (metric names, what each result file is).

matplotlib is imported when a picture is drawn: the labels are read at every Snakemake start.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from salprep.metrics import METRICS as SUMMARY_METRICS  # the six, in the benchmark's order


def _pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def save_map_png(saliency: np.ndarray, path: str | Path, title: str = "") -> None:
    """A saliency map as a colour-mapped PNG with a colour bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.9), dpi=100)
    im = ax.imshow(saliency, cmap="magma")
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def overlay_grid(
    frames: list[np.ndarray],
    predictions: list[np.ndarray],
    gt_maps: list[np.ndarray],
    fixations: list[np.ndarray],
    titles: list[str],
    path: str | Path,
) -> None:
    """One row per frame: prediction over the frame with GT fixations (dots), and the GT map.

    Args:
        frames: RGB uint8 (H, W, 3) each.
        predictions, gt_maps: float (h, w) maps, any scale; resized for display by imshow extent.
        fixations: (n, 2) int (y, x) fixated pixels per frame.
    """
    plt = _pyplot()
    n = len(frames)
    fig, axes = plt.subplots(n, 2, figsize=(10, 3.0 * n), dpi=90, squeeze=False)
    for row, (img, pred, gt, fix, title) in enumerate(zip(frames, predictions, gt_maps, fixations, titles)):
        h, w = img.shape[:2]
        for col, (heat, name) in enumerate(((pred, "prediction"), (gt, "ground truth"))):
            ax = axes[row, col]
            ax.imshow(img)
            ax.imshow(_normalise(heat), cmap="jet", alpha=0.45, extent=(0, w, h, 0))
            if col == 0 and len(fix):
                ax.scatter(fix[:, 1], fix[:, 0], s=9, c="white", edgecolors="black", linewidths=0.5)
            ax.set_title(f"{title} — {name}", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def metric_histograms(per_frame: list[dict], metrics: tuple[str, ...], path: str | Path, title: str = "") -> None:
    """Histogram of per-frame scores for each metric, mean marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3 * len(metrics), 2.8), dpi=90)
    for ax, name in zip(np.atleast_1d(axes), metrics):
        vals = np.array([r[name] for r in per_frame], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        if len(vals):
            ax.hist(vals, bins=30, color="steelblue")
            ax.axvline(vals.mean(), color="crimson", lw=1.5)
            ax.set_title(f"{name}\nmean {vals.mean():.3f}", fontsize=9)
        else:
            ax.set_title(f"{name}\n(no finite scores)", fontsize=9)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def loss_curve(history: list[float], path: str | Path, title: str = "", per_epoch: int | None = None,
               epochs: list[dict] | None = None) -> None:
    """Training loss per iteration (and its running mean), epochs marked when ``per_epoch`` is
    given; with ``epochs`` (:func:`salprep.train.fit`'s records) each epoch's mean training and
    validation loss as points at the epoch's last iteration."""
    plt = _pyplot()
    values = np.asarray(history, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.plot(np.arange(1, len(values) + 1), values, lw=0.8, alpha=0.5, label="loss")
    if len(values) >= 5:
        k = max(2, len(values) // 20)
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k, len(values) + 1), smooth, lw=1.6, label=f"mean of {k}")
    if per_epoch:
        for x in range(per_epoch, len(values), per_epoch):
            ax.axvline(x + 0.5, color="0.7", lw=0.6)
    lows = [values.min()] if len(values) else []
    if epochs and per_epoch:
        ends = [e["epoch"] * per_epoch for e in epochs]
        ax.plot(ends, [e["train_loss"] for e in epochs], "o-", ms=4, lw=1, label="epoch mean (train)")
        val = [(x, e["val_loss"]) for x, e in zip(ends, epochs) if e.get("val_loss") is not None]
        if val:
            ax.plot(*zip(*val), "s-", ms=4, lw=1, label="validation")
            lows.append(min(v for _, v in val))
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if lows and min(lows) > 0 else "linear")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: short column labels of the metrics (summary table, charts, report captions)
METRIC_LABELS = {"auc_judd": "AUC-J", "auc_shuffled": "sAUC", "nss": "NSS", "cc": "CC", "sim": "SIM", "kld": "KLD"}


#: what each file of results/<model>/ is, as the report lists it (``item`` = the file's stem
#: before ``_<split>``; see workflow/rules/common.smk's MODEL_REPORT_PATTERNS)
RESULT_ITEMS = {
    "metrics": "metrics",
    "per_video": "per-video scores (CSV)",
    "provenance": "provenance (JSON)",
    "loss": "training loss",
    "overlays": "overlays",
    "scores": "per-frame score histograms",
    "prior": "prior (centre-bias map)",
}


def result_labels(results_dir: str | Path, item: str, split: str | None = None, report_split: str = "val") -> dict:
    """The HTML report's labels of one file of ``results/<model>/``: what it is, and for
    ``metrics.json`` the ``report_split`` scores (AUC-J, sAUC, NSS, CC, SIM, KLD, frames), so the
    model's listing in the report reads as its metrics table. Values are strings (the report
    sorts and shows labels as text); an unreadable metrics.json gives dashes."""
    name = RESULT_ITEMS.get(item, item)
    if item == "metrics":
        split = report_split
    labels = {"result": f"{name} ({split})" if split else name}
    if item == "metrics":
        try:
            scores = json.loads((Path(results_dir) / "metrics.json").read_text()).get(report_split) or {}
        except (OSError, ValueError, AttributeError):
            scores = {}
        for key in SUMMARY_METRICS:
            value = scores.get(key)
            labels[METRIC_LABELS[key]] = "–" if not isinstance(value, (int, float)) else f"{value:.3f}"
        labels["frames"] = str(scores.get("n_frames", "–"))
    return labels


def _cell(value) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3f}"


def summary_markdown(rows: dict[str, dict], paper: dict[str, dict], split: str, note: str,
                     recipes: dict[str, dict] | None = None) -> str:
    """Markdown table: each model's ``split`` metrics beside the published DHF1K val numbers.

    Args:
        rows: model -> its metrics.json (split -> metric -> value), None where not built.
        paper: model -> published metrics (MODELS.md), may be empty.
        note: a line saying where the numbers come from (e.g. random-init features, synthetic data).
        recipes: model -> :func:`salprep.recipe.result_recipe` (``{"paper": bool, "deviations":
            {...}}``): a "recipe" column ("paper" or the number of deviations) and, under the
            table, each model's deviations, so no score is read as the paper's recipe when it
            is not. None: no column ("unknown").
    """
    recipes = recipes or {}
    head = "| model | " + " | ".join(METRIC_LABELS[m] for m in SUMMARY_METRICS) + " | frames | recipe | " \
        "published (DHF1K val) " + " / ".join(METRIC_LABELS[m] for m in ("auc_judd", "auc_shuffled", "nss", "cc", "sim")) \
        + " |"
    lines = [f"# Model comparison ({split})", "", note, "", head, "|" + "---|" * (len(SUMMARY_METRICS) + 4)]
    for model, metrics in rows.items():
        got = (metrics or {}).get(split, {})
        published = paper.get(model) or {}
        pub = " / ".join(_cell(published.get(m)) for m in ("auc_judd", "auc_shuffled", "nss", "cc", "sim")) \
            if published else "–"
        short = _short_scored(got)
        frames = f"{got.get('n_frames', '–')}{' †' if short else ''}"
        lines.append(f"| {model} | " + " | ".join(_cell(got.get(m)) for m in SUMMARY_METRICS)
                     + f" | {frames} | {_recipe_cell(recipes.get(model))} | {pub} |")
    partial = {m: _short_scored((r or {}).get(split, {})) for m, r in rows.items()}
    if any(partial.values()):
        lines += ["", "† some metrics are means over fewer frames (their scores are NaN on the others: "
                  "no fixations, a constant or non-finite prediction; METRICS.md):", ""]
        lines += [f"- {model}: " + ", ".join(f"{METRIC_LABELS[k]} over {n}" for k, n in short.items())
                  + f" of {rows[model][split]['n_frames']} frames" for model, short in partial.items() if short]
    deviating = {m: r for m, r in recipes.items() if m in rows and not r["paper"]}
    if deviating:
        lines += ["", "Deviations from the papers' recipes (results/recipe.json):", ""]
        from salprep.recipe import describe

        lines += [f"- {model}: {describe(result)}" for model, result in deviating.items()]
    return "\n".join(lines) + "\n"


def _short_scored(metrics: dict) -> dict:
    """metric -> frames in its mean, for the metrics whose mean is over fewer than n_frames."""
    k = metrics.get("n_frames")
    return {m: n for m, n in (metrics.get("n_scored") or {}).items() if k is not None and n < k}


def _recipe_cell(result: dict | None) -> str:
    if result is None:
        return "unknown"
    return "paper" if result["paper"] else f"{len(result['deviations'])} deviations"


def summary_chart(rows: dict[str, dict], split: str, path: str | Path, title: str = "") -> None:
    """Grouped bars of NSS, CC and SIM per model (the centre bias drawn as a reference line)."""
    plt = _pyplot()
    metrics = ("nss", "cc", "sim")
    models = list(rows)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), dpi=100)
    for ax, metric in zip(axes, metrics):
        values = [((rows[m] or {}).get(split, {}) or {}).get(metric) for m in models]
        values = [np.nan if v is None else v for v in values]
        colors = ["0.6" if m == "center_bias" else "C0" for m in models]
        ax.bar(range(len(models)), values, color=colors)
        base = ((rows.get("center_bias") or {}).get(split, {}) or {}).get(metric)
        if base is not None:
            ax.axhline(base, color="C3", lw=1, ls="--", label="center_bias")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=60, ha="right", fontsize=8)
        ax.set_title(METRIC_LABELS[metric])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
