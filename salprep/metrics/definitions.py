"""The six MIT saliency benchmark metrics, as the benchmark's MATLAB code computes them.

Definitions, conventions and edge cases follow ``METRICS.md`` (source of truth: the
``code_forMetrics`` MATLAB files of the MIT saliency benchmark, as shipped with DHF1K's
evaluation code). In short:

- Every map is a 2-D array (H, W). Predictions may have any real dtype (uint8, float32, ...);
  they are cast to float64 first (MATLAB doubles). Fixation and "other" maps mark pixels by
  value > 0 (bool or numeric); repeated fixations on one pixel count once.
- If the prediction's shape differs from the ground truth's, it is first resized to the GT shape
  with :func:`~salprep.metrics.matlab.resize_to` (MATLAB ``imresize``: bicubic, antialiased).
- ``eps`` is MATLAB's ``eps`` = 2**-52 (:data:`~salprep.metrics.matlab.EPS`); standard
  deviations are the sample ones (N - 1).
- NaN is returned where the MATLAB code produces 0/0 (the edge-case table of METRICS.md), and
  for a prediction (or GT map) that contains NaN or an infinity. Inputs are never modified.

Randomness: AUC-Judd's jitter and sAUC's splits take ``rng`` = None, an int seed or a
``numpy.random.Generator`` (anything ``np.random.default_rng`` accepts). Equal seeds give equal
scores. AUC-Judd consumes one ``Generator.random`` value per pixel (C order) when there is at
least one fixation; sAUC consumes ``n_splits`` random permutations of its k candidate negatives
(the stream of ``n_splits`` calls of ``Generator.permutation(k)``) unless it returns NaN first.
:func:`all_metrics` uses one generator in that order, the jitter first and then sAUC's splits,
so ``all_metrics(..., rng=seed)`` gives the same scores as ``auc_judd(..., rng=g)`` followed by
``auc_shuffled(..., rng=g)`` with ``g = np.random.default_rng(seed)``, and leaves a generator it
is given in the same state.

Each function here checks its inputs, prepares the maps (:class:`~salprep.metrics.maps.Map`)
and hands them to a kernel of the speed machinery (:mod:`~salprep.metrics.judd`,
:mod:`~salprep.metrics.sauc`, :mod:`~salprep.metrics.sums`), which returns the literal
definition's value faster (the machinery's docstrings say how, and by how much).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from salprep.metrics.judd import auc_judd_kernel
from salprep.metrics.maps import Map, Pair, marked
from salprep.metrics.sauc import auc_shuffled_kernel
from salprep.metrics.sums import cc_kernel, kld_kernel, nss_kernel, sim_kernel

__all__ = ["all_metrics", "auc_judd", "auc_shuffled", "cc", "kld", "nss", "sim"]

ArrayLike = npt.ArrayLike
Generatorish = Any  # None | int | np.random.Generator | anything np.random.default_rng accepts



#: the metric names, in the order tables and :func:`all_metrics` give them (the benchmark's)
METRICS = ("auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld")

def _check_splits(n_splits: int, step_size: float) -> tuple[int, float]:
    if int(n_splits) != n_splits or n_splits < 1:
        raise ValueError(f"n_splits must be a positive integer, got {n_splits!r}")
    step = float(step_size)
    if not (step > 0.0 and math.isfinite(step)):
        raise ValueError(f"step_size must be a positive finite number, got {step_size!r}")
    return int(n_splits), step


def auc_judd(
    saliency_map: ArrayLike, fixation_map: ArrayLike, jitter: bool = True, *, rng: Generatorish = None
) -> float:
    """AUC-Judd (MATLAB ``AUC_Judd.m`` with DHF1K's cast to double before the jitter).

    Every fixated pixel's (jittered, min-max normalised) value is a threshold; TP after the i-th
    highest threshold is i/n and FP is (pixels >= it - i)/(N - n), ties included as MATLAB does
    (not rank-averaged); the score is the trapezoidal area of that ROC curve.

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the fixation map's
            shape when the shapes differ.
        fixation_map: (H, W) bool or numeric; pixels > 0 are fixated.
        jitter: add U[0, 1) / 1e7 to every pixel before normalising (breaks ties of flat maps).
        rng: keyword-only (an addition to the contract's signature): seed or Generator for the
            jitter, consumed as one ``Generator.random`` value per pixel in C order (see the
            module docstring); unused when ``jitter`` is False or there is no fixation.

    Returns:
        Score in [0, 1]; NaN with no fixation, for a constant map without jitter, for a map
        containing NaN or inf, or when every pixel is fixated.
    """
    fix, shape = marked(fixation_map, None, "fixation_map")
    pred = Map(saliency_map, shape, "saliency_map", "pred")
    gen = np.random.default_rng(rng) if jitter and fix.size else None
    return auc_judd_kernel(pred, fix, bool(jitter), gen)


def auc_shuffled(
    saliency_map: ArrayLike,
    fixation_map: ArrayLike,
    other_map: ArrayLike,
    n_splits: int = 100,
    step_size: float = 0.1,
    rng: Generatorish = None,
) -> float:
    """Shuffled AUC (MATLAB ``AUC_shuffled.m``).

    Positives: the min-max normalised prediction at the fixated pixels (n). Negatives: per split,
    m = min(n, k) of the k pixels marked in ``other_map``, drawn without replacement. Thresholds
    are MATLAB's ``0:step_size:M`` (M = that split's largest positive or negative), TP and FP are
    the shares of positives and negatives >= each threshold; the score is the mean over splits of
    the trapezoidal ROC area.

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the fixation map's
            shape when the shapes differ.
        fixation_map: (H, W) bool or numeric; pixels > 0 are fixated.
        other_map: (H, W) bool or numeric (e.g. fixation counts of other frames); pixels > 0 are
            the candidate negatives (counts do not matter).
        n_splits: number of random negative sets (positive int).
        step_size: threshold step (> 0).
        rng: seed or Generator; the splits use ``n_splits`` permutations of the k candidates.

    Returns:
        Score in [0, 1]; NaN with no fixation, no candidate negative, or a constant (or
        NaN/inf-containing) prediction.
    """
    n_splits, step = _check_splits(n_splits, step_size)
    fix, shape = marked(fixation_map, None, "fixation_map")
    other, _ = marked(other_map, shape, "other_map")
    pred = Map(saliency_map, shape, "saliency_map", "pred")
    return auc_shuffled_kernel(pred, fix, other, n_splits, step, np.random.default_rng(rng))


def nss(saliency_map: ArrayLike, fixation_map: ArrayLike) -> float:
    """Normalized Scanpath Saliency (MATLAB ``NSS.m``).

    Mean over the fixated pixels of (S - mean(S)) / std(S), std with N - 1.

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the fixation map's
            shape when the shapes differ.
        fixation_map: (H, W) bool or numeric; pixels > 0 are fixated (each pixel once).

    Returns:
        Unbounded score (0 = chance); NaN with no fixation or a constant (or NaN/inf-containing) map.
    """
    fix, shape = marked(fixation_map, None, "fixation_map")
    return nss_kernel(Map(saliency_map, shape, "saliency_map", "pred"), fix)


def cc(saliency_map: ArrayLike, gt_map: ArrayLike) -> float:
    """Pearson linear correlation coefficient between prediction and GT map (MATLAB ``CC.m``).

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the GT's shape when
            the shapes differ.
        gt_map: (H, W) continuous ground-truth saliency map, any real dtype and scale.

    Returns:
        Score in [-1, 1]; NaN when either map is constant (or contains NaN or inf).
    """
    return cc_kernel(Pair.of(saliency_map, gt_map))


def sim(saliency_map: ArrayLike, gt_map: ArrayLike) -> float:
    """Similarity / histogram intersection (MATLAB ``similarity.m``).

    Each map that is not all zero is min-max normalised, then divided by its sum;
    SIM = sum of the pixelwise minimum.

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the GT's shape when
            the shapes differ.
        gt_map: (H, W) continuous ground-truth saliency map, any real dtype and scale.

    Returns:
        Score in [0, 1]; 0 when a map is all zero; NaN when a map is constant and non-zero (or
        contains NaN or inf).
    """
    return sim_kernel(Pair.of(saliency_map, gt_map))


def kld(saliency_map: ArrayLike, gt_map: ArrayLike) -> float:
    """KL divergence of the prediction from the GT map (MATLAB ``KLdiv.m``).

    P = S / sum(S) and Q = G / sum(G) (a zero map stays zero, no min-max);
    KLD = sum of Q * ln(eps + Q / (P + eps)), eps = 2**-52.

    Args:
        saliency_map: (h, w) prediction, expected >= 0, any real dtype and scale; resized to the
            GT's shape when the shapes differ.
        gt_map: (H, W) continuous ground-truth saliency map, expected >= 0.

    Returns:
        Score >= about -N*eps (0 = identical maps, lower is better); NaN when a map contains NaN or inf.
    """
    return kld_kernel(Pair.of(saliency_map, gt_map))


def all_metrics(
    saliency_map: ArrayLike,
    fixation_map: ArrayLike,
    gt_map: ArrayLike,
    other_map: ArrayLike,
    *,
    rng: Generatorish = None,
    jitter: bool = True,
    n_splits: int = 100,
    step_size: float = 0.1,
) -> dict[str, float]:
    """All six metrics of one frame, sharing the casts, resize and statistics between them.

    The values are identical to calling :func:`auc_judd`, :func:`auc_shuffled`, :func:`nss`,
    :func:`cc`, :func:`sim` and :func:`kld` separately. ``rng`` becomes one Generator
    (``np.random.default_rng(rng)``) that AUC-Judd's jitter uses first and sAUC's splits second,
    so ``all_metrics(..., rng=seed)`` equals ``auc_judd(..., rng=g)`` then
    ``auc_shuffled(..., rng=g)`` with ``g = np.random.default_rng(seed)``.

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized once to the GT shape.
        fixation_map: (H, W) bool or numeric binary fixation map (AUC-Judd, sAUC, NSS).
        gt_map: (H, W) continuous GT saliency map (CC, SIM, KLD).
        other_map: (H, W) bool or numeric; pixels > 0 are sAUC's candidate negatives.
        rng, jitter, n_splits, step_size: as in :func:`auc_judd` and :func:`auc_shuffled`.

    Returns:
        {"auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld"} -> float (NaN per the edge cases).
    """
    n_splits, step = _check_splits(n_splits, step_size)
    fix, shape = marked(fixation_map, None, "fixation_map")
    other, _ = marked(other_map, shape, "other_map")
    if np.shape(gt_map) != shape:
        raise ValueError(f"gt_map has shape {np.shape(gt_map)}, expected {shape} (the fixation map's)")
    pred = Map(saliency_map, shape, "saliency_map", "pred")
    pair = Pair(pred, Map(gt_map, None, "gt_map", "gt", sparse_ok=True))
    gen = np.random.default_rng(rng)
    return {
        "auc_judd": auc_judd_kernel(pred, fix, bool(jitter), gen),
        "auc_shuffled": auc_shuffled_kernel(pred, fix, other, n_splits, step, gen),
        "nss": nss_kernel(pred, fix),
        "cc": cc_kernel(pair),
        "sim": sim_kernel(pair),
        "kld": kld_kernel(pair),
    }
