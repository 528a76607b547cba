#!/usr/bin/env python
"""Throughput of batched torch TV-L1 (salprep.flow.tvl1.tvl1_torch) against OpenCV's DualTVL1.

    python benchmarks/flow.py [--device cpu|cuda] [--batch-sizes 1,8,64,256] [--sizes 112,224]
                              [--pairs N] [--compile] [--torch-threads N] [--repeats N]

Baseline: "OpenCV DualTVL1, 1 thread" (cv2.setNumThreads(1), one pair after the other). Also
measured: OpenCV on all cores (a process pool over pairs, one OpenCV thread per process) and
tvl1_torch per batch size on the chosen device. All with OpenCV's default parameters. Pairs are
synthetic but "real-ish": a multi-scale texture with a few flat-shaded shapes (edges), moved by
a random global affine motion plus one independently moving object, rendered analytically at
each size. The EPE (mean end-point error against the known flow, 8-px border excluded) of both
implementations on one such pair per size is reported, and the time of one primal-dual
iteration for a batch at the smallest size (difference of two runs with different
inner_iterations on a single level, no median, epsilon 0).

Runs without OpenCV (e.g. on a GPU machine with torch only): then only torch is measured and a
notice says so. Timings on shared machines are approximate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from salprep.flow.tvl1 import tvl1_opencv, tvl1_torch  # noqa: E402

try:
    import cv2
except ImportError:  # torch-only machine
    cv2 = None

BASELINE = "OpenCV DualTVL1, 1 thread"
BORDER = 8


# ------------------------------------------------------------------------------------------------
# synthetic "real-ish" pairs with known flow


def _scene(seed: int):
    """An analytic grey scene: function (x, y) -> 0..255 in a 0..1 normalised frame."""
    rng = np.random.default_rng(seed)
    n = 48
    freq = rng.uniform(1.5, 40.0, n)  # cycles per frame width
    ang = rng.uniform(0.0, np.pi, n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    amp = freq ** -0.8
    kx, ky = 2 * np.pi * freq * np.cos(ang), 2 * np.pi * freq * np.sin(ang)
    shapes = [
        (rng.uniform(0.1, 0.9, 2), rng.uniform(0.05, 0.2), rng.uniform(-60, 60), rng.integers(2))
        for _ in range(5)
    ]

    def render(x, y):
        v = (amp * np.sin(x[..., None] * kx + y[..., None] * ky + phase)).sum(-1)
        v = 128.0 + 35.0 * v / np.sqrt((amp**2).sum() / 2)
        for (cx, cy), r, shade, disk in shapes:
            inside = ((x - cx) ** 2 + (y - cy) ** 2 < r * r) if disk else (
                (np.abs(x - cx) < r) & (np.abs(y - cy) < r))
            v = np.where(inside, v + shade, v)
        return np.clip(v, 0, 255)

    return render


def make_pair(size: int, seed: int):
    """(first uint8, second uint8, flow (H, W, 2) px): first(x) = second(x + flow(x))."""
    rng = np.random.default_rng(10_000 + seed)
    scene, obj = _scene(seed), _scene(seed + 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2.0
    a = np.deg2rad(rng.uniform(-3, 3))
    s = 1.0 + rng.uniform(-0.04, 0.04)
    t = rng.uniform(-0.025, 0.025, 2) * size  # up to ~2.8 px at 112, 5.6 px at 224
    xn = s * (np.cos(a) * (xx - c) - np.sin(a) * (yy - c)) + c + t[0]
    yn = s * (np.sin(a) * (xx - c) + np.cos(a) * (yy - c)) + c + t[1]
    fx, fy = xn - xx, yn - yy
    # an object (a disk of another texture) moving independently
    ocx, ocy, orad = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.18)
    od = rng.uniform(-0.03, 0.03, 2) * size
    in_obj = (xx / size - ocx) ** 2 + (yy / size - ocy) ** 2 < orad**2
    fx = np.where(in_obj, od[0], fx)
    fy = np.where(in_obj, od[1], fy)
    u = lambda px: px / size  # noqa: E731
    first = np.where(in_obj, obj(u(xx + fx), u(yy + fy)), scene(u(xx + fx), u(yy + fy)))
    moved = (u(xx - od[0]) - ocx) ** 2 + (u(yy - od[1]) - ocy) ** 2 < orad**2
    second = np.where(moved, obj(u(xx), u(yy)), scene(u(xx), u(yy)))
    q = lambda im: np.clip(np.rint(im), 0, 255).astype(np.uint8)  # noqa: E731
    return q(first), q(second), np.stack([fx, fy], -1).astype(np.float32)


def epe(est, gt):
    err = np.sqrt(((est - gt) ** 2).sum(-1))[BORDER:-BORDER, BORDER:-BORDER]
    return float(err.mean())


# ------------------------------------------------------------------------------------------------
# timing


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cv_worker_init():
    cv2.setNumThreads(1)


def _cv_worker(pair):
    return tvl1_opencv(pair[0], pair[1])


def time_opencv_1thread(pairs):
    cv2.setNumThreads(1)
    tvl1_opencv(*pairs[0])  # warm-up
    t = time.perf_counter()
    for first, second in pairs:
        tvl1_opencv(first, second)
    return len(pairs) / (time.perf_counter() - t)


def time_opencv_pool(pairs, processes):
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes, initializer=_cv_worker_init) as pool:
        pool.map(_cv_worker, pairs[:processes], chunksize=1)  # start-up and warm-up
        t = time.perf_counter()
        pool.map(_cv_worker, pairs, chunksize=1)
        return len(pairs) / (time.perf_counter() - t)


def _batch(pairs, batch_size, device):
    idx = [i % len(pairs) for i in range(batch_size)]
    first = torch.from_numpy(np.stack([pairs[i][0] for i in idx]))[:, None].to(device)
    second = torch.from_numpy(np.stack([pairs[i][1] for i in idx]))[:, None].to(device)
    return first, second


def time_torch(pairs, batch_size, device, compile, repeats):
    first, second = _batch(pairs, batch_size, device)
    tvl1_torch(first, second, compile=compile)  # warm-up (and compilation)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        tvl1_torch(first, second, compile=compile)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return batch_size / best


def time_iteration(pairs, batch_size, device, compile, n1=10, n2=60):
    first, second = _batch(pairs, batch_size, device)
    times = {}
    for n in (n1, n2):
        kw = dict(nscales=1, warps=1, outer_iterations=1, inner_iterations=n, epsilon=0.0,
                  median_filtering=1, compile=compile)
        tvl1_torch(first, second, **kw)
        _sync(device)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            tvl1_torch(first, second, **kw)
            _sync(device)
            best = min(best, time.perf_counter() - t)
        times[n] = best
    return (times[n2] - times[n1]) / (n2 - n1)


# ------------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="device for tvl1_torch (default: cuda when available)")
    ap.add_argument("--batch-sizes", default=None,
                    help="comma-separated torch batch sizes "
                         "(default 1,8,64,256 on cuda, 1,8,32 on cpu)")
    ap.add_argument("--sizes", default="112,224", help="square frame sizes in px (default 112,224)")
    ap.add_argument("--pairs", type=int, default=32,
                    help="distinct pairs per size (OpenCV timing; torch batches cycle "
                         "through them)")
    ap.add_argument("--compile", action="store_true", help="tvl1_torch(compile=True)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads for the CPU device (default: torch's default)")
    ap.add_argument("--repeats", type=int, default=2,
                    help="timed torch runs per setting (best kept)")
    ap.add_argument("--processes", type=int, default=os.cpu_count(),
                    help="OpenCV pool size (default: all cores)")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device available")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    default_bs = "1,8,64,256" if device.type == "cuda" else "1,8,32"
    batch_sizes = [int(b) for b in (args.batch_sizes or default_bs).split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"torch {torch.__version__} on {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
             f" ({torch.get_num_threads()} intra-op threads)")
          + f", compile={args.compile}; {os.cpu_count()} CPU cores visible")
    if cv2 is None:
        print("NOTICE: OpenCV (cv2) is not installed here: measuring tvl1_torch only; no baseline "
              f"'{BASELINE}', no ratios, no OpenCV EPE.")
    else:
        print(f"OpenCV {cv2.__version__}; baseline = '{BASELINE}'")
    print("Default TV-L1 parameters (OpenCV's) everywhere.\n")

    rows = []
    for size in sizes:
        pairs = [make_pair(size, seed)[:2] for seed in range(args.pairs)]
        first, second, gt = make_pair(size, 999)
        print(f"== {size}x{size}, {len(pairs)} distinct pairs")
        ft = tvl1_torch(torch.from_numpy(first)[None, None].to(device),
                        torch.from_numpy(second)[None, None].to(device), compile=args.compile)
        epe_t = epe(ft[0].permute(1, 2, 0).cpu().numpy(), gt)
        base = None
        if cv2 is not None:
            cv2.setNumThreads(1)
            epe_cv = epe(tvl1_opencv(first, second), gt)
            print(f"   EPE on a known-flow pair (|flow| max {np.abs(gt).max():.1f} px): "
                  f"OpenCV {epe_cv:.4f} px, torch {epe_t:.4f} px")
            base = time_opencv_1thread(pairs)
            rows.append((size, BASELINE, base))
            print(f"   {BASELINE:34s} {base:9.2f} pairs/s   x1.00")
            if args.processes and args.processes > 1:
                pool = time_opencv_pool(pairs, args.processes)
                name = f"OpenCV DualTVL1, {args.processes} procs x 1 thread"
                rows.append((size, name, pool))
                print(f"   {name:34s} {pool:9.2f} pairs/s   x{pool / base:.2f}")
        else:
            print(f"   EPE on a known-flow pair: torch {epe_t:.4f} px")
        for bs in batch_sizes:
            try:
                rate = time_torch(pairs, bs, device, args.compile, args.repeats)
            except torch.OutOfMemoryError:
                print(f"   tvl1_torch batch {bs}: out of memory")
                continue
            name = f"tvl1_torch {device.type} batch {bs}"
            rows.append((size, name, rate))
            ratio = f"x{rate / base:.2f}" if base else ""
            print(f"   {name:34s} {rate:9.2f} pairs/s   {ratio}", flush=True)
    # one primal-dual iteration at the smallest size, largest batch
    size, bs = min(sizes), max(batch_sizes)
    pairs = [make_pair(size, seed)[:2] for seed in range(min(args.pairs, bs))]
    it = time_iteration(pairs, bs, device, args.compile)
    print(f"\nOne primal-dual iteration, batch {bs} at {size}x{size} on {device.type}: "
          f"{it * 1e3:.3f} ms ({it * 1e6 / bs:.2f} us per pair)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
