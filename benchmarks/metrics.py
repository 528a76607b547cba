"""Time salprep.metrics against a literal numpy port of the MIT MATLAB metric code.

Run:  python benchmarks/metrics.py [--repeats N] [--frames K]

Baseline: ``benchmarks/metrics_reference.py``, the "literal numpy port of the MIT MATLAB
code" (one function per .m file, loops as in MATLAB). Both sides get the same
synthetic DHF1K-like frames (360x640): a smooth float32 prediction (blobs + centre bias), an
8-bit GT map (blurred fixations, quantised like DHF1K's PNGs, / 255), a binary fixation map and
the merged fixations of 10 other frames as sAUC's other map. Two cases: ~20 fixations per frame
(DHF1K-like) and ~300. The same seed goes to both sides, so the scores must agree; the script
checks that (|a - b| <= 1e-12 * max(1, |b|)) and prints the median time per frame of each
metric, of all six (reference: the six functions; salprep: ``all_metrics``) and the speed-ups.
Timings are wall-clock (time.perf_counter), median over repeats x frames, the reference and
salprep calls interleaved so both see the same machine load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metrics_reference as ref  # noqa: E402

from salprep import metrics as fast  # noqa: E402

SHAPE = (360, 640)
NAMES = ("auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld")


def _points(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    """(n, 2) int (y, x) points scattered around random ones of ``centres``, inside the frame."""
    pick = centres[rng.integers(0, len(centres), n)]
    pts = np.rint(pick + rng.normal(0.0, spread, (n, 2))).astype(int)
    pts[:, 0] = np.clip(pts[:, 0], 0, SHAPE[0] - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, SHAPE[1] - 1)
    return pts


def _centres(rng: np.random.Generator, k: int) -> np.ndarray:
    return np.stack([rng.uniform(40, SHAPE[0] - 40, k), rng.uniform(60, SHAPE[1] - 60, k)], axis=1)


def make_frame(rng: np.random.Generator, n_fix: int) -> dict[str, np.ndarray]:
    """One synthetic frame: prediction, fixation map, GT map, other map."""
    centres = _centres(rng, 3)
    fix_pts = _points(rng, centres, n_fix, 25.0)
    fixation = np.zeros(SHAPE, dtype=bool)
    fixation[fix_pts[:, 0], fix_pts[:, 1]] = True
    gt = gaussian_filter(fixation.astype(np.float64), sigma=19.0)
    gt = np.rint(255.0 * gt / gt.max()) / 255.0  # DHF1K's GT PNG / 255
    # prediction: blobs near (not on) the attended centres plus a centre bias, float32 like a net
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    pred = 0.3 * np.exp(-(((yy - 180) / 120.0) ** 2 + ((xx - 320) / 200.0) ** 2))
    for cy, cx in centres + rng.normal(0.0, 20.0, centres.shape):
        pred += np.exp(-(((yy - cy) / 40.0) ** 2 + ((xx - cx) / 40.0) ** 2))
    pred += 0.05 * gaussian_filter(rng.random(SHAPE), 3.0)
    pred = (pred / pred.max()).astype(np.float32)
    other = np.zeros(SHAPE, dtype=np.float64)
    for _ in range(10):
        pts = _points(rng, _centres(rng, 3), n_fix, 25.0)
        np.add.at(other, (pts[:, 0], pts[:, 1]), 1.0)
    return {"pred": pred, "fix": fixation, "gt": gt, "other": other}


def _calls(module, frame: dict[str, np.ndarray], seed: int) -> dict[str, callable]:
    p, f, g, o = frame["pred"], frame["fix"], frame["gt"], frame["other"]
    return {
        "auc_judd": lambda: module.auc_judd(p, f, rng=seed),
        "auc_shuffled": lambda: module.auc_shuffled(p, f, o, rng=seed),
        "nss": lambda: module.nss(p, f),
        "cc": lambda: module.cc(p, g),
        "sim": lambda: module.sim(p, g),
        "kld": lambda: module.kld(p, g),
    }


def _time_pair(fn_ref, fn_fast, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock seconds of both callables, interleaved so both see the same machine load."""
    t_ref, t_fast = [], []
    for r in range(repeats):
        pairs = ((fn_ref, t_ref), (fn_fast, t_fast))
        for fn, out in pairs if r % 2 == 0 else pairs[::-1]:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return t_ref, t_fast


def _ref_all(frame: dict[str, np.ndarray], seed: int) -> dict[str, float]:
    """The six reference functions in all_metrics' rng order (jitter, then sAUC's splits)."""
    gen = np.random.default_rng(seed)
    p, f, g, o = frame["pred"], frame["fix"], frame["gt"], frame["other"]
    return {
        "auc_judd": ref.auc_judd(p, f, rng=gen),
        "auc_shuffled": ref.auc_shuffled(p, f, o, rng=gen),
        "nss": ref.nss(p, f),
        "cc": ref.cc(p, g),
        "sim": ref.sim(p, g),
        "kld": ref.kld(p, g),
    }


def _check(a: float, b: float) -> float:
    if np.isnan(a) and np.isnan(b):
        return 0.0
    return abs(a - b) / max(1.0, abs(b))


def run_case(n_fix: int, n_frames: int, repeats: int, seed: int = 0) -> tuple[dict, float]:
    rng = np.random.default_rng([seed, n_fix])
    frames = [make_frame(rng, n_fix) for _ in range(n_frames)]
    times_ref = {name: [] for name in NAMES + ("all six",)}
    times_fast = {name: [] for name in NAMES + ("all six",)}
    worst = 0.0
    for k, frame in enumerate(frames):
        seed_k = 1000 + k
        calls_ref = _calls(ref, frame, seed_k)
        calls_fast = _calls(fast, frame, seed_k)
        for name in NAMES:
            worst = max(worst, _check(calls_fast[name](), calls_ref[name]()))
            t_ref, t_fast = _time_pair(calls_ref[name], calls_fast[name], repeats)
            times_ref[name] += t_ref
            times_fast[name] += t_fast
        p, f, g, o = frame["pred"], frame["fix"], frame["gt"], frame["other"]
        got = fast.all_metrics(p, f, g, o, rng=seed_k)
        want = _ref_all(frame, seed_k)
        worst = max(worst, *(_check(got[nm], want[nm]) for nm in NAMES))
        t_ref, t_fast = _time_pair(
            lambda: _ref_all(frame, seed_k), lambda: fast.all_metrics(p, f, g, o, rng=seed_k), repeats
        )
        times_ref["all six"] += t_ref
        times_fast["all six"] += t_fast
    table = {
        name: (statistics.median(times_ref[name]) * 1e3, statistics.median(times_fast[name]) * 1e3)
        for name in times_ref
    }
    return table, worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per frame and metric")
    ap.add_argument("--frames", type=int, default=4, help="synthetic frames per case")
    args = ap.parse_args(argv)
    print(f"frame {SHAPE[0]}x{SHAPE[1]}; baseline: literal numpy port of the MIT MATLAB code "
          f"(benchmarks/metrics_reference.py); numpy {np.__version__}")
    ok = True
    for n_fix in (20, 300):
        table, worst = run_case(n_fix, args.frames, args.repeats)
        print(f"\n~{n_fix} fixations/frame, other map = 10 frames' fixations; "
              f"max |salprep - reference| / max(1, |reference|) = {worst:.1e}")
        print(f"{'metric':<14}{'reference ms':>14}{'salprep ms':>12}{'speed-up':>10}")
        for name, (t_ref, t_fast) in table.items():
            print(f"{name:<14}{t_ref:>14.3f}{t_fast:>12.3f}{t_ref / t_fast:>9.1f}x")
        ok &= worst <= 1e-12
    if not ok:
        print("\nVALUES DIFFER from the reference port")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
