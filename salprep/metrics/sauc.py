"""Speed machinery of the shuffled AUC: all splits at once, on the fixated and candidate pixels only.

Why it exists: MATLAB's ``AUC_shuffled.m`` (and a literal port) loops over ``n_splits`` (100)
random negative sets and, in each, over every threshold of ``0:step:M``. Measured with
``benchmarks/metrics.py`` (360x640 frames, 2-core VM, two runs; median time per frame of the
literal port / salprep's): x10.4-12.8 with ~20 fixations (11-19 ms -> 1.1-1.4 ms), x3.4-3.5
with ~300 (23-24 ms -> 6.8-6.9 ms).

- Only the fixated and candidate pixels are normalised, never the frame.
- When no value lies (within 1e-12) on a multiple of the step, every split's MATLAB threshold
  list counts every value alike, and the summed areas reduce to one weight per candidate (from
  the positives' counts) summed over the splits' picks (:func:`_sauc_twice_area_one_grid`);
  otherwise each split gets its own list, vectorised over splits and thresholds.
- The trapezoids are summed in integer (count) units with a single final division.

The splits consume the generator as ``n_splits`` calls of ``Generator.permutation(k)`` would,
and the counts are exactly those of the literal loops; ``tests/test_metrics.py`` checks both
against ``benchmarks/metrics_reference.py`` (the line-by-line port of the MATLAB code).
"""

from __future__ import annotations

import math

import numpy as np

from salprep.metrics.maps import Map, arange, scratch
from salprep.metrics.matlab import colon, colon_grid

__all__ = ["auc_shuffled_kernel"]


def _sauc_twice_area_one_grid(pos: np.ndarray, cand: np.ndarray, sel: np.ndarray, step: float) -> int | None:
    """Sum over splits of twice sAUC's ROC area in count units, with one threshold list for all.

    ``pos``: the n normalised positives, ascending; ``cand``: the k normalised candidates;
    ``sel``: (splits, m) indices into ``cand``, each split's negatives. Each split's thresholds
    are MATLAB's ``0:step:M`` for its own maximum M. All those lists agree with the one for the
    overall maximum T (of all n + k values) up to ~1e-15 (the symmetric construction, the end
    point snapped to M), except that a split's list stops at its own M: thresholds above every
    value of a split only add zero-area points. So when no value lies within 1e-12 of a multiple
    of the step (0 and T themselves excepted: 0 is exact in every list, and T is the end of every
    list that sees T), every split counts every value as that one list does, at a "level" (the
    thresholds <= value, less one):

    - TP(t_j) = positives at level >= j, FP(t_j) = the split's negatives at level >= j;
    - the curve of one split, from (0, 0) down the thresholds to (m, n), has twice its area
      sum_j (FP_j - FP_{j+1}) * (TP_j + TP_{j+1}) = sum over its negatives of
      w[level] with w[j] = TP_j + TP_{j+1} (FP at threshold 0 is m: values are >= 0).

    Returns None when some value is that close to a threshold (the caller then builds every
    split's own list).
    """
    top = max(float(pos[-1]), float(cand.max()))
    grid = colon(step, top)
    vals = np.concatenate((pos, cand))
    frac = vals / step
    frac -= np.rint(frac)
    bad = np.abs(frac, out=frac) < 1e-12 / step  # within 1e-12 of a multiple of the step
    bad &= vals > 0.0
    bad &= vals < top
    if bad.any():
        return None
    n = pos.size
    tp = n - pos.searchsorted(grid, side="left")  # positives >= each threshold
    weight = tp.copy()
    weight[:-1] += tp[1:]
    level = grid.searchsorted(cand, side="right") - 1
    return int(weight[level][sel].sum())


def auc_shuffled_kernel(
    pred: Map, fix: np.ndarray, other: np.ndarray, n_splits: int, step: float, gen: np.random.Generator
) -> float:
    """sAUC of a prepared prediction: ``fix`` the fixated and ``other`` the candidate pixels (flat
    indices), ``n_splits`` and ``step`` checked by the caller, ``gen`` drawing the splits."""
    n = fix.size
    if n == 0:
        return math.nan
    mn, mx = pred.mn, pred.mx
    if pred.nonfinite or not mx > mn:  # NaN/inf, or normalised map all NaN
        return math.nan
    k = other.size
    if k == 0:  # no candidate negative: 0/0
        return math.nan
    d = mx - mn
    pos = pred.flat[fix] - mn
    pos /= d
    pos.sort()
    cand = pred.flat[other] - mn
    cand /= d
    m = min(n, k)
    # one random permutation of the k candidates per split, first m kept (MATLAB randperm)
    perms = scratch("sauc.perms", n_splits * k, np.intp).reshape(n_splits, k)
    np.copyto(perms, arange(k))
    gen.permuted(perms, axis=1, out=perms)
    sel = perms[:, :m]
    twice_area = _sauc_twice_area_one_grid(pos, cand, sel, step)
    if twice_area is None:  # a value (nearly) on a threshold: each split's own thresholds
        neg = cand[sel]  # (n_splits, m)
        ends = neg.max(axis=1)
        np.maximum(ends, pos[-1], out=ends)
        # thresholds ascending, from -inf (the curve's end (m, n)) to +inf (its start (0, 0))
        grid = colon_grid(step, ends, sentinels=True)
        tp = n - np.searchsorted(pos, grid, side="left")
        fp = np.count_nonzero(neg[:, :, None] >= grid[:, None, :], axis=1)
        # trapezoids in count units, one rounding at the end
        twice_area = int(((fp[:, :-1] - fp[:, 1:]) * (tp[:, :-1] + tp[:, 1:])).sum())
    return twice_area / (2 * n * m * n_splits)

