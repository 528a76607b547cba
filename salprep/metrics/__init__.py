"""The six MIT saliency benchmark metrics, as the benchmark's MATLAB code computes them.

``from salprep.metrics import auc_judd, auc_shuffled, nss, cc, sim, kld, all_metrics, resize_to,
EPS`` (CONTRACT.md). The package is layered, each module importing only those below it:

- :mod:`~salprep.metrics.definitions`: the public functions, one per metric, as METRICS.md
  defines them (conventions, edge cases, randomness);
- the speed machinery they call, which returns the literal definitions' values faster
  (``all_metrics`` x8-9 per 360x640 frame against a literal port of the MATLAB code,
  ``benchmarks/metrics.py``): :mod:`~salprep.metrics.judd` (AUC-Judd's counts and jitter),
  :mod:`~salprep.metrics.sauc` (sAUC's splits), :mod:`~salprep.metrics.sums` (NSS, CC, SIM,
  KLD), :mod:`~salprep.metrics.maps` (maps prepared once, per-thread work arrays, chunked dots);
- :mod:`~salprep.metrics.matlab`: MATLAB's ``eps`` (:data:`EPS`), ``imresize``
  (:func:`resize_to`) and ``0:step:end``, which both layers use.
"""

from salprep.metrics.definitions import (
    METRICS,
    all_metrics,
    auc_judd,
    auc_shuffled,
    cc,
    kld,
    nss,
    sim,
)
from salprep.metrics.matlab import EPS, resize_to

__all__ = ["EPS", "METRICS", "all_metrics", "auc_judd", "auc_shuffled", "cc", "kld", "nss", "resize_to", "sim"]
