"""Speed machinery of NSS, CC, SIM and KLD: one-pass sums on prepared maps, in work arrays.

Why it exists: the literal definitions build several frame-sized temporaries per metric
(normalised maps, products, logs) and take each mean, standard deviation and sum in its own
pass. Measured with ``benchmarks/metrics.py`` (360x640 frames, 2-core VM, two runs; median
time per frame of the literal port / salprep's): NSS x3.1-3.2, CC x5.5-6.2, SIM x2.5-3.2, KLD
x3.8-4.5 (each 0.4-1.4 ms instead of 1.2-8 ms).

- The statistics come from :class:`~salprep.metrics.maps.Map` (cached, shared between the
  metrics by ``all_metrics``): one-pass sums, falling back to centred two-pass sums when
  cancellation could cost more than ~2e-13 relative.
- SIM and KLD work on the GT map's support when it is mostly zero (the other terms are exactly
  0), and write their temporaries into per-thread work arrays.
- Sums of products are :func:`~salprep.metrics.maps.dot` (blocked BLAS ddots).

The results are those of the literal definitions up to float64 rounding of sums taken in
another order; ``tests/test_metrics.py`` bounds that against ``benchmarks/metrics_reference.py``
(the line-by-line port of the MATLAB code), the edge cases of METRICS.md included.
"""

from __future__ import annotations

import math

import numpy as np

from salprep.metrics.maps import WELL_CONDITIONED, Map, Pair, dot, scratch
from salprep.metrics.matlab import EPS

__all__ = ["cc_kernel", "kld_kernel", "nss_kernel", "sim_kernel"]


def nss_kernel(pred: Map, fix: np.ndarray) -> float:
    """NSS of a prepared prediction at the fixated pixels ``fix`` (flat indices)."""
    if fix.size == 0 or pred.nonfinite or not pred.mx > pred.mn:  # constant map: std 0
        return math.nan
    z = pred.flat[fix] - pred.mean
    z /= math.sqrt(pred.ss / (pred.size - 1))
    return float(z.sum()) / fix.size  # as np.mean


def cc_kernel(pair: Pair) -> float:
    """CC of a prepared prediction and GT map."""
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite or not (pred.mx > pred.mn and gt.mx > gt.mn):  # constant: std 0
        return math.nan
    denom = math.sqrt(pred.ss) * math.sqrt(gt.ss)
    sxy = pair.cross()
    mean_term = pred.sum * gt.sum / pred.size
    if abs(sxy) + abs(mean_term) <= WELL_CONDITIONED * denom:
        return (sxy - mean_term) / denom
    return dot(pred.centered(), gt.centered()) / denom


def sim_kernel(pair: Pair) -> float:
    """SIM of a prepared prediction and GT map."""
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite:
        return math.nan
    # min-max normalising a constant non-zero map gives 0/0 everywhere
    if (pred.is_constant and not pred.is_zero) or (gt.is_constant and not gt.is_zero):
        return math.nan
    if pred.is_zero or gt.is_zero:  # a zero map stays zero; the other one is >= 0
        return 0.0
    # P = (S - min S) / sum(S - min S), Q likewise: sum(min(P, Q)) = a * sum(min(x, y * b / a))
    a = 1.0 / pred.sum_above_min()
    b = 1.0 / gt.sum_above_min()
    sup = gt.support  # min(P, Q) = 0 where Q = 0
    if sup is not None:
        x, y = pair.pred_at_support(), sup[1]
    else:
        x, y = pred.flat, gt.flat
    tmp = scratch("sup.q", y.size)
    if gt.mn != 0.0:
        np.subtract(y, gt.mn, out=tmp)
        tmp *= b / a
    else:
        np.multiply(y, b / a, out=tmp)
    if pred.mn != 0.0:
        x = np.subtract(x, pred.mn, out=scratch("sup.p", x.size))
    np.minimum(x, tmp, out=tmp)
    return float(a * tmp.sum())


def kld_kernel(pair: Pair) -> float:
    """KLD of a prepared prediction from a prepared GT map."""
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite:
        return math.nan
    if gt.is_zero:  # Q = 0: every term is 0 * log(eps + 0) = 0
        return 0.0
    if pred.mn < 0.0 or gt.mn < 0.0:  # not a distribution: the literal formula on every pixel
        with np.errstate(divide="ignore", invalid="ignore"):
            p = pred.flat if pred.is_zero else pred.flat / pred.sum
            q = gt.flat / gt.sum
            return float(np.sum(q * np.log(EPS + q / (p + EPS))))
    sup = gt.support  # terms with Q = 0 are exactly 0
    if sup is not None:
        s, g = pair.pred_at_support(), sup[1]
    else:
        s, g = pred.flat, gt.flat
    # the literal operations, in place: Q = G / sum(G), P = S / sum(S), ln(eps + Q / (P + eps))
    q = np.divide(g, gt.sum, out=scratch("sup.q", g.size))
    p = scratch("sup.p", g.size)
    if pred.is_zero:
        p.fill(0.0)
    else:
        np.divide(s, pred.sum, out=p)
    p += EPS
    np.divide(q, p, out=p)
    p += EPS
    np.log(p, out=p)
    return dot(q, p)

