"""Speed machinery shared by the metrics: maps prepared once, per-thread work arrays, chunked dots.

Why it exists: evaluation computes all six metrics on every scored frame of every video, so
their cost per frame adds up over a dataset. What it speeds up, measured with
``benchmarks/metrics.py`` (360x640 frames, 2-core VM, numpy 2.4, two runs; median time per
frame of the literal port / salprep's): :func:`~salprep.metrics.all_metrics` x8.4-9.3 with ~20
fixations (31-46 ms -> 3.7-4.9 ms), x8.8 with ~300 (96-112 ms -> 11-13 ms); NSS x3.1-3.2, CC
x5.5-6.2, SIM x2.5-3.2, KLD x3.8-4.5 on their own. This module provides the parts every metric uses:

- :class:`Map`: a map cast to float64 once (into a work array), with its min, max, sum, sum of
  squares and sum of squared deviations computed lazily and cached, so that ``all_metrics``
  shares them between the six metrics. Sums are one-pass (sum of squares - sum**2 / N) when that
  loses less than ~2e-13 relative to cancellation (:data:`WELL_CONDITIONED`), else centred
  two-pass sums. A GT map >= 0 that is zero on most pixels is handled on its support (the other
  pixels add nothing to any sum the metrics need).
- :func:`dot`: sums of products as BLAS ddots over rows of at most 8192 elements (one ddot over
  a frame wakes OpenBLAS's thread pool: 2-20 ms per call on a busy machine instead of 0.01 ms).
- :func:`scratch`: frame-sized temporaries in per-thread work arrays (allocating and freeing
  them per call made glibc hand the memory back and fault it in again every time, which tripled
  AUC-Judd's time).

None of this changes a value: the metrics return the scores of the literal definitions
(``benchmarks/metrics_reference.py``, a line-by-line port of the MATLAB code) up to float64
rounding of sums taken in another order, which ``tests/test_metrics.py`` bounds and the benchmark
checks (<= 1e-12 relative; 6e-16 measured).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from salprep.metrics.matlab import resize_to

__all__ = ["WELL_CONDITIONED", "Map", "Pair", "arange", "dot", "marked", "scratch"]

_SUBSET_DENSITY = 0.5  # a GT map >= 0 non-zero on fewer pixels is handled on its support
WELL_CONDITIONED = 1e3  # one-pass sums when cancellation costs < ~2e-13 relative

_DOT_ROW = 8192  # OpenBLAS computes a ddot of at most 10000 elements on the calling thread


def dot(a: np.ndarray, b: np.ndarray) -> float:
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


def scratch(key: str, size: int, dtype: Any = np.float64) -> np.ndarray:
    """This thread's reusable 1-D work array ``key`` with ``size`` elements (contents undefined)."""
    ws = _tls.__dict__.setdefault("ws", {})
    buf = ws.get(key)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = np.empty(size, dtype=dtype)
        ws[key] = buf
    return buf[:size]


def arange(size: int) -> np.ndarray:
    """0, 1, ..., size - 1 (intp), cached per thread; read it, never write it."""
    ws = _tls.__dict__.setdefault("ws", {})
    buf = ws.get("arange")
    if buf is None or buf.size < size:
        buf = np.arange(size, dtype=np.intp)
        ws["arange"] = buf
    return buf[:size]


# --------------------------------------------------------------------------------------------
# Prepared maps
# --------------------------------------------------------------------------------------------


class Map:
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
        values: npt.ArrayLike,
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
            flat = scratch(key, a.size)
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
                mask = scratch(self.key + ".mask", self.size, np.bool_)
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
            self._sumsq = dot(v, v)
        return self._sumsq

    @property
    def mean(self) -> float:
        return self.sum / self.size  # as np.mean

    def centered(self) -> np.ndarray:
        """flat - mean, in a work array."""
        out = scratch(self.key + ".centered", self.size)
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
            if one_pass > 0.0 and self.sumsq <= WELL_CONDITIONED * one_pass:
                self._ss = one_pass
            else:
                c = self.centered()
                self._ss = dot(c, c)
        return self._ss

    def sum_above_min(self) -> float:
        """sum(flat - min), without the cancellation of sum - N * min when that would hurt."""
        mn = self.mn
        if mn == 0.0:
            return self.sum
        shifted = self.sum - self.size * mn
        if abs(self.size * mn) <= WELL_CONDITIONED * abs(shifted):
            return shifted
        out = scratch(self.key + ".shifted", self.size)
        np.subtract(self.flat, mn, out=out)
        return float(out.sum())


class Pair:
    """A prediction and a GT map of the same shape, with the prediction sampled on the GT support."""

    __slots__ = ("pred", "gt", "_pred_at")

    def __init__(self, pred: Map, gt: Map):
        self.pred = pred
        self.gt = gt
        self._pred_at = None

    @classmethod
    def of(cls, saliency_map: npt.ArrayLike, gt_map: npt.ArrayLike) -> Pair:
        """Prediction (resized to the GT's shape if needed) and GT map, for CC, SIM and KLD."""
        gt = Map(gt_map, None, "gt_map", "gt", sparse_ok=True)
        shape = np.shape(gt_map)
        return cls(Map(saliency_map, shape, "saliency_map", "pred"), gt)

    def pred_at_support(self) -> np.ndarray:
        if self._pred_at is None:
            self._pred_at = self.pred.flat[self.gt.support[0]]  # type: ignore[index]
        return self._pred_at

    def cross(self) -> float:
        """sum(S * G)."""
        sup = self.gt.support
        if sup is None:
            return dot(self.pred.flat, self.gt.flat)
        return dot(self.pred_at_support(), sup[1])


def marked(marks: npt.ArrayLike, shape: tuple[int, ...] | None, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Flat indices (ascending) of the pixels with value > 0, and the map's shape."""
    m = np.asarray(marks)
    if m.ndim != 2:
        raise ValueError(f"{what} must be 2-D (H, W), got shape {m.shape}")
    if shape is not None and m.shape != shape:
        raise ValueError(f"{what} has shape {m.shape}, expected {shape}")
    if m.dtype == np.bool_:
        return m.reshape(-1).nonzero()[0], m.shape
    mask = scratch(what + ".mask", m.size, np.bool_)
    np.greater(m, 0, out=mask.reshape(m.shape))
    return mask.nonzero()[0], m.shape
