"""Speed machinery of AUC-Judd: one bucketing pass instead of a pass per threshold, and a jitter
drawn only where it can change a count.

Why it exists: MATLAB's ``AUC_Judd.m`` (and a literal port) counts the pixels above each of the n
fixated values in n passes over the frame, after drawing a jitter value for every pixel. Measured
with ``benchmarks/metrics.py`` (360x640 frames, 2-core VM, two runs; median time per frame of
the literal port / salprep's): x3.3-4.0 with ~20 fixations (6-7 ms -> 1.5-2.2 ms), x14.5-16.4
with ~300 (56-71 ms -> 3.8-4.3 ms).

- The counts come from one bucketing pass (:func:`_bucketize`: a monotone integer bucket per
  pixel, a histogram, an exact sort of the few pixels that share a bucket with a threshold);
  ties are counted as MATLAB's loop counts them.
- The jitter (U[0, 1) / 1e7 per pixel) only matters for the pixels within 3e-7 of a fixated
  value, and of those only for the ones with another such pixel within 1e-6 (a fixated pixel
  alone in its window counts the same whatever its jitter). With the default PCG64 bit generator
  only those values are drawn (:func:`_draw_at`: ``advance`` skips the rest), which gives the
  same counts and leaves the generator in the same state as drawing the whole map; other bit
  generators, or maps where the shortcut does not apply, draw the whole map.
- The trapezoids are summed in integer (count) units with a single final division.

The counts are exactly those of the literal loops and the generator ends where the literal code
leaves it; ``tests/test_metrics.py`` checks both against ``benchmarks/metrics_reference.py``
(the line-by-line port), the shortcut and each of its fall-backs included.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from salprep.metrics.maps import Map, scratch
from salprep.metrics.matlab import EPS

__all__ = ["auc_judd_kernel"]

_JITTER_DIVISOR = 10_000_000.0  # MATLAB: rand(size(S)) / 10000000
_SMALL_MAP = 4096  # AUC-Judd sorts maps up to this many pixels
_BUCKETS_PER_THRESHOLD = 512  # AUC-Judd bucketing resolution ...
_MAX_BUCKETS = 1 << 14  # ... and cap
_RUN_GAP = 256  # sparse jitter: draw gaps up to this long instead of skipping them
_SPARSE_JITTER_MAX_DRAWS = 8192
_SPARSE_JITTER_MAX_RUNS = 128
_SPARSE_JITTER_FEW = 64  # up to this many near pixels, those alone are not drawn
_SPARSE_JITTER_MIN_RANGE = 1e-6  # map range and magnitude for which the 3e-7 margins hold
_SPARSE_JITTER_MAX_ABS = 1e3


def _bucketize(
    v: np.ndarray, vmin: float, vmax: float, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sort the values v in [vmin, vmax] (vmin < vmax) against n windows [lo[q], hi[q]].

    ``lo`` and ``hi`` are ascending with lo <= hi. Each value goes to the bucket
    trunc(v * scale - vmin * scale), a non-decreasing function of v: a value whose bucket is
    above (below) every bucket a window touches is strictly above (below) the whole window.
    Three passes over v: the bucket of every value, a histogram, a look-up of the "special"
    buckets (those a window touches).

    Returns:
        above: (n,) intp, above[q] = number of values outside the special buckets that are
            > hi[q];
        special: ascending indices of the values in special buckets, for the caller to compare
            exactly.
    """
    n = lo.size
    wspan = float(hi[-1] - lo[0])
    scale = _BUCKETS_PER_THRESHOLD * n / wspan if wspan > 0.0 else math.inf
    scale = min(scale, _MAX_BUCKETS / (vmax - vmin))
    # buckets counted from 0 when that adds few buckets, which saves a pass over v
    off = 0.0 if 0.0 <= vmin <= 0.25 * (vmax - vmin) else vmin * scale
    n_buckets = int(vmax * scale - off) + 1  # the same operations as for v, on vmax
    b = scratch("bucket.b", v.size, np.intp)
    if off == 0.0:  # float64 product, truncated toward zero into b: one pass
        np.multiply(v, scale, out=b, casting="unsafe")
    else:
        w = np.multiply(v, scale, out=scratch("bucket.w", v.size))
        w -= off
        np.copyto(b, w, casting="unsafe")
    edges = np.concatenate((lo, hi))
    edges *= scale
    if off != 0.0:
        edges -= off
    np.maximum(edges, 0.0, out=edges)  # windows reaching outside [vmin, vmax]
    np.minimum(edges, n_buckets - 1, out=edges)
    edges = edges.astype(np.intp)  # truncation, as for v
    b_lo, b_hi = edges[:n], edges[n:]
    hist = np.zeros(n_buckets + 1, dtype=np.intp)  # the last bucket stays empty
    np.add.at(hist, b, 1)  # faster than np.bincount here (measured)
    special = np.zeros(n_buckets + 1, dtype=np.bool_)
    if int((b_hi - b_lo).max()) <= 1:  # windows much narrower than a bucket: the usual case
        special[b_lo] = True
        special[b_hi] = True
    else:
        touched = np.zeros(n_buckets + 1, dtype=np.intp)
        np.add.at(touched, b_lo, 1)
        np.add.at(touched, b_hi + 1, -1)
        np.cumsum(touched, out=touched)
        np.greater(touched, 0, out=special)
    hist[special] = 0
    # free values above window q: those in the buckets above its top bucket
    above = np.cumsum(hist[::-1])[::-1][b_hi + 1]
    mask = scratch("bucket.mask", v.size, np.bool_)
    np.take(special, b, out=mask)
    return above, mask.nonzero()[0]


def _judd_counts_exact(v: np.ndarray, fix: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Counts of pixels with normalised value >= each fixated one, thresholds descending.

    Normalised value: (v - vmin) / (vmax - vmin), computed as MATLAB does; vmin < vmax. The
    counts are those of MATLAB's loop over thresholds (ties counted in full).
    """
    d = vmax - vmin
    raw = np.sort(v[fix])
    thr = (raw - vmin) / d  # the normalised thresholds, ascending
    if v.size <= _SMALL_MAP:
        e = np.subtract(v, vmin)
        e /= d
        e.sort()
        ge = v.size - np.searchsorted(e, thr, side="left")
    else:
        # Normalising can merge values (rounding) but never reorders them, and two values that
        # end up equal differ by less than 2.1 * eps * d beforehand: pixels more than
        # 16 * eps * d below a fixated value, or above it, are decided by their raw value.
        above, special = _bucketize(v, vmin, vmax, raw - 16.0 * EPS * d, raw)
        e = np.subtract(v[special], vmin)
        e /= d
        e.sort()
        ge = above + (e.size - np.searchsorted(e, thr, side="left"))
    return ge[::-1]


def _draw_at(gen: np.random.Generator, pos: np.ndarray, total: int) -> np.ndarray:
    """Generator.random values number ``pos`` (ascending) of the next ``total``; skips the rest.

    Leaves the generator exactly where ``gen.random(total)`` would (PCG64 ``advance``), the
    32-bit buffer included. Positions closer than ``_RUN_GAP`` are drawn as one run.
    """
    bg = gen.bit_generator
    state0 = bg.state
    advance, random = bg.advance, gen.random
    p = pos.tolist()
    if len(p) > _SPARSE_JITTER_FEW:
        breaks = (np.flatnonzero(np.diff(pos) > _RUN_GAP) + 1).tolist()
    else:
        breaks = [i for i in range(1, len(p)) if p[i] - p[i - 1] > _RUN_GAP]
    out = np.empty(len(p))
    cur = 0
    for a, b in zip([0, *breaks], [*breaks, len(p)]) if p else ():
        first, last = p[a], p[b - 1]
        if first > cur:
            advance(first - cur)
        if a + 1 == b:
            out[a] = random()
        else:
            out[a:b] = random(last - first + 1)[pos[a:b] - first]
        cur = last + 1
    if total > cur:
        advance(total - cur)
    if state0["has_uint32"]:  # advance() clears the buffered 32-bit half; random() does not
        state = bg.state
        state["has_uint32"] = state0["has_uint32"]
        state["uinteger"] = state0["uinteger"]
        bg.state = state
    return out


def _judd_counts_jitter_sparse(pred: Map, fix: np.ndarray, gen: np.random.Generator) -> np.ndarray | None:
    """AUC-Judd counts with jitter, drawing only the jitter values that can change a count.

    The jitter moves a pixel by less than 1e-7, so only the pixels within 3e-7 of a fixated
    value ("near" pixels, the fixated ones included) can need theirs: every other pixel is
    decided by its un-jittered value. A near pixel with no other near pixel within 1e-6 is a
    fixated pixel alone in its window (window: fixated value - 3e-7 to + 2e-7), which no other
    window overlaps: every count is the same whatever its jitter, so it keeps its own value.
    With at most ``_SPARSE_JITTER_FEW`` near pixels only the others are drawn; with more, all
    of them (those are ties, mostly). The counts do not depend on where the jittered map's min
    and max land, as long as no two jittered values merge in the normalisation (checked; merging
    needs a gap < 2.1 * eps * d). The generator ends exactly where drawing the full jitter map
    would leave it.

    Returns None, having drawn nothing, when the shortcut does not apply (generator without
    ``advance``, a map with a tiny range or huge values, too many pixels to draw one by one).
    """
    bg = gen.bit_generator
    if type(bg) not in (np.random.PCG64, np.random.PCG64DXSM):
        return None
    mn, mx = pred.mn, pred.mx
    if not (mx - mn >= _SPARSE_JITTER_MIN_RANGE and max(-mn, mx) <= _SPARSE_JITTER_MAX_ABS):
        return None
    n = fix.size
    if n > _SPARSE_JITTER_MAX_RUNS and np.count_nonzero(np.diff(fix) > _RUN_GAP) >= _SPARSE_JITTER_MAX_RUNS:
        return None
    s = pred.flat
    sf = s[fix]
    order = sf.argsort(kind="stable")
    sf = sf[order]
    lo = sf - 3e-7
    hi = sf + 2e-7  # >= jittered value of that pixel
    above, special = _bucketize(s, mn, mx, lo, hi)
    sv = s[special]
    near_mask = lo.searchsorted(sv, side="right") > hi.searchsorted(sv, side="left")
    near = special[near_mask]  # ascending, includes every fixated pixel
    if near.size > _SPARSE_JITTER_MAX_DRAWS:
        return None
    nv = sv[near_mask]
    if near.size <= _SPARSE_JITTER_FEW:  # skip the near pixels with no other within 1e-6
        vals = nv.tolist()
        srt = sorted(vals)
        crowded = set()
        for a, b in zip(srt, srt[1:]):
            if b - a <= 1e-6:  # ties included
                crowded.update((a, b))
        drawn: Any = [i for i, v in enumerate(vals) if v in crowded]
        pos = near[drawn]
    else:
        if np.count_nonzero(np.diff(near) > _RUN_GAP) >= _SPARSE_JITTER_MAX_RUNS:
            return None
        drawn = slice(None)
        pos = near
    state0 = bg.state
    jittered = _draw_at(gen, pos, s.size)
    if pos.size:
        jittered /= _JITTER_DIVISOR
        jittered += nv[drawn]
        # Two drawn values closer than this could merge when normalised (a threshold with a
        # value just below it): then use the full map. Equal values stay equal.
        js = sorted(jittered.tolist())
        tol = 8.0 * EPS * (mx - mn + 1.0)
        if any(0.0 < b - a <= tol for a, b in zip(js, js[1:])):
            bg.state = state0
            return None
        nv[drawn] = jittered
    jf = nv[near.searchsorted(fix)]
    # special pixels: the near ones by their (jittered) value, the others by their own value
    # (more than 2e-7 above or 3e-7 below every fixated value)
    sv[near_mask] = nv
    sv.sort()
    counts = sv.size - sv.searchsorted(jf, side="left")
    counts[order] += above
    counts.sort()
    return counts  # ascending: thresholds descending


def auc_judd_kernel(pred: Map, fix: np.ndarray, jitter: bool, gen: np.random.Generator | None) -> float:
    """AUC-Judd of a prepared prediction, ``fix`` the fixated pixels' flat indices (ascending);
    ``gen`` draws the jitter (None when ``jitter`` is False or there is no fixation)."""
    n = fix.size
    if n == 0:
        return math.nan
    total = pred.size
    counts = None
    if jitter:
        counts = _judd_counts_jitter_sparse(pred, fix, gen)  # type: ignore[arg-type]
        if counts is None:
            vals = scratch("jitter", total)
            gen.random(out=vals)  # type: ignore[union-attr]
            vals /= _JITTER_DIVISOR
            vals += pred.flat
            mn, mx = float(vals.min()), float(vals.max())
            if not (mx > mn and math.isfinite(mx - mn)):  # normalised map all NaN, or NaN/inf
                return math.nan
            counts = _judd_counts_exact(vals, fix, mn, mx)
    else:
        if pred.nonfinite or not pred.mx > pred.mn:
            return math.nan
        counts = _judd_counts_exact(pred.flat, fix, pred.mn, pred.mx)
    if total == n:  # no non-fixated pixel: fp = 0/0
        return math.nan
    # MATLAB: thresholds descending, i = 1..n: tp = i/n, fp = (c_i - i)/(N - n), c_i = count(S >= t_i).
    # Twice the trapezoidal area in integer units (x_i = c_i - i, y_i = i, from (0, 0) to
    # (N - n, n)) is sum_i (x_i - x_{i-1})(2i - 1) + (N - n - x_n) 2n = 2n(N - n) + x_n - 2 sum x_i,
    # i.e. 2n(N - n) + c_n + n^2 - 2 sum c_i: one rounding at the end.
    twice_area = 2 * n * (total - n) + int(counts[-1]) + n * n - 2 * int(counts.sum())
    return twice_area / (2 * n * (total - n))

