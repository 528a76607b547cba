"""Pictures a person would rather look at than read: overlays, priors, score histograms."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def save_map_png(saliency: np.ndarray, path: str | Path, title: str = "") -> None:
    """A saliency map as a colour-mapped PNG with a colour bar."""
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


def loss_curve(history: list[float], path: str | Path, title: str = "", per_epoch: int | None = None) -> None:
    """Training loss per iteration (and its running mean), epochs marked when ``per_epoch`` is given."""
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
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_yscale("log" if len(values) and values.min() > 0 else "linear")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
