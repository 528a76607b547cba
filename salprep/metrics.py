"""The six MIT saliency benchmark metrics, as the benchmark's MATLAB code computes them.

Definitions, conventions and edge cases follow ``METRICS.md`` (source of truth: the
``code_forMetrics`` MATLAB files of the MIT saliency benchmark, as shipped with DHF1K's
evaluation code). In short:

- Every map is a 2-D array (H, W). Predictions may have any real dtype (uint8, float32, ...);
  they are cast to float64 first (MATLAB doubles). Fixation and "other" maps mark pixels by
  value > 0 (bool or numeric); repeated fixations on one pixel count once.
- If the prediction's shape differs from the ground truth's, it is first resized to the GT shape
  with :func:`resize_to` (MATLAB ``imresize``: bicubic, antialiased).
- ``eps`` is MATLAB's ``eps`` = 2**-52; standard deviations are the sample ones (N - 1).
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

Speed (all results identical to a literal port of the MATLAB loops, see
``benchmarks/metrics.py``):

- AUC-Judd counts the pixels above every threshold in one bucketing pass (a monotone integer
  bucket per pixel, a histogram, an exact sort of the few pixels that share a bucket with a
  threshold), never a pass per threshold; ties are counted as MATLAB's loop counts them.
- The jitter only matters for the pixels within 3e-7 of a fixated value, and of those only for
  the ones with another such pixel within 1e-6 (a fixated pixel alone in its window counts the
  same whatever its jitter). With the default PCG64 bit generator only those values are drawn
  (``advance`` skips the rest), which gives the same scores and the same generator state as
  drawing the whole map; other bit generators, or maps where that shortcut does not apply,
  draw the whole map.
- sAUC works on the fixated and candidate pixels only. When no value lies (within 1e-12) on a
  multiple of the step, every split's MATLAB threshold list counts every value alike, and the
  summed areas reduce to one weight per candidate (from the positives' counts) summed over the
  splits' picks; otherwise each split gets its own list, vectorised over splits and thresholds.
  Both AUCs compute their trapezoids in integer (count) units with a single final division.
- NSS, CC, SIM and KLD use one-pass sums (falling back to centred two-pass sums when cancellation
  could cost more than ~2e-13), and work on the GT map's support when it is mostly zero. Sums of
  products are BLAS ddots over rows of at most 8192 elements (single-threaded: longer ones wake
  OpenBLAS's thread pool).
- :func:`all_metrics` shares the casts, the resize, min, max and sums between the six metrics.
- Frame-sized temporaries live in per-thread work arrays (allocating and freeing them per call
  made glibc hand the memory back and fault it in again every time).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "EPS",
    "all_metrics",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "kld",
    "nss",
    "resize_to",
    "sim",
]

EPS: float = 2.0**-52
"""MATLAB's ``eps`` (2.220446049250313e-16)."""

_JITTER_DIVISOR = 10_000_000.0  # MATLAB: rand(size(S)) / 10000000
_SUBSET_DENSITY = 0.5  # a GT map >= 0 non-zero on fewer pixels is handled on its support
_WELL_CONDITIONED = 1e3  # one-pass sums when cancellation costs < ~2e-13 relative
_SMALL_MAP = 4096  # AUC-Judd sorts maps up to this many pixels
_BUCKETS_PER_THRESHOLD = 512  # AUC-Judd bucketing resolution ...
_MAX_BUCKETS = 1 << 14  # ... and cap
_RUN_GAP = 256  # sparse jitter: draw gaps up to this long instead of skipping them
_SPARSE_JITTER_MAX_DRAWS = 8192
_SPARSE_JITTER_MAX_RUNS = 128
_SPARSE_JITTER_FEW = 64  # up to this many near pixels, those alone are not drawn
_SPARSE_JITTER_MIN_RANGE = 1e-6  # map range and magnitude for which the 3e-7 margins hold
_SPARSE_JITTER_MAX_ABS = 1e3

_NAN = float("nan")

ArrayLike = npt.ArrayLike
Generatorish = Any  # None | int | np.random.Generator | anything np.random.default_rng accepts


# --------------------------------------------------------------------------------------------
# Resizing (MATLAB imresize, bicubic, antialiased)
# --------------------------------------------------------------------------------------------


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5 (MATLAB imresize's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1.0) & (ax <= 2.0)
    )


@lru_cache(maxsize=32)
def _contributions(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices, both (taps, out_len), of imresize's 1-D bicubic step.

    As MATLAB's ``contributions``: output pixel x (1-based) samples input coordinate
    u = x / scale + (1 - 1 / scale) / 2; when shrinking (scale < 1) the kernel is widened by
    1 / scale and scaled by scale (antialiasing); weights are normalised per output pixel; input
    indices outside [1, in_len] are clamped (replicated edge pixels); taps whose weight is zero
    for every output pixel are dropped. Returned arrays are read-only (cached).
    """
    scale = out_len / in_len
    width = 4.0
    if scale < 1.0:
        width /= scale

        def kernel(t: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * t)

    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)
    idx = np.clip(idx, 1, in_len).astype(np.intp) - 1
    keep = np.any(w != 0.0, axis=0)
    w, idx = np.ascontiguousarray(w[:, keep].T), np.ascontiguousarray(idx[:, keep].T)
    w.setflags(write=False)
    idx.setflags(write=False)
    return w, idx


def _resample_rows(a: np.ndarray, out_len: int) -> np.ndarray:
    """Resample axis 0 of a 2-D float64 array to ``out_len`` (sum over taps, in tap order)."""
    w, idx = _contributions(a.shape[0], out_len)
    out = np.zeros((out_len, a.shape[1]), dtype=np.float64)
    for t in range(w.shape[0]):
        term = a[idx[t]]
        term *= w[t][:, None]
        out += term
    return out


def resize_to(map: ArrayLike, shape: tuple[int, int]) -> np.ndarray:  # noqa: A002 - contract name
    """Resize a 2-D map to ``shape`` like MATLAB ``imresize(map, shape)`` (bicubic, antialiased).

    Keys' cubic kernel (a = -0.5), widened by 1/scale when shrinking, weights normalised per
    output pixel, replicated (clamped) edge pixels; rows and columns are resampled separately,
    the dimension with the smaller scale factor first (as MATLAB does). This is the construction
    METRICS.md reports reproducing MATLAB's values to 5e-9 (replicated, not mirrored, edges);
    torch's antialiased bicubic agrees with it away from the border.

    Args:
        map: (h, w) array of any real dtype; cast to float64 (no uint8 rounding of the result).
        shape: (H, W) output shape, positive ints.

    Returns:
        (H, W) float64 array, always a new array (also when the shape is already ``shape``).
    """
    a = np.asarray(map)
    if a.ndim != 2:
        raise ValueError(f"resize_to needs a 2-D map, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"resize_to got an empty map of shape {a.shape}")
    out_h, out_w = (int(v) for v in shape)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"resize_to needs a positive shape, got {tuple(shape)}")
    a = a.astype(np.float64, copy=True)
    in_h, in_w = a.shape
    steps = []
    if in_h != out_h:
        steps.append((out_h / in_h, 0))
    if in_w != out_w:
        steps.append((out_w / in_w, 1))
    steps.sort(key=lambda st: st[0])  # stable: rows first on equal scales, as MATLAB's sort
    for _, axis in steps:
        if axis == 0:
            a = _resample_rows(a, out_h)
        else:
            a = _resample_rows(np.ascontiguousarray(a.T), out_w).T
    return np.ascontiguousarray(a)


_DOT_ROW = 8192  # OpenBLAS computes a ddot of at most 10000 elements on the calling thread


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D float64 arrays: BLAS ddots of at most 8192 elements, summed.

    One ``ddot`` over a whole frame makes OpenBLAS wake its thread pool, which on a busy machine
    cost 2-20 ms per call (measured) instead of 0.01 ms; at most 10000 elements it stays on the
    calling thread. Row-wise ``np.vecdot`` over 8192-element rows does exactly that, at ~2.4x
    the speed of ``einsum``'s sum-of-products loop (and with smaller rounding error).
    """
    n = a.size
    m = n - n % _DOT_ROW
    total = float(np.vecdot(a[:m].reshape(-1, _DOT_ROW), b[:m].reshape(-1, _DOT_ROW)).sum()) if m else 0.0
    if m < n:
        total += float(np.vecdot(a[m:], b[m:]))
    return total


# --------------------------------------------------------------------------------------------
# Per-thread work arrays
# --------------------------------------------------------------------------------------------
# A frame-sized temporary (1.8 MB at 360x640) allocated and freed on every call makes glibc
# return the memory to the OS and fault it back in on the next call: that tripled AUC-Judd's
# time (measured). The metrics therefore write their frame-sized temporaries into work arrays
# kept per thread and reused; no result ever aliases one.

_tls = threading.local()


def _scratch(key: str, size: int, dtype: Any = np.float64) -> np.ndarray:
    """This thread's reusable 1-D work array ``key`` with ``size`` elements (contents undefined)."""
    ws = _tls.__dict__.setdefault("ws", {})
    buf = ws.get(key)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = np.empty(size, dtype=dtype)
        ws[key] = buf
    return buf[:size]


def _arange(size: int) -> np.ndarray:
    """0, 1, ..., size - 1 (intp), cached per thread; read it, never write it."""
    ws = _tls.__dict__.setdefault("ws", {})
    buf = ws.get("arange")
    if buf is None or buf.size < size:
        buf = np.arange(size, dtype=np.intp)
        ws["arange"] = buf
    return buf[:size]


# --------------------------------------------------------------------------------------------
# Shared preparation
# --------------------------------------------------------------------------------------------


class _Map:
    """A real-valued map as a flat float64 array plus lazily computed, cached statistics.

    ``flat`` is the caller's array (float64, C-contiguous input), a work array holding its
    float64 cast, or a resized copy; it is never written to. ``src`` is the array min and max
    are taken from: the caller's (narrower) array when ``flat`` is its cast, else ``flat``
    (the cast is monotone, so both give the same values). A GT map (``sparse_ok``) that is
    >= 0 and zero on most pixels keeps its support (non-zero pixels) and computes its statistics
    there, since the other pixels add nothing to any sum the metrics need.
    """

    __slots__ = ("flat", "src", "size", "key", "sparse_ok", "_mn", "_mx", "_sum", "_sumsq", "_ss", "_support")

    def __init__(
        self,
        values: ArrayLike,
        shape: tuple[int, ...] | None,
        what: str,
        key: str,
        sparse_ok: bool = False,
    ):
        a = np.asarray(values)
        if a.ndim != 2:
            raise ValueError(f"{what} must be 2-D (H, W), got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"{what} is empty (shape {a.shape})")
        if shape is not None and a.shape != shape:
            flat = src = resize_to(a, shape).ravel()
        elif a.dtype == np.float64 and a.flags.c_contiguous:
            flat = src = a.ravel()
        else:
            flat = _scratch(key, a.size)
            np.copyto(flat.reshape(a.shape), a, casting="same_kind")
            src = a  # min and max commute with the (monotone) cast: read the narrower input
        self.flat = flat
        self.src = src
        self.size = flat.size
        self.key = key
        self.sparse_ok = sparse_ok
        self._mn = self._mx = self._sum = self._sumsq = self._ss = None
        self._support: Any = None

    @property
    def mn(self) -> float:
        if self._mn is None:
            self._mn = float(self.src.min())
        return self._mn

    @property
    def support(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(mask, values) of the non-zero pixels of a sparse map >= 0, else None."""
        if self._support is None:
            self._support = False
            if self.sparse_ok and self.mn == 0.0:
                mask = _scratch(self.key + ".mask", self.size, np.bool_)
                np.greater(self.flat, 0.0, out=mask)
                if np.count_nonzero(mask) < _SUBSET_DENSITY * self.size:
                    self._support = (mask, self.flat[mask])
        return self._support or None

    def _values(self) -> np.ndarray:
        """The pixels the sums run over: the support of a sparse map, else all of them."""
        sup = self.support
        return self.flat if sup is None else sup[1]

    @property
    def mx(self) -> float:
        if self._mx is None:
            v = self._values() if self.sparse_ok else self.src
            self._mx = float(v.max()) if v.size else 0.0
        return self._mx

    @property
    def nonfinite(self) -> bool:
        """The map holds a NaN or an infinity (every metric is then NaN)."""
        return not (math.isfinite(self.mn) and math.isfinite(self.mx))

    @property
    def is_zero(self) -> bool:
        """All pixels are 0 (MATLAB ``~any(map(:))``)."""
        return self.mn == 0.0 and self.mx == 0.0

    @property
    def is_constant(self) -> bool:
        return self.mn == self.mx

    @property
    def sum(self) -> float:
        if self._sum is None:
            self._sum = float(self._values().sum())
        return self._sum

    @property
    def sumsq(self) -> float:
        if self._sumsq is None:
            v = self._values()
            self._sumsq = _dot(v, v)
        return self._sumsq

    @property
    def mean(self) -> float:
        return self.sum / self.size  # as np.mean

    def centered(self) -> np.ndarray:
        """flat - mean, in a work array."""
        out = _scratch(self.key + ".centered", self.size)
        np.subtract(self.flat, self.mean, out=out)
        return out

    @property
    def ss(self) -> float:
        """Sum of squared deviations from the mean.

        One pass (sum of squares - sum**2 / N) when its cancellation error is below ~2e-13
        relative, else two passes over the centred map.
        """
        if self._ss is None:
            one_pass = self.sumsq - self.sum * self.sum / self.size
            if one_pass > 0.0 and self.sumsq <= _WELL_CONDITIONED * one_pass:
                self._ss = one_pass
            else:
                c = self.centered()
                self._ss = _dot(c, c)
        return self._ss

    def sum_above_min(self) -> float:
        """sum(flat - min), without the cancellation of sum - N * min when that would hurt."""
        mn = self.mn
        if mn == 0.0:
            return self.sum
        shifted = self.sum - self.size * mn
        if abs(self.size * mn) <= _WELL_CONDITIONED * abs(shifted):
            return shifted
        out = _scratch(self.key + ".shifted", self.size)
        np.subtract(self.flat, mn, out=out)
        return float(out.sum())


class _Pair:
    """A prediction and a GT map of the same shape, with the prediction sampled on the GT support."""

    __slots__ = ("pred", "gt", "_pred_at")

    def __init__(self, pred: _Map, gt: _Map):
        self.pred = pred
        self.gt = gt
        self._pred_at = None

    def pred_at_support(self) -> np.ndarray:
        if self._pred_at is None:
            self._pred_at = self.pred.flat[self.gt.support[0]]  # type: ignore[index]
        return self._pred_at

    def cross(self) -> float:
        """sum(S * G)."""
        sup = self.gt.support
        if sup is None:
            return _dot(self.pred.flat, self.gt.flat)
        return _dot(self.pred_at_support(), sup[1])


def _marked(marks: ArrayLike, shape: tuple[int, ...] | None, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Flat indices (ascending) of the pixels with value > 0, and the map's shape."""
    m = np.asarray(marks)
    if m.ndim != 2:
        raise ValueError(f"{what} must be 2-D (H, W), got shape {m.shape}")
    if shape is not None and m.shape != shape:
        raise ValueError(f"{what} has shape {m.shape}, expected {shape}")
    if m.dtype == np.bool_:
        return m.reshape(-1).nonzero()[0], m.shape
    mask = _scratch(what + ".mask", m.size, np.bool_)
    np.greater(m, 0, out=mask.reshape(m.shape))
    return mask.nonzero()[0], m.shape


def _pair(saliency_map: ArrayLike, gt_map: ArrayLike) -> _Pair:
    """Prediction (resized to the GT's shape if needed) and GT map, for CC, SIM and KLD."""
    gt = _Map(gt_map, None, "gt_map", "gt", sparse_ok=True)
    shape = np.shape(gt_map)
    return _Pair(_Map(saliency_map, shape, "saliency_map", "pred"), gt)


# --------------------------------------------------------------------------------------------
# AUC-Judd
# --------------------------------------------------------------------------------------------


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
    b = _scratch("bucket.b", v.size, np.intp)
    if off == 0.0:  # float64 product, truncated toward zero into b: one pass
        np.multiply(v, scale, out=b, casting="unsafe")
    else:
        w = np.multiply(v, scale, out=_scratch("bucket.w", v.size))
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
    mask = _scratch("bucket.mask", v.size, np.bool_)
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


def _judd_counts_jitter_sparse(pred: _Map, fix: np.ndarray, gen: np.random.Generator) -> np.ndarray | None:
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


def _auc_judd_kernel(pred: _Map, fix: np.ndarray, jitter: bool, gen: np.random.Generator | None) -> float:
    n = fix.size
    if n == 0:
        return _NAN
    total = pred.size
    counts = None
    if jitter:
        counts = _judd_counts_jitter_sparse(pred, fix, gen)  # type: ignore[arg-type]
        if counts is None:
            vals = _scratch("jitter", total)
            gen.random(out=vals)  # type: ignore[union-attr]
            vals /= _JITTER_DIVISOR
            vals += pred.flat
            mn, mx = float(vals.min()), float(vals.max())
            if not (mx > mn and math.isfinite(mx - mn)):  # normalised map all NaN, or NaN/inf
                return _NAN
            counts = _judd_counts_exact(vals, fix, mn, mx)
    else:
        if pred.nonfinite or not pred.mx > pred.mn:
            return _NAN
        counts = _judd_counts_exact(pred.flat, fix, pred.mn, pred.mx)
    if total == n:  # no non-fixated pixel: fp = 0/0
        return _NAN
    # MATLAB: thresholds descending, i = 1..n: tp = i/n, fp = (c_i - i)/(N - n), c_i = count(S >= t_i).
    # Twice the trapezoidal area in integer units (x_i = c_i - i, y_i = i, from (0, 0) to
    # (N - n, n)) is sum_i (x_i - x_{i-1})(2i - 1) + (N - n - x_n) 2n = 2n(N - n) + x_n - 2 sum x_i,
    # i.e. 2n(N - n) + c_n + n^2 - 2 sum c_i: one rounding at the end.
    twice_area = 2 * n * (total - n) + int(counts[-1]) + n * n - 2 * int(counts.sum())
    return twice_area / (2 * n * (total - n))


# --------------------------------------------------------------------------------------------
# sAUC
# --------------------------------------------------------------------------------------------


def _colon_grid(step: float, ends: np.ndarray, sentinels: bool = False) -> np.ndarray:
    """Row s = MATLAB's ``0:step:ends[s]`` (ascending), padded with +inf to a common length.

    MATLAB's construction (METRICS.md): n intervals from round(b/step), minus one if n*step
    overshoots b by more than 2*eps*b; the end point is b itself when n*step is within that
    tolerance; the first half of the list is k*step, the second half end - k*step, and the
    middle element (n even) is end / 2. (a = 0 simplifies MATLAB's a + ... terms exactly.)
    With ``sentinels`` every row also starts with -inf and ends with at least one +inf.
    """
    tol = (2.0 * EPS) * ends
    if step == 1.0:
        n = np.floor(ends)
    elif step == math.floor(step):
        n = np.floor(ends / step)
    else:
        q = ends / step
        n = np.floor(q)
        n += q - n >= 0.5  # MATLAB round, q >= 0
        n -= n * step - ends > tol
    last = n * step
    np.copyto(last, ends, where=ends - last < tol)  # MATLAB: last - b > -tol (same rounding)
    n = n.astype(np.intp)
    width = int(n.max()) + 1
    j = np.arange(-1, width + 1) if sentinels else np.arange(width)
    nn = n[:, None]
    k = nn - j  # intervals left to the end
    grid = last[:, None] - k * step  # second half: end - k*step
    np.copyto(grid, j * step, where=2 * j <= nn)  # first half: j*step
    np.copyto(grid, last[:, None] / 2.0, where=2 * j == nn)  # middle
    grid[k < 0] = np.inf
    if sentinels:
        grid[:, 0] = -np.inf
    return grid


def _colon(step: float, end: float) -> np.ndarray:
    """MATLAB's ``0:step:end`` for one end >= 0: the row of :func:`_colon_grid` (same operations)."""
    tol = 2.0 * EPS * end
    if step == 1.0:
        n = math.floor(end)
    elif step == math.floor(step):
        n = math.floor(end / step)
    else:
        q = end / step
        n = math.floor(q)
        n += q - n >= 0.5  # MATLAB round, q >= 0
        n -= n * step - end > tol
    last = n * step
    if end - last < tol:
        last = end
    j = np.arange(n + 1)
    grid = j * step  # first half: j*step
    h = n // 2
    grid[h + 1 :] = last - (n - j[h + 1 :]) * step  # second half: end - k*step
    if n % 2 == 0:
        grid[h] = last / 2.0  # middle
    return grid


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
    grid = _colon(step, top)
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


def _auc_shuffled_kernel(
    pred: _Map, fix: np.ndarray, other: np.ndarray, n_splits: int, step: float, gen: np.random.Generator
) -> float:
    n = fix.size
    if n == 0:
        return _NAN
    mn, mx = pred.mn, pred.mx
    if pred.nonfinite or not mx > mn:  # NaN/inf, or normalised map all NaN
        return _NAN
    k = other.size
    if k == 0:  # no candidate negative: 0/0
        return _NAN
    d = mx - mn
    pos = pred.flat[fix] - mn
    pos /= d
    pos.sort()
    cand = pred.flat[other] - mn
    cand /= d
    m = min(n, k)
    # one random permutation of the k candidates per split, first m kept (MATLAB randperm)
    perms = _scratch("sauc.perms", n_splits * k, np.intp).reshape(n_splits, k)
    np.copyto(perms, _arange(k))
    gen.permuted(perms, axis=1, out=perms)
    sel = perms[:, :m]
    twice_area = _sauc_twice_area_one_grid(pos, cand, sel, step)
    if twice_area is None:  # a value (nearly) on a threshold: each split's own thresholds
        neg = cand[sel]  # (n_splits, m)
        ends = neg.max(axis=1)
        np.maximum(ends, pos[-1], out=ends)
        # thresholds ascending, from -inf (the curve's end (m, n)) to +inf (its start (0, 0))
        grid = _colon_grid(step, ends, sentinels=True)
        tp = n - np.searchsorted(pos, grid, side="left")
        fp = np.count_nonzero(neg[:, :, None] >= grid[:, None, :], axis=1)
        # trapezoids in count units, one rounding at the end
        twice_area = int(((fp[:, :-1] - fp[:, 1:]) * (tp[:, :-1] + tp[:, 1:])).sum())
    return twice_area / (2 * n * m * n_splits)


# --------------------------------------------------------------------------------------------
# NSS, CC, SIM, KLD
# --------------------------------------------------------------------------------------------


def _nss_kernel(pred: _Map, fix: np.ndarray) -> float:
    if fix.size == 0 or pred.nonfinite or not pred.mx > pred.mn:  # constant map: std 0
        return _NAN
    z = pred.flat[fix] - pred.mean
    z /= math.sqrt(pred.ss / (pred.size - 1))
    return float(z.sum()) / fix.size  # as np.mean


def _cc_kernel(pair: _Pair) -> float:
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite or not (pred.mx > pred.mn and gt.mx > gt.mn):  # constant: std 0
        return _NAN
    denom = math.sqrt(pred.ss) * math.sqrt(gt.ss)
    sxy = pair.cross()
    mean_term = pred.sum * gt.sum / pred.size
    if abs(sxy) + abs(mean_term) <= _WELL_CONDITIONED * denom:
        return (sxy - mean_term) / denom
    return _dot(pred.centered(), gt.centered()) / denom


def _sim_kernel(pair: _Pair) -> float:
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite:
        return _NAN
    # min-max normalising a constant non-zero map gives 0/0 everywhere
    if (pred.is_constant and not pred.is_zero) or (gt.is_constant and not gt.is_zero):
        return _NAN
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
    tmp = _scratch("sup.q", y.size)
    if gt.mn != 0.0:
        np.subtract(y, gt.mn, out=tmp)
        tmp *= b / a
    else:
        np.multiply(y, b / a, out=tmp)
    if pred.mn != 0.0:
        x = np.subtract(x, pred.mn, out=_scratch("sup.p", x.size))
    np.minimum(x, tmp, out=tmp)
    return float(a * tmp.sum())


def _kld_kernel(pair: _Pair) -> float:
    pred, gt = pair.pred, pair.gt
    if pred.nonfinite or gt.nonfinite:
        return _NAN
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
    q = np.divide(g, gt.sum, out=_scratch("sup.q", g.size))
    p = _scratch("sup.p", g.size)
    if pred.is_zero:
        p.fill(0.0)
    else:
        np.divide(s, pred.sum, out=p)
    p += EPS
    np.divide(q, p, out=p)
    p += EPS
    np.log(p, out=p)
    return _dot(q, p)


def _check_splits(n_splits: int, step_size: float) -> tuple[int, float]:
    if int(n_splits) != n_splits or n_splits < 1:
        raise ValueError(f"n_splits must be a positive integer, got {n_splits!r}")
    step = float(step_size)
    if not (step > 0.0 and math.isfinite(step)):
        raise ValueError(f"step_size must be a positive finite number, got {step_size!r}")
    return int(n_splits), step


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


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
    fix, shape = _marked(fixation_map, None, "fixation_map")
    pred = _Map(saliency_map, shape, "saliency_map", "pred")
    gen = np.random.default_rng(rng) if jitter and fix.size else None
    return _auc_judd_kernel(pred, fix, bool(jitter), gen)


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
    fix, shape = _marked(fixation_map, None, "fixation_map")
    other, _ = _marked(other_map, shape, "other_map")
    pred = _Map(saliency_map, shape, "saliency_map", "pred")
    return _auc_shuffled_kernel(pred, fix, other, n_splits, step, np.random.default_rng(rng))


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
    fix, shape = _marked(fixation_map, None, "fixation_map")
    return _nss_kernel(_Map(saliency_map, shape, "saliency_map", "pred"), fix)


def cc(saliency_map: ArrayLike, gt_map: ArrayLike) -> float:
    """Pearson linear correlation coefficient between prediction and GT map (MATLAB ``CC.m``).

    Args:
        saliency_map: (h, w) prediction, any real dtype and scale; resized to the GT's shape when
            the shapes differ.
        gt_map: (H, W) continuous ground-truth saliency map, any real dtype and scale.

    Returns:
        Score in [-1, 1]; NaN when either map is constant (or contains NaN or inf).
    """
    return _cc_kernel(_pair(saliency_map, gt_map))


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
    return _sim_kernel(_pair(saliency_map, gt_map))


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
    return _kld_kernel(_pair(saliency_map, gt_map))


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
    fix, shape = _marked(fixation_map, None, "fixation_map")
    other, _ = _marked(other_map, shape, "other_map")
    if np.shape(gt_map) != shape:
        raise ValueError(f"gt_map has shape {np.shape(gt_map)}, expected {shape} (the fixation map's)")
    pred = _Map(saliency_map, shape, "saliency_map", "pred")
    pair = _Pair(pred, _Map(gt_map, None, "gt_map", "gt", sparse_ok=True))
    gen = np.random.default_rng(rng)
    return {
        "auc_judd": _auc_judd_kernel(pred, fix, bool(jitter), gen),
        "auc_shuffled": _auc_shuffled_kernel(pred, fix, other, n_splits, step, gen),
        "nss": _nss_kernel(pred, fix),
        "cc": _cc_kernel(pair),
        "sim": _sim_kernel(pair),
        "kld": _kld_kernel(pair),
    }
