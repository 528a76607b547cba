"""Literal numpy port of the MIT saliency benchmark metric code (the speed and value baseline).

This module is deliberately straightforward: one function per MATLAB file of
``cvzoya/saliency/code_forMetrics`` (AUC_Judd.m, AUC_shuffled.m, NSS.m, CC.m, similarity.m,
KLdiv.m, with DHF1K's cast-to-double-before-jitter in AUC_Judd), following each file step by
step, including its Python loop over thresholds and its per-split loop. It is the "literal numpy
port of the MIT MATLAB code" that ``benchmarks/metrics.py`` times ``salprep.metrics`` against,
and the oracle ``tests/test_metrics.py`` compares ``salprep.metrics`` with. It has no salprep
dependency (importable on its own) and is not part of the package.

How MATLAB things are rendered here:

- ``rand(size(S))`` is ``rng.random(S.shape)``; ``randperm(k)`` is ``rng.permutation(k)``;
  ``rng`` is anything ``np.random.default_rng`` accepts (None, an int seed, a Generator).
  AUC_Judd draws the jitter first; AUC_shuffled draws one permutation per split.
- ``a:d:b`` is :func:`matlab_colon` (MATLAB's symmetric construction, see METRICS.md).
- ``trapz(x, y)`` is ``np.trapezoid(y, x)``; ``std`` is ``np.std(ddof=1)``.
- ``im2double`` (CC, similarity, KLdiv) scales integer images to [0, 1].
- ``imresize`` is not ported: every map must already have the GT's shape.

Deliberate departures, each taken from METRICS.md (edge-case table):

- A fixation map marks fixated pixels by value > 0 (binary maps: same as ``logical``).
- NSS and CC return NaN for a constant prediction (MATLAB's NaN there depends on the mean being
  computed exactly; METRICS.md says NaN is the intended answer).
- AUC-Judd and sAUC return NaN when the min-max normalised map is all NaN (constant map, no
  jitter) instead of scoring the NaN thresholds.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 2.0**-52  # MATLAB eps


def _im2double(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    return a.astype(np.float64)


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape} (the reference port has no imresize)")


def _matlab_round(x: float) -> float:
    """MATLAB round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def matlab_colon(a: float, d: float, b: float) -> np.ndarray:
    """MATLAB's ``a:d:b`` for finite a, b and d > 0, built the way MATLAB builds it.

    The number of intervals n is found first (rounding, then a 2*eps tolerance); the right end is
    b itself when a + n*d is within that tolerance of b; the first half of the list is a + k*d and
    the second half end - k*d, the middle element (n even) is (a + end) / 2.
    """
    if math.isnan(a) or math.isnan(d) or math.isnan(b):
        return np.array([np.nan])
    if d <= 0:
        raise ValueError("only d > 0 is ported")
    if b < a:
        return np.zeros(0)
    tol = 2.0 * EPS * max(abs(a), abs(b))
    if a == math.floor(a) and d == 1:
        n = math.floor(b) - a
    elif a == math.floor(a) and d == math.floor(d):
        q = math.floor(a / d)
        r = a - q * d
        n = math.floor((b - r) / d) - q
    else:
        n = _matlab_round((b - a) / d)
        if a + n * d - b > tol:
            n = n - 1
    n = int(n)
    last = a + n * d
    if last - b > -tol:
        last = b
    out = np.zeros(n + 1)
    for k in range(n // 2 + 1):
        out[k] = a + k * d
        out[n - k] = last - k * d
    if n % 2 == 0:
        out[n // 2] = (a + last) / 2
    return out


def auc_judd(saliency_map, fixation_map, jitter=True, rng=None) -> float:
    """AUC_Judd.m, one pass over the pixels per threshold."""
    rng = np.random.default_rng(rng)
    S = np.asarray(saliency_map).astype(np.float64)  # DHF1K: double before jitter
    F = np.asarray(fixation_map)
    if not np.any(F > 0):
        return float("nan")
    _check_shapes(S, F)
    if jitter:
        S = S + rng.random(S.shape) / 10000000
    if not np.max(S) > np.min(S):  # the normalised map would be all NaN
        return float("nan")
    S = (S - np.min(S)) / (np.max(S) - np.min(S))
    S = S.ravel()
    F = F.ravel()
    Sth = S[F > 0]
    Nfixations = len(Sth)
    Npixels = len(S)
    allthreshes = np.sort(Sth)[::-1]
    tp = np.zeros(Nfixations + 2)
    fp = np.zeros(Nfixations + 2)
    tp[-1] = 1
    fp[-1] = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(1, Nfixations + 1):
            thresh = allthreshes[i - 1]
            aboveth = np.sum(S >= thresh)
            tp[i] = i / Nfixations
            fp[i] = np.float64(aboveth - i) / np.float64(Npixels - Nfixations)
    return float(np.trapezoid(tp, fp))


def auc_shuffled(saliency_map, fixation_map, other_map, n_splits=100, step_size=0.1, rng=None) -> float:
    """AUC_shuffled.m: a permutation per split, then a loop over splits and thresholds."""
    rng = np.random.default_rng(rng)
    S = np.asarray(saliency_map).astype(np.float64)
    F = np.asarray(fixation_map)
    O = np.asarray(other_map)
    if not np.any(F > 0):
        return float("nan")
    _check_shapes(S, F)
    _check_shapes(O, F)
    if not np.max(S) > np.min(S):  # the normalised map would be all NaN
        return float("nan")
    S = (S - np.min(S)) / (np.max(S) - np.min(S))
    S = S.ravel()
    F = F.ravel()
    Oth = O.ravel()
    Sth = S[F > 0]
    Nfixations = len(Sth)
    ind = np.flatnonzero(Oth > 0)
    Nfixations_oth = min(Nfixations, len(ind))
    randfix = np.full((Nfixations_oth, n_splits), np.nan)
    for i in range(n_splits):
        randind = ind[rng.permutation(len(ind))]
        randfix[:, i] = S[randind[:Nfixations_oth]]
    auc = np.full(n_splits, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in range(n_splits):
            curfix = randfix[:, s]
            allthreshes = matlab_colon(0.0, step_size, float(np.max(np.concatenate([Sth, curfix]))))[::-1]
            tp = np.zeros(len(allthreshes) + 2)
            fp = np.zeros(len(allthreshes) + 2)
            tp[-1] = 1
            fp[-1] = 1
            for i in range(len(allthreshes)):
                thresh = allthreshes[i]
                tp[i + 1] = np.float64(np.sum(Sth >= thresh)) / Nfixations
                fp[i + 1] = np.float64(np.sum(curfix >= thresh)) / np.float64(Nfixations_oth)
            auc[s] = np.trapezoid(tp, fp)
    return float(np.mean(auc))


def nss(saliency_map, fixation_map) -> float:
    """NSS.m: standardise the map (N-1 std), mean over the fixated pixels."""
    m = np.asarray(saliency_map).astype(np.float64)
    F = np.asarray(fixation_map)
    _check_shapes(m, F)
    if np.min(m) == np.max(m):
        return float("nan")
    m = (m - np.mean(m)) / np.std(m, ddof=1)
    fixated = m[F > 0]
    if fixated.size == 0:
        return float("nan")
    return float(np.mean(fixated))


def _corr2(a: np.ndarray, b: np.ndarray) -> float:
    a = a - np.mean(a)
    b = b - np.mean(b)
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def cc(saliency_map, gt_map) -> float:
    """CC.m: standardise both maps, then corr2."""
    map1 = _im2double(saliency_map)
    map2 = _im2double(gt_map)
    _check_shapes(map1, map2)
    if np.min(map1) == np.max(map1) or np.min(map2) == np.max(map2):
        return float("nan")
    map1 = (map1 - np.mean(map1)) / np.std(map1, ddof=1)
    map2 = (map2 - np.mean(map2)) / np.std(map2, ddof=1)
    return _corr2(map2, map1)


def sim(saliency_map, gt_map) -> float:
    """similarity.m: min-max then sum-normalise each non-zero map, sum of the pixelwise minimum."""
    map1 = _im2double(saliency_map)
    map2 = _im2double(gt_map)
    _check_shapes(map1, map2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.any(map1):
            map1 = (map1 - np.min(map1)) / (np.max(map1) - np.min(map1))
            map1 = map1 / np.sum(map1)
        if np.any(map2):
            map2 = (map2 - np.min(map2)) / (np.max(map2) - np.min(map2))
            map2 = map2 / np.sum(map2)
    if np.sum(np.isnan(map1)) == map1.size or np.sum(np.isnan(map2)) == map2.size:
        return float("nan")
    diff = np.minimum(map1, map2)
    return float(np.sum(diff))


def kld(saliency_map, gt_map) -> float:
    """KLdiv.m: sum of Q * log(eps + Q / (P + eps)), P and Q sum-normalised."""
    map1 = _im2double(saliency_map)
    map2 = _im2double(gt_map)
    _check_shapes(map1, map2)
    if np.any(map1):
        map1 = map1 / np.sum(map1)
    if np.any(map2):
        map2 = map2 / np.sum(map2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(map2 * np.log(EPS + map2 / (map1 + EPS))))
