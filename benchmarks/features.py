#!/usr/bin/env python
"""Throughput of the I3D feature stage (salprep.stages.i3d) against a naive window loop.

    python benchmarks/features.py [--device cpu|cuda] [--size 160] [--window 79] [--frames N]
                                  [--batch-sizes 1,4] [--dtypes float32,bfloat16]
                                  [--channels-last] [--compile] [--torch-threads N]

Baseline: "naive, one window at a time": for every window end t, the 79 frames t-78..t are taken
from the decoded video, converted to [-1, 1] on the CPU (float32), moved to the device and run
through I3D alone, in float32. Measured against it, in the same run, on the same frames and
random-init weights:

* "shared": the stage's own path -- the SlidingWindows ring buffer (every frame converted once,
  uint8 chunks of one batch of windows moved to the device and cut into windows there) and
  batches of windows (``--batch-sizes``), for each ``--dtypes`` autocast dtype, optionally with
  channels_last_3d input and torch.compile;
* preprocessing alone (no network): naive per-window conversion vs the shared chunk path, which
  is what sharing frames across windows saves independently of the network's cost.

Also: stored bytes per frame (pooled 1024x5x5x5 float16 features, gzip-4 with shuffle in HDF5
when h5py is present, else raw) and the projection for DHF1K: 582,605 windows per modality at
stride 1 (700 annotated + 300 test videos), hours per stream and store size per stream.

Frames are synthetic (smooth moving noise, uint8) held in memory: decoding is not timed (it is
the same for every path). Needs only numpy and torch (no PyAV, Snakemake or OpenCV), so it runs
on a bare GPU machine. Timings on shared machines are approximate.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from salprep.models.i3d import InceptionI3d, random_i3d_state_dict  # noqa: E402
from salprep.stages.i3d import mixed5c_shape, pool_features, pool_geometry, windows_compute  # noqa: E402
from salprep.stages.samplers import SlidingWindows  # noqa: E402

BASELINE = "naive, one window at a time (float32)"
DHF1K_WINDOWS = 582_605  # per modality, stride 1
POOLED = (5, 5, 5)


def synthetic_frames(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` (size, size, 3) uint8 RGB frames: smooth noise drifting by a pixel per frame."""
    rng = np.random.default_rng(seed)
    base = rng.random((size // 4 + n + 2, size // 4 + 2, 3)).astype(np.float32)
    big = np.kron(base, np.ones((4, 4, 1), np.float32))
    return [np.ascontiguousarray((big[t: t + size, :size] * 255).astype(np.uint8)) for t in range(n)]


def build_net(device, channels_last: bool, compile_: bool):
    net = InceptionI3d(3)
    net.load_state_dict(random_i3d_state_dict(0, "rgb"), strict=False)
    net = net.eval().to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last_3d)
    return torch.compile(net) if compile_ else net


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def naive(net, frames, window: int, device, kernel, stride, run_net: bool = True) -> tuple[float, int]:
    """(seconds, windows): each window re-converted from uint8 and run alone, float32."""
    n = 0
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        for t in range(window - 1, len(frames)):
            clip = np.stack(frames[t - window + 1: t + 1]).astype(np.float32) * (2 / 255) - 1  # (L, H, W, 3)
            x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].to(device)
            if run_net:
                pool_features(net(x), kernel, stride).float().cpu().numpy().astype(np.float16)
            n += 1
    _sync(device)
    return time.perf_counter() - start, n


def shared(net, frames, window: int, batch: int, device, dtype: str, kernel, stride,
           channels_last: bool = False, run_net: bool = True) -> tuple[float, int]:
    """(seconds, windows): the stage's ring buffer + on-device windows, batches of ``batch``."""
    sampler = SlidingWindows(window, 1)
    if run_net:
        model = net
        if channels_last:
            def model(x):  # noqa: E306 - channels_last_3d input for the benchmark only
                return net(x.contiguous(memory_format=torch.channels_last_3d))
        compute = windows_compute(model, device, "rgb", 1.0, kernel, stride, True, "benchmark")
    else:
        def compute(b):  # conversion and window cutting only
            chunk = torch.from_numpy(b.data.frames).to(device).permute(3, 0, 1, 2).float().mul_(2 / 255).sub_(1)
            return torch.stack([chunk[:, s: s + b.data.length] for s in b.data.starts])
    n = 0
    ctx = torch.autocast(device_type=device.type, dtype=getattr(torch, dtype)) if dtype != "float32" else None
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        if ctx is not None:
            ctx.__enter__()
        try:
            for b in sampler.batches(iter(frames), len(frames), batch):
                compute(b)
                n += len(b)
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
    _sync(device)
    return time.perf_counter() - start, n


def stored_bytes_per_window(features: np.ndarray) -> tuple[float, str]:
    """Bytes per stored window of pooled float16 features, as the store writes them."""
    try:
        import h5py
    except ImportError:
        return float(features[0].nbytes), "raw (no h5py)"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.h5")
        with h5py.File(path, "w") as h5:
            h5.create_dataset("features", data=features, chunks=(1, *features.shape[1:]),
                              compression="gzip", compression_opts=4, shuffle=True)
        size = os.path.getsize(path)
    return size / len(features), "HDF5 gzip-4 + shuffle"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None, help="input size (default: 160 on CPU, 224 on CUDA)")
    parser.add_argument("--window", type=int, default=79)
    parser.add_argument("--frames", type=int, default=None, help="video length (default: window + 5 on CPU, "
                        "window + 255 on CUDA)")
    parser.add_argument("--batch-sizes", default=None, help="comma list (default: 1,4 on CPU; 1,8,16,32 on CUDA)")
    parser.add_argument("--dtypes", default=None, help="comma list (default: float32 on CPU; float32,bfloat16,"
                        "float16 on CUDA)")
    parser.add_argument("--channels-last", action="store_true", help="also measure channels_last_3d")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile")
    parser.add_argument("--torch-threads", type=int, default=None)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if cuda:
        torch.backends.cudnn.benchmark = True
    size = args.size or (224 if cuda else 160)
    n_frames = args.frames or (args.window + (255 if cuda else 5))
    batches = [int(b) for b in (args.batch_sizes or ("1,8,16,32" if cuda else "1,4")).split(",")]
    dtypes = (args.dtypes or ("float32,bfloat16,float16" if cuda else "float32")).split(",")
    full = mixed5c_shape(args.window, size, size)
    kernel, stride = pool_geometry(full[1:], POOLED)
    frames = synthetic_frames(n_frames, size)
    n_windows = n_frames - args.window + 1
    print(f"device {device} ({torch.cuda.get_device_name(device) if cuda else f'{torch.get_num_threads()} threads'}),"
          f" torch {torch.__version__}, {n_frames} frames -> {n_windows} windows of {args.window}x{size}x{size},"
          f" Mixed_5c {'x'.join(map(str, full[1:]))} pooled {kernel}/{stride} to 5x5x5")

    net = build_net(device, False, False)
    shared(net, frames[: args.window], args.window, 1, device, "float32", kernel, stride)  # warm-up

    # preprocessing alone: what sharing frames across windows saves
    t_pre_naive, _ = naive(net, frames, args.window, device, kernel, stride, run_net=False)
    t_pre_shared, _ = shared(net, frames, args.window, max(batches), device, "float32", kernel, stride,
                             run_net=False)
    print(f"preprocessing only ({n_windows} windows): naive {t_pre_naive * 1e3 / n_windows:.1f} ms/window, "
          f"shared (batch {max(batches)}) {t_pre_shared * 1e3 / n_windows:.1f} ms/window "
          f"(x{t_pre_naive / t_pre_shared:.1f})")

    rows = []
    t_base, n = naive(net, frames, args.window, device, kernel, stride)
    base_rate = n / t_base
    rows.append((BASELINE, base_rate))
    variants = [(d, False, False) for d in dtypes]
    if args.channels_last:
        variants += [(d, True, False) for d in dtypes]
    if args.compile:
        variants += [(d, False, True) for d in dtypes]
    for dtype, channels_last, compile_ in variants:
        model = build_net(device, channels_last, compile_)
        for batch in batches:
            if compile_ or channels_last:
                shared(model, frames[: args.window + batch - 1], args.window, batch, device, dtype, kernel, stride,
                       channels_last)  # warm-up / compilation
            t, n = shared(model, frames, args.window, batch, device, dtype, kernel, stride, channels_last)
            label = f"shared, batch {batch}, {dtype}" + (", channels_last_3d" if channels_last else "") + \
                (", torch.compile" if compile_ else "")
            rows.append((label, n / t))

    print("\n| setting | windows/s | ratio vs baseline | DHF1K hours per stream |")
    print("|---|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:.2f} | x{rate / base_rate:.2f} | {DHF1K_WINDOWS / rate / 3600:.1f} |")
    best = max(rows, key=lambda r: r[1])

    # store size: pooled float16 features of real (random-init) windows
    with torch.inference_mode():
        x = torch.stack([torch.from_numpy(np.stack(frames[t - args.window + 1: t + 1])).permute(3, 0, 1, 2)
                         for t in range(args.window - 1, min(n_frames, args.window + 3))]).to(device)
        feats = pool_features(net(x.float() * (2 / 255) - 1), kernel, stride).float().cpu().numpy().astype(np.float16)
    per_window, how = stored_bytes_per_window(feats)
    print(f"\nstored per frame (stride 1: one window per frame): {per_window / 1e3:.1f} kB ({how}; raw "
          f"{feats[0].nbytes / 1e3:.1f} kB = 1024x5x5x5 float16)")
    print(f"DHF1K ({DHF1K_WINDOWS:,} windows per modality): {DHF1K_WINDOWS * per_window / 1e9:.1f} GB per stream "
          f"stored (raw {DHF1K_WINDOWS * feats[0].nbytes / 1e9:.1f} GB; target <= 160 GB); best setting "
          f"'{best[0]}': {DHF1K_WINDOWS / best[1] / 3600:.1f} h per stream, "
          f"{2 * DHF1K_WINDOWS / best[1] / 3600:.1f} h for both")
    if not math.isfinite(per_window):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
