#!/usr/bin/env python
"""One prepared GPU check: every CUDA path of the pipeline against the CPU, and its throughput.

    python benchmarks/gpu_check.py [--device cuda|cpu] [--tiny] [--only NAMES] [--budget-s S]
                                   [--json PATH] [--repeats N] [--compile] [--list]

Meant to be run once on a lent GPU machine (one H100 / H200, a bare image with python3, torch and
numpy only): no PyAV, Snakemake, OpenCV, h5py, scipy, matplotlib or tqdm is needed (salprep
modules are imported lazily, only the pure-torch ones; no torchvision either). Run it from the repository root. Estimated 4-6 minutes on
one H100, much of it compiling (not yet measured: written without a GPU); past ``--budget-s``,
300 s by default, no further compile path starts and no more timing is done, so that it ends
within 8 minutes.

Every path runs on synthetic input with structure (smooth moving textures, smooth flow fields,
Gaussian-blob saliency maps; never zeros) through seeded random weights made by the package's own
helpers and loaded by its own loaders (``save_random_*`` + ``load_*``), and compares the device
result with a CPU reference:

* relative error ``||out - ref|| / ||ref||`` (float64), NaN/Inf never passes. Bounds: float32
  with TF32 off 1e-4 (measured 5e-7..2e-6 against float64 on the CPU), TF32 convolutions 3e-3,
  float16 1e-2, bfloat16 2e-2 (measured 3e-3..8e-3 with CPU bf16 autocast);
* TV-L1 (iterative, thresholded, data-dependent stopping): per-pair mean end-point error against
  the CPU result, worst pair <= 0.05 px. Float32 rounding alone moves the mean flow by ~0.01 px at
  112 px (measured: torch CPU vs OpenCV 0.0002-0.013 px on 8 synthetic pairs, a 1e-3 grey-level
  input perturbation 0.009 px), while both are 0.06-0.11 px from the true flow: 0.05 px is 4x the
  rounding-level difference and half the method's own error. The EPE against OpenCV's
  DualTVL1 ("OpenCV-level error") and against the known true flow are reported beside it;
* training steps (autocast, as ``salprep.train.loop.fit``): the loss (dtype bound), the
  gradients (rel. error <= 0.25: LSTS's six train-mode BatchNorms amplify rounding in the
  backward, measured 4e-4 in float32 and 0.05-0.14 with bf16 autocast against float64; a wrong
  gradient is O(1)), gradient underflow (the share of the reference gradient's norm on entries
  that are exactly 0 on the device only, <= 1e-2: ReLU boundary flips and float16's range give
  1e-5..1e-3 here; a layer whose gradient vanished gives more) and the optimiser step (the
  family's optimiser from ``make_optimizer`` applied to the reference gradients on both sides,
  update rel. error <= 3e-3: float32 parameters hold an update only to half an ulp of the
  parameter, up to 6e-4 of an Adam step at lr 1e-5, measured 2e-4; a wrong step -- lr, sign,
  bias correction -- is O(1)).

References: float64 on the CPU in CPU mode; float32 on the CPU for the inference paths on a GPU
(TV-L1: float32 always, per pair); float64 on the CPU for the training steps.

Throughput: after warm-up, the median of ``--repeats`` timed runs (torch.cuda.Event on a GPU,
perf_counter on the CPU) on the stages' own code paths (I3D: the stage's ring-buffer windows and
``windows_compute``; SpyNet / monodepth2: uint8 frames converted on the device, float results
back on the host; training: one full step of the loop with the recipe's batch size; prediction:
``read_model`` + the predictor's batches of 8). Ratios are against the baseline of the same
run (I3D: float32 of the same stream; TV-L1 compiled: eager; bf16: float32). Targets: TV-L1 >=
3,000 pairs/s at 112x112, I3D RGB >= 360 windows/s at 79x224x224.

Paths (``--only`` takes comma-separated names or globs, e.g. ``--only 'i3d_rgb_*,tvl1'``):
tvl1, tvl1_compile, spynet, spynet_bf16, monodepth, monodepth_bf16, i3d_{rgb,flow}_{fp32,bf16,
cl_bf16,compile_bf16}, i3d_rgb_tf32, train_{lsts,salbce}_amp (the loop's --amp dtype: float16 on
CUDA, bfloat16 on the CPU), train_{lsts,salbce}_bf16 (CUDA only), predict_lsts, predict_salbce.
torch.compile paths run on CUDA (on the CPU only with ``--compile``); TF32 only on CUDA.

Output: one line per path as it finishes, then one table (path | agrees | throughput | target)
and notes; the same as JSON in ``--json PATH`` or ``$OUT/gpu_check.json`` (rewritten after each
path, so a killed run leaves what it had). Exit status 0 when every path that ran agrees, 1 when
any disagrees or errors (the table is printed either way), 2 for usage errors or no CUDA device
(without ``--device cpu``).

``--device cpu`` runs the same comparisons with both sides on the CPU (reference in float64);
``--tiny`` shrinks every size (TV-L1 16x16 with few iterations, I3D 16 frames x 32x32, SalBCE at
width 0.125 and 32x32, ...) so that the CPU mode takes seconds per path (the tests run it).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import fnmatch
import gc
import importlib.util
import json
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, REPO)

# ------------------------------------------------------------------------------------------------
# bounds

#: relative-error bounds by the precision the device path computes in
BOUNDS = {"float32": 1e-4, "tf32": 3e-3, "float16": 1e-2, "bfloat16": 2e-2}
TVL1_EPE_BOUND = 0.05  # px, worst pair's mean EPE device vs CPU
GRAD_BOUND = {"float32": 3e-3, "float16": 0.25, "bfloat16": 0.25}
UNDERFLOW_BOUND = 1e-2  # share of the reference gradient's norm on entries that are 0 on the device only
STEP_BOUND = 3e-3  # optimiser update on identical gradients (float32 parameters vs float64)

TVL1_TARGET = 3000.0  # pairs/s at 112x112, batched
I3D_RGB_TARGET = 360.0  # windows/s at 79x224x224
DEFAULT_BUDGET_S = 300.0  # then no new compile path (each may take 1-2 min) and no more timing

SEED = 0
TINY_LSTS_CHANNELS = 64


def rel_err(out, ref) -> float:
    """||out - ref|| / ||ref|| in float64 on the CPU; NaN if ``out`` has NaN/Inf or shapes differ."""
    out = torch.as_tensor(out).detach().to("cpu", torch.float64)
    ref = torch.as_tensor(ref).detach().to("cpu", torch.float64)
    if out.shape != ref.shape or not bool(torch.isfinite(out).all()):
        return float("nan")
    denom = float(ref.norm())
    num = float((out - ref).norm())
    if denom == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / denom


def agrees(value: float, bound: float) -> bool:
    """True when ``value`` is a finite number within ``bound`` (NaN and Inf never agree)."""
    return value is not None and math.isfinite(value) and value <= bound


def flow_epe(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    """Per-pair mean end-point error (px) of two (B, 2, H, W) flows; NaN where ``a`` is not finite."""
    a, b = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    if border and min(a.shape[-2:]) > 4 * border:
        a = a[..., border:-border, border:-border]
        b = b[..., border:-border, border:-border]
    err = ((a - b) ** 2).sum(1).sqrt().flatten(1).mean(1)
    finite = torch.isfinite(a).flatten(1).all(1)
    return torch.where(finite, err, torch.full_like(err, float("nan")))


# ------------------------------------------------------------------------------------------------
# results


@dataclasses.dataclass
class Result:
    path: str
    what: str = ""
    status: str = "ERROR"  # PASS | FAIL | ERROR | SKIP
    checks: list = dataclasses.field(default_factory=list)  # {name, value, bound, ok}
    rate: float | None = None
    unit: str = ""
    ratio: str = ""
    target: float | None = None
    target_met: bool | None = None
    notes: list = dataclasses.field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    def check(self, name: str, value: float, bound: float) -> None:
        value = float(value)
        self.checks.append({"name": name, "value": value, "bound": float(bound), "ok": agrees(value, bound)})

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finish(self) -> None:
        """Status of a path that ran to the end: PASS when every check agrees, else FAIL."""
        if not self.checks:
            self.status, self.error = "ERROR", "no comparison was made"
        else:
            self.status = "PASS" if all(c["ok"] for c in self.checks) else "FAIL"

    def worst(self) -> dict | None:
        def ratio(c):
            if not math.isfinite(c["value"]):
                return math.inf
            if c["bound"] <= 0:
                return 0.0 if c["value"] <= c["bound"] else math.inf
            return c["value"] / c["bound"]
        return max(self.checks, key=ratio) if self.checks else None

    def agrees_cell(self) -> str:
        if self.status == "SKIP":
            return f"SKIP ({self.error})"
        if self.status == "ERROR":
            return f"ERROR: {self.error}"
        w = self.worst()
        label = "" if len(self.checks) == 1 and w["name"] == "rel" else f"{w['name']} "
        return f"{self.status} {label}{w['value']:.2g} / {w['bound']:.2g}"

    def rate_cell(self) -> str:
        if self.rate is None:
            return "-"
        text = f"{self.rate:,.{0 if self.rate >= 100 else 1}f} {self.unit}" if self.rate >= 1 else \
            f"{self.rate:.2g} {self.unit}"
        return f"{text} ({self.ratio})" if self.ratio else text

    def target_cell(self, ctx) -> str:
        if self.target is None:
            return "-"
        if not ctx.cuda or ctx.tiny:
            return f">= {self.target:,.0f}: n/a ({'tiny' if ctx.tiny else 'cpu'})"
        if self.rate is None:
            return f">= {self.target:,.0f}: not measured"
        return f">= {self.target:,.0f}: {'met' if self.target_met else 'MISSED'}"


class Skip(Exception):
    """Raised by a path that cannot run here (not an error: no CUDA feature, over budget)."""


# ------------------------------------------------------------------------------------------------
# context: device, sizes, caches, timing


class Context:
    def __init__(self, args):
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.tiny = args.tiny
        self.compile_on_cpu = args.compile
        self.ref_dtype = torch.float32 if self.cuda else torch.float64
        self.repeats = args.repeats or (5 if self.cuda else (1 if self.tiny else 3))
        self.warmup = 1 if self.cuda else 0  # the comparison run before timing also warms up
        self.start = time.perf_counter()
        self.budget_s = args.budget_s
        self.tmp = tempfile.TemporaryDirectory(prefix="salprep-gpu-check-")
        self.cache: dict = {}
        self.rates: dict = {}
        # sizes
        t = self.tiny
        self.tvl1_size = 16 if t else 112
        self.tvl1_params = {"warps": 2, "outer_iterations": 2, "inner_iterations": 10} if t else {}
        self.tvl1_batch = args.tvl1_batch or (4 if t else (1024 if self.cuda else 8))
        self.tvl1_compare = 2 if t else 4
        self.tvl1_distinct = 4 if t else 32
        self.spynet_size = (40, 24) if t else (256, 192)  # W x H (stage default 256x192)
        self.spynet_batch = 2 if t else (32 if self.cuda else 4)
        self.mono_net = (64, 128) if t else (192, 640)  # network H x W (the checkpoint's)
        self.mono_frame = (48, 96) if t else (360, 640)  # input frames H x W (DHF1K)
        self.mono_batch = 2 if t else (32 if self.cuda else 4)
        self.i3d_window = 16 if t else 79
        self.i3d_size = 32 if t else 224
        self.i3d_batch = args.i3d_batch or (1 if t else (32 if self.cuda else 2))
        self.i3d_batches = 1 if t else 2  # batches of windows per timed run
        self.compare = 1 if t else 2  # items compared with the CPU reference (networks)
        self.salbce_size = (32, 32) if t else (192, 256)  # H x W (frames stage 256x192)
        self.salbce_width = 0.125 if t else 1.0
        self.lsts_batch = 1 if t else None  # None: the recipe's
        self.salbce_batch = 2 if t else None
        self.predict_batch = 2 if t else 8

    # timing
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def over_budget(self) -> bool:
        return self.budget_s is not None and self.elapsed() > self.budget_s

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def measure(self, res: Result, fn, items: int, unit: str) -> float | None:
        """Items per second: median of ``repeats`` timed calls of ``fn`` after ``warmup`` untimed ones."""
        res.unit = unit
        if self.over_budget():
            res.note(f"throughput not measured: past the {self.budget_s:.0f} s budget")
            return None
        for _ in range(self.warmup):
            fn()
        self.sync()
        times = []
        for _ in range(self.repeats):
            if self.cuda:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        res.rate = items / statistics.median(times)
        self.rates[res.path] = res.rate
        return res.rate

    def ratio(self, res: Result, baseline: str) -> None:
        base = self.rates.get(baseline)
        if res.rate is not None and base:
            res.ratio = f"x{res.rate / base:.2f} vs {baseline}"

    def cached(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def file(self, name: str) -> str:
        return os.path.join(self.tmp.name, name)


@contextlib.contextmanager
def tf32(enabled: bool):
    """TF32 convolutions and matmuls on (``enabled``) or off for the block (float32 paths: off)."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = (cudnn.allow_tf32, matmul.allow_tf32)
        cudnn.allow_tf32 = matmul.allow_tf32 = bool(enabled)
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cudnn.allow_tf32, matmul.allow_tf32 = saved


def run_context(device: torch.device, dtype: str | None):
    """What the stage runner wraps a batch in: inference mode, autocast to ``dtype`` (None: off)."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype is not None:
        stack.enter_context(torch.autocast(device_type=device.type, dtype=getattr(torch, dtype)))
    return stack


def deep_to(module: torch.nn.Module, device, dtype=None) -> torch.nn.Module:
    module = copy.deepcopy(module)
    return module.to(device=device, dtype=dtype) if dtype is not None else module.to(device)


# ------------------------------------------------------------------------------------------------
# synthetic input with structure


def smooth_field(shape, seed: int, cells: int = 6) -> np.ndarray:
    """float32 (..., H, W) in [0, 1]: bilinear-upsampled coarse noise plus a little fine noise."""
    rng = np.random.default_rng(seed)
    *lead, h, w = shape
    coarse = torch.from_numpy(rng.random((int(np.prod(lead or [1])), 1, cells, cells), dtype=np.float32))
    up = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    fine = torch.from_numpy(rng.random(up.shape, dtype=np.float32))
    out = (0.85 * up + 0.15 * fine).clamp_(0.0, 1.0)
    return out.reshape(shape).numpy()


def moving_rgb(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """(n, h, w, 3) uint8 RGB: a smooth texture drifting by (1, 2) px per frame, plus fine noise."""
    rng = np.random.default_rng(seed)
    big = smooth_field((3, h + 2 * n + 2, w + 2 * n + 2), seed)
    frames = np.stack([big[:, t: t + h, 2 * t: 2 * t + w] for t in range(n)])  # (n, 3, h, w)
    frames = 0.9 * frames + 0.1 * rng.random(frames.shape, dtype=np.float32)
    return np.ascontiguousarray((frames.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8))


def flow_codes(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """(n, 2, h, w) int8 LSTS flow codes of smooth flow fields in [-1, 1] (never all zero)."""
    field = smooth_field((n, 2, h, w), seed, cells=4) * 2.0 - 1.0
    return np.clip(np.rint(field * 127), -127, 127).astype(np.int8)


def blob_maps(b: int, h: int, w: int, seed: int) -> torch.Tensor:
    """(b, 1, h, w) float32 saliency maps in [0, 1]: three Gaussian blobs, max 1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    maps = []
    for _ in range(b):
        m = np.zeros((h, w))
        for _ in range(3):
            cy, cx = rng.random() * h, rng.random() * w
            s = (0.05 + 0.1 * rng.random()) * min(h, w) + 1.0
            m += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        maps.append(m / m.max())
    return torch.from_numpy(np.stack(maps)[:, None].astype(np.float32))


def to_rgb_tensor(frames: np.ndarray, device) -> torch.Tensor:
    """The stages' conversion of sampled RGB frames (numpy and torch only)."""
    from salprep.stages.samplers import rgb_to_tensor

    return rgb_to_tensor(frames, device)


# ------------------------------------------------------------------------------------------------
# TV-L1


def _flow_benchmark_module():
    """benchmarks/flow.py (its analytic pairs with known flow); needs only numpy and torch."""
    path = os.path.join(REPO, "benchmarks", "flow.py")
    spec = importlib.util.spec_from_file_location("_salprep_benchmarks_flow", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tvl1_data(ctx):
    def make():
        bench = _flow_benchmark_module()
        pairs = [bench.make_pair(ctx.tvl1_size, seed) for seed in range(ctx.tvl1_distinct)]
        idx = [i % len(pairs) for i in range(ctx.tvl1_batch)]
        first = torch.from_numpy(np.stack([pairs[i][0] for i in idx]))[:, None]
        second = torch.from_numpy(np.stack([pairs[i][1] for i in idx]))[:, None]
        truth = torch.from_numpy(np.stack([pairs[i][2] for i in idx])).permute(0, 3, 1, 2)
        return first, second, truth
    return ctx.cached("tvl1_data", make)


def _tvl1_reference(ctx):
    """CPU float32 flow of the compared pairs, one call per pair."""
    from salprep.flow.tvl1 import tvl1_torch

    def make():
        first, second, _ = _tvl1_data(ctx)
        n = min(ctx.tvl1_compare, len(first))
        return torch.cat([tvl1_torch(first[i: i + 1], second[i: i + 1], **ctx.tvl1_params) for i in range(n)])
    return ctx.cached("tvl1_ref", make)


def check_tvl1(ctx, res: Result, compile_: bool = False) -> None:
    from salprep.flow.tvl1 import tvl1_torch

    res.what = (f"TV-L1 batched (tvl1_torch{', compile=True' if compile_ else ''}), "
                f"{ctx.tvl1_size}x{ctx.tvl1_size}, batch {ctx.tvl1_batch}"
                + (f", {ctx.tvl1_params}" if ctx.tvl1_params else ", OpenCV's defaults"))
    if compile_ and not ctx.cuda and not ctx.compile_on_cpu:
        raise Skip("torch.compile on CPU: --compile")
    first_cpu, second_cpu, truth = _tvl1_data(ctx)
    first, second = first_cpu.to(ctx.device), second_cpu.to(ctx.device)
    ref = _tvl1_reference(ctx)
    n = len(ref)
    flow = tvl1_torch(first, second, compile=compile_, **ctx.tvl1_params)  # also warm-up / compilation
    out = flow[:n].float().cpu()
    epe = flow_epe(out, ref)
    res.check("EPE px", float(epe.max()) if bool(torch.isfinite(epe).all()) else math.nan,
              TVL1_EPE_BOUND)
    res.note(f"mean EPE vs CPU {float(epe.mean()):.4f} px over {n} pairs; finite flow everywhere: "
             f"{bool(torch.isfinite(flow).all())}")
    border = 8 if ctx.tvl1_size >= 64 else 0
    res.note(f"EPE vs the true flow{' (8-px border excluded)' if border else ''}: device "
             f"{float(flow_epe(out, truth[:n], border).mean()):.4f} px, CPU "
             f"{float(flow_epe(ref, truth[:n], border).mean()):.4f} px")
    try:
        import cv2  # noqa: F401
    except ImportError:
        res.note("OpenCV-level error: opencv absent")
    else:
        from salprep.flow.tvl1 import tvl1_opencv

        cv = torch.stack([torch.from_numpy(tvl1_opencv(first_cpu[i, 0].numpy(), second_cpu[i, 0].numpy(),
                                                       **ctx.tvl1_params)).permute(2, 0, 1) for i in range(n)])
        res.note(f"OpenCV-level error: EPE device vs OpenCV DualTVL1 {float(flow_epe(out, cv).mean()):.4f} px "
                 f"(CPU torch vs OpenCV {float(flow_epe(ref, cv).mean()):.4f} px)")
    del flow
    ctx.measure(res, lambda: tvl1_torch(first, second, compile=compile_, **ctx.tvl1_params), len(first), "pairs/s")
    res.target = TVL1_TARGET
    res.target_met = res.rate is not None and res.rate >= res.target
    if compile_:
        ctx.ratio(res, "tvl1")


# ------------------------------------------------------------------------------------------------
# SpyNet, monodepth2


def _spynet_cpu(ctx):
    from salprep.flow.spynet import load_spynet, save_random_spynet

    def make():
        path = ctx.file("network-random.pytorch")
        save_random_spynet(path, SEED)
        return load_spynet(path).eval()
    return ctx.cached("spynet", make)


def check_spynet(ctx, res: Result, dtype: str | None) -> None:
    w, h = ctx.spynet_size
    b = ctx.spynet_batch
    res.what = (f"SpyNet (load_spynet of save_random_spynet), {w}x{h} RGB pairs, batch {b}, "
                f"{dtype or 'float32'}")
    net_cpu = _spynet_cpu(ctx)
    frames = ctx.cached(("spynet_frames", w, h, b), lambda: moving_rgb(b + 1, h, w, 1))
    n = ctx.compare

    def ref_make():
        net = deep_to(net_cpu, "cpu", ctx.ref_dtype)
        with torch.inference_mode():
            return net(to_rgb_tensor(frames[:n], "cpu").to(ctx.ref_dtype),
                       to_rgb_tensor(frames[1: n + 1], "cpu").to(ctx.ref_dtype))
    ref = ctx.cached(("spynet_ref", w, h), ref_make)
    net = deep_to(net_cpu, ctx.device)

    def compute():
        with run_context(ctx.device, dtype):
            flow = net(to_rgb_tensor(frames[:-1], ctx.device), to_rgb_tensor(frames[1:], ctx.device))
        return flow.float().cpu()

    out = compute()
    res.check("rel", rel_err(out[:n], ref), BOUNDS[dtype or "float32"])
    res.note(f"mean |flow| {float(ref.abs().mean()):.2f} px")
    ctx.measure(res, compute, b, "pairs/s")
    if dtype:
        ctx.ratio(res, "spynet")


def _monodepth_cpu(ctx):
    from salprep.models.monodepth import load_monodepth2, save_random_monodepth2

    def make():
        h, w = ctx.mono_net
        enc, dec = ctx.file("encoder.pth"), ctx.file("depth.pth")
        save_random_monodepth2(enc, dec, SEED, height=h, width=w)
        return load_monodepth2(enc, dec).eval()
    return ctx.cached("monodepth", make)


def check_monodepth(ctx, res: Result, dtype: str | None) -> None:
    (nh, nw), (h, w), b = ctx.mono_net, ctx.mono_frame, ctx.mono_batch
    res.what = (f"monodepth2 (load_monodepth2 of save_random_monodepth2) at {nw}x{nh}, frames {w}x{h}, "
                f"batch {b}, {dtype or 'float32'}")
    net_cpu = _monodepth_cpu(ctx)
    frames = ctx.cached(("mono_frames", h, w, b), lambda: moving_rgb(b, h, w, 2))
    n = ctx.compare

    def ref_make():
        net = deep_to(net_cpu, "cpu", ctx.ref_dtype)
        with torch.inference_mode():
            return net(to_rgb_tensor(frames[:n], "cpu").to(ctx.ref_dtype))
    ref = ctx.cached(("mono_ref", h, w), ref_make)
    net = deep_to(net_cpu, ctx.device)

    def compute():
        with run_context(ctx.device, dtype):
            disp = net(to_rgb_tensor(frames, ctx.device))
        return disp.float().cpu()

    out = compute()
    res.check("rel", rel_err(out[:n], ref), BOUNDS[dtype or "float32"])
    res.note(f"disparity mean {float(ref.mean()):.3f}, std {float(ref.std()):.3f}")
    ctx.measure(res, compute, b, "frames/s")
    if dtype:
        ctx.ratio(res, "monodepth")


# ------------------------------------------------------------------------------------------------
# I3D


def _i3d_cpu(ctx, modality: str):
    from salprep.models.i3d import load_i3d, save_random_i3d

    def make():
        path = ctx.file(f"{modality}_random.pt")
        save_random_i3d(path, SEED + (modality == "flow"), modality)
        return load_i3d(path, modality).eval()
    return ctx.cached(("i3d", modality), make)


def _i3d_batches(ctx, modality: str):
    """The stage's ring-buffer batches (SlidingWindows, stride 1) of synthetic frames."""
    from salprep.stages.samplers import SlidingWindows

    def make():
        L, s, b = ctx.i3d_window, ctx.i3d_size, ctx.i3d_batch
        n_frames = L + ctx.i3d_batches * b - 1
        if modality == "rgb":
            frames = list(moving_rgb(n_frames, s, s, 3))
        else:
            frames = list(flow_codes(n_frames, s, s, 4))
        return list(SlidingWindows(L, 1).batches(iter(frames), n_frames, b))
    return ctx.cached(("i3d_batches", modality), make)


def _i3d_input(chunk, modality: str, device, scale: float) -> torch.Tensor:
    """(B, C, L, H, W) float windows of a WindowChunk, converted as ``windows_compute`` does."""
    frames = torch.from_numpy(chunk.frames).to(device)
    if modality == "rgb":
        frames = frames.permute(3, 0, 1, 2).float().mul_(2.0 / 255.0).sub_(1.0)
    else:
        frames = frames.permute(1, 0, 2, 3).float().mul_(scale).clamp_(-1.0, 1.0)
    return torch.stack([frames[:, s: s + chunk.length] for s in chunk.starts])


I3D_VARIANTS = {
    # name: (autocast dtype, channels_last_3d, torch.compile, TF32, bound key)
    "fp32": (None, False, False, False, "float32"),
    "tf32": (None, False, False, True, "tf32"),
    "bf16": ("bfloat16", False, False, False, "bfloat16"),
    "cl_bf16": ("bfloat16", True, False, False, "bfloat16"),
    "compile_bf16": ("bfloat16", False, True, False, "bfloat16"),
}


def check_i3d(ctx, res: Result, modality: str, variant: str) -> None:
    from salprep.flow.encode import LSTS_SCALE
    from salprep.stages.i3d import mixed5c_shape, pool_geometry, windows_compute

    dtype, channels_last, compile_, use_tf32, bound = I3D_VARIANTS[variant]
    L, s, b = ctx.i3d_window, ctx.i3d_size, ctx.i3d_batch
    res.what = (f"I3D {modality} Mixed_5c (load_i3d of save_random_i3d), {L}x{s}x{s} windows, batch {b}, "
                f"{dtype or 'float32'}" + (", channels_last_3d" if channels_last else "")
                + (", torch.compile" if compile_ else "") + (", TF32 convolutions" if use_tf32 else ""))
    if use_tf32 and not ctx.cuda:
        raise Skip("TF32 is a CUDA mode")
    if compile_ and not ctx.cuda and not ctx.compile_on_cpu:
        raise Skip("torch.compile on CPU: --compile")
    scale = LSTS_SCALE
    net_cpu = _i3d_cpu(ctx, modality)
    batches = _i3d_batches(ctx, modality)
    n = min(ctx.compare, b)

    def ref_make():
        x = _i3d_input(batches[0].data, modality, "cpu", scale)[:n].to(ctx.ref_dtype)
        with torch.inference_mode():
            return deep_to(net_cpu, "cpu", ctx.ref_dtype)(x)
    ref = ctx.cached(("i3d_ref", modality), ref_make)

    net = deep_to(net_cpu, ctx.device)
    model = net
    if channels_last:
        net = net.to(memory_format=torch.channels_last_3d)

        def model(x):  # noqa: E306 - channels_last_3d input, as benchmarks/features.py
            return net(x.contiguous(memory_format=torch.channels_last_3d))
    if compile_:
        model = torch.compile(net)

    with tf32(use_tf32):
        with run_context(ctx.device, dtype):  # as the stage: an inference tensor of the timed shape, so
            x = _i3d_input(batches[0].data, modality, ctx.device, scale)  # a compiled model is not recompiled
            out = model(x)[:n].float().cpu()
            del x
        res.check("rel", rel_err(out, ref), BOUNDS[bound])
        res.note(f"Mixed_5c {tuple(ref.shape[1:])}, max {float(ref.max()):.3g}")
        full = mixed5c_shape(L, s, s)
        try:
            kernel, stride = pool_geometry(full[1:], (5, 5, 5))
            pool = True
        except Exception:  # tiny sizes: Mixed_5c smaller than 5x5x5, stored unpooled
            kernel = stride = None
            pool = False
        compute = windows_compute(model, ctx.device, modality, scale, kernel, stride, pool, "gpu_check")

        def run_all():
            with run_context(ctx.device, dtype):
                for batch in batches:
                    compute(batch)
        ctx.measure(res, run_all, sum(len(bt) for bt in batches), "windows/s")
    if variant != "fp32":
        ctx.ratio(res, f"i3d_{modality}_fp32")
    if modality == "rgb":
        res.target = I3D_RGB_TARGET
        res.target_met = res.rate is not None and res.rate >= res.target


# ------------------------------------------------------------------------------------------------
# decoders: one training step, prediction


def _train_loop():
    """(salprep.train.loop, note): the package's own loop functions (torch only: salprep.train
    loads the shard reader, h5py, only when its data names are used)."""
    from salprep.train import loop

    return loop, ""


def _decoder_data(ctx, spec, model, batch: int, seed: int):
    """(inputs, targets) on the CPU for ``spec``'s model: pooled-I3D-like features or frames + extras."""
    if spec.family == "lsts":
        c = model.in_channels
        feats = smooth_field((batch * c, 5, 25), seed, cells=3).reshape(batch, c, 5, 5, 5)
        x = torch.from_numpy(np.maximum(feats * 3.0 - 1.0, 0.0) + 0.05)  # post-ReLU-like, >= 0.05
        y = blob_maps(batch, *spec.target_size, seed + 1)
        return x.float(), y
    h, w = ctx.salbce_size
    rgb = to_rgb_tensor(moving_rgb(batch, h, w, seed), "cpu")
    extra = torch.from_numpy(smooth_field((batch, model.in_channels - 3, h, w), seed + 2))
    return torch.cat([rgb, extra], 1), blob_maps(batch, h, w, seed + 1)


def _decoder_spec(ctx, name: str):
    """The registry's spec; with --tiny, LSTS with 64 input channels instead of 1024 (the Conv3d
    holds 94 % of its 25 M parameters; the 360x640 decoder stays as it is)."""
    from salprep.models.registry import get_model

    spec = get_model(name)
    if ctx.tiny and spec.family == "lsts":
        from salprep.models.lsts import LSTSDecoder

        spec = dataclasses.replace(spec, network=lambda _channels, _settings: LSTSDecoder(in_channels=TINY_LSTS_CHANNELS))
    return spec


def _decoder_settings(ctx, spec) -> dict:
    overrides = {}
    if spec.family == "salbce" and ctx.salbce_width != 1.0:
        overrides["width"] = ctx.salbce_width
    return spec.settings(overrides)


def _train_reference(ctx, loop, spec, settings, model, x, y):
    """Float64 CPU reference of one step on ``x``, ``y``: (loss, gradients, optimiser update)."""
    def make():
        ref = deep_to(model, "cpu", torch.float64).train()
        loss = loop.loss_fn(spec, ref(x.double()), y.double())
        loss.backward()
        grads = [p.grad.detach().clone() for p in ref.parameters()]
        opt, _, _ = loop.make_optimizer(spec, ref, settings)
        before = [p.detach().clone() for p in ref.parameters()]
        opt.step()
        update = torch.cat([(p.detach() - q).flatten() for p, q in zip(ref.parameters(), before)])
        return float(loss.detach()), grads, update
    return ctx.cached(("train_ref", spec.name), make)


def check_train(ctx, res: Result, model_name: str, amp: str | None) -> None:
    """One step of the training loop's family recipe with autocast, against float64 on the CPU."""
    loop, how = _train_loop()
    if how:
        res.note(how)
    loop_dtype = "float16" if ctx.cuda else "bfloat16"  # fit(): amp_dtype, float16 on CUDA, bfloat16 on CPU
    dtype = amp or loop_dtype
    res.what = f"{model_name} training step, autocast {dtype}"
    if amp and not ctx.cuda and amp == loop_dtype:
        raise Skip(f"same as the loop's --amp dtype on the CPU ({loop_dtype})")
    spec = _decoder_spec(ctx, model_name)
    settings = _decoder_settings(ctx, spec)
    if spec.family == "salbce":  # with BatchNorm (batch statistics) this step's float64 gradient moves by 45-70 % under
        settings = {**settings, "batchnorm": False}  # bf16-sized input / weight perturbations: no autocast run can match it
    batch = (ctx.lsts_batch if spec.family == "lsts" else ctx.salbce_batch) or int(settings["batch_size"])
    small = f" with {TINY_LSTS_CHANNELS} input channels" if ctx.tiny and spec.family == "lsts" else ""
    res.what = (f"{model_name} training step (registry build{small}, make_optimizer {settings['optimizer']}, "
                f"loss_fn {spec.loss}), autocast {dtype}{' as fit(amp=True)' if dtype == loop_dtype else ''}, "
                f"batch {batch}" + (f", {ctx.salbce_size[1]}x{ctx.salbce_size[0]}, width {settings['width']}, "
                                    "without BatchNorm" if spec.family == "salbce" else ""))
    torch.manual_seed(int(settings["seed"]))
    model = spec.build(settings)  # as fit() builds it
    n = min(ctx.compare, batch)
    x, y = _decoder_data(ctx, spec, model, batch, 10)
    loss_ref, g_ref, d_ref = _train_reference(ctx, loop, spec, settings, model, x[:n], y[:n])
    autocast = getattr(torch, dtype)

    # one batch of n under autocast on the device
    dev = deep_to(model, ctx.device).train()
    with torch.autocast(ctx.device.type, dtype=autocast):
        pred = dev(x[:n].to(ctx.device))
    loss = loop.loss_fn(spec, pred, y[:n].to(ctx.device))
    loss.backward()
    g_dev = torch.cat([p.grad.flatten().double().cpu() for p in dev.parameters()])
    g_ref_flat = torch.cat([g.flatten() for g in g_ref])
    res.check("loss", rel_err(loss.detach().reshape(1), torch.tensor([loss_ref])), BOUNDS[dtype])
    res.check("grad", rel_err(g_dev, g_ref_flat), GRAD_BOUND[dtype])
    zeroed = (g_dev == 0) & (g_ref_flat != 0)
    lost = float(g_ref_flat[zeroed].norm() / g_ref_flat.norm()) if bool(zeroed.any()) else 0.0
    res.check("underflow", lost if bool(torch.isfinite(g_dev).all()) else math.nan, UNDERFLOW_BOUND)
    res.note(f"loss {float(loss.detach()):.5f} (ref {loss_ref:.5f}); grad rel {rel_err(g_dev, g_ref_flat):.3g}; "
             f"{float(zeroed.double().mean()):.3%} of gradient entries 0 on the device only, "
             f"{lost:.2g} of the gradient norm")

    # the optimiser step on identical gradients (the reference's, cast to float32)
    opt, _, _ = loop.make_optimizer(spec, dev, settings)
    for p, g in zip(dev.parameters(), g_ref):
        p.grad = g.to(ctx.device, p.dtype)
    before = [p.detach().clone() for p in dev.parameters()]
    opt.step()
    d_dev = torch.cat([(p.detach() - q).flatten().double().cpu() for p, q in zip(dev.parameters(), before)])
    res.check("step", rel_err(d_dev, d_ref), STEP_BOUND)
    del dev, opt, before, pred, loss, g_dev

    # throughput: full steps as fit() runs them (forward under autocast, loss, backward, step, schedule)
    net = deep_to(model, ctx.device).train()
    opt, sched, step_every = loop.make_optimizer(spec, net, settings)
    xb, yb = x.to(ctx.device), y.to(ctx.device)
    losses = []

    def step():
        with torch.autocast(ctx.device.type, dtype=autocast):
            p = net(xb)
        l_ = loop.loss_fn(spec, p, yb)
        losses.append(float(l_.detach()))
        opt.zero_grad(set_to_none=True)
        l_.backward()
        opt.step()
        if step_every == "iteration":
            sched.step()

    if ctx.measure(res, step, 1, "steps/s") is None:
        step()
    res.check("loss finite (full batch)", 0.0 if all(map(math.isfinite, losses)) else math.nan, 0.0)
    if res.rate is not None:
        res.note(f"{res.rate * batch:,.1f} samples/s at batch {batch}")
    if amp:
        ctx.ratio(res, f"train_{spec.family}_amp")


def _spread_output(model, x: torch.Tensor) -> None:
    """Rescale the last layer so that the maps spread over (0, 1) (logit mean 0, std 2).

    At initialisation the decoders' maps are 0.5 +- 0.01, where a relative error says little."""
    last = model.deconv[-1] if hasattr(model, "deconv") else model.output
    seen = []
    hook = last.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    with torch.no_grad():
        model.eval()(x)
    hook.remove()
    logits = seen[0].double()
    k = 2.0 / max(float(logits.std()), 1e-12)
    with torch.no_grad():
        last.weight.mul_(k)
        last.bias.mul_(k).sub_(float(logits.mean()) * k)


def check_predict(ctx, res: Result, model_name: str) -> None:
    """read_model (the evaluate path) + the predictor's batches, float32, against the CPU."""
    from salprep.models.artifacts import read_model
    from salprep.models.registry import get_model

    spec = get_model(model_name)  # read_model rebuilds it from the registry: full size even with --tiny
    settings = _decoder_settings(ctx, spec)
    b = ctx.predict_batch
    torch.manual_seed(int(settings["seed"]))
    model = spec.build(settings)
    x, _ = _decoder_data(ctx, spec, model, b, 20)
    _spread_output(model, x)
    path = ctx.file(f"{model_name}.model.pt")
    torch.save({"model": spec.name, "state_dict": model.state_dict(), "settings": settings}, path)
    res.what = (f"{model_name} prediction (read_model of a model.pt, inference_mode, batches of {b}), float32; "
                "output layer rescaled so maps spread over (0, 1)")
    _, net, _ = read_model(path, ctx.device)
    n = min(ctx.compare, b)
    with torch.inference_mode():
        ref = deep_to(net, "cpu", ctx.ref_dtype)(x[:n].to(ctx.ref_dtype))[:, 0]

    def predict():
        with torch.inference_mode():
            return net(x.to(ctx.device))[:, 0].float().cpu().numpy()

    out = predict()
    res.check("rel", rel_err(torch.from_numpy(out[:n]), ref), BOUNDS["float32"])
    res.note(f"map mean {float(ref.mean()):.3f}, std {float(ref.std()):.3f}")
    ctx.measure(res, predict, b, "maps/s")


# ------------------------------------------------------------------------------------------------
# the paths, in the order they run (compile paths last: they cost most, the budget may skip them)

PATHS = [
    ("tvl1", check_tvl1, {}),
    ("spynet", check_spynet, {"dtype": None}),
    ("spynet_bf16", check_spynet, {"dtype": "bfloat16"}),
    ("monodepth", check_monodepth, {"dtype": None}),
    ("monodepth_bf16", check_monodepth, {"dtype": "bfloat16"}),
    *[(f"i3d_{m}_{v}", check_i3d, {"modality": m, "variant": v})
      for m in ("rgb", "flow") for v in ("fp32", "tf32", "bf16", "cl_bf16") if not (m == "flow" and v == "tf32")],
    ("train_lsts_amp", check_train, {"model_name": "lsts_flow", "amp": None}),
    ("train_lsts_bf16", check_train, {"model_name": "lsts_flow", "amp": "bfloat16"}),
    ("train_salbce_amp", check_train, {"model_name": "salbce_depth_coord", "amp": None}),
    ("train_salbce_bf16", check_train, {"model_name": "salbce_depth_coord", "amp": "bfloat16"}),
    ("predict_lsts", check_predict, {"model_name": "lsts_flow"}),
    ("predict_salbce", check_predict, {"model_name": "salbce_depth_coord"}),
    ("tvl1_compile", check_tvl1, {"compile_": True}),
    ("i3d_rgb_compile_bf16", check_i3d, {"modality": "rgb", "variant": "compile_bf16"}),
    ("i3d_flow_compile_bf16", check_i3d, {"modality": "flow", "variant": "compile_bf16"}),
]
PATH_NAMES = [name for name, _, _ in PATHS]


def select(only: str | None) -> list:
    if not only:
        return list(PATHS)
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    unknown = [p for p in patterns if not fnmatch.filter(PATH_NAMES, p)]
    if unknown:
        raise ValueError(f"--only: no path matches {', '.join(unknown)}; paths: {', '.join(PATH_NAMES)}")
    return [entry for entry in PATHS if any(fnmatch.fnmatchcase(entry[0], p) for p in patterns)]


def run_path(ctx, name: str, func, kwargs) -> Result:
    res = Result(name)
    t0 = time.perf_counter()
    try:
        if "compile" in name and ctx.over_budget():
            raise Skip(f"past the {ctx.budget_s:.0f} s budget")
        func(ctx, res, **kwargs)
        res.finish()
    except Skip as exc:
        res.status, res.error = "SKIP", str(exc)
    except Exception as exc:  # noqa: BLE001 - one path's failure must not stop the others
        res.status = "ERROR"
        res.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
        res.note("traceback: " + " | ".join(traceback.format_exc().strip().splitlines()[-6:]))
    finally:
        res.seconds = time.perf_counter() - t0
        if ctx.cuda:
            gc.collect()
            torch.cuda.empty_cache()
    return res


def environment(ctx) -> dict:
    env = {"torch": torch.__version__, "device": str(ctx.device), "tiny": ctx.tiny, "repeats": ctx.repeats,
           "reference": f"CPU {str(ctx.ref_dtype).replace('torch.', '')} (training steps: float64)",
           "numpy": np.__version__, "cpu_threads": torch.get_num_threads()}
    if ctx.cuda:
        props = torch.cuda.get_device_properties(ctx.device)
        env.update(gpu=torch.cuda.get_device_name(ctx.device), gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), cudnn_benchmark=True)
    return env


def table(ctx, results: list) -> str:
    lines = ["| path | agrees (max rel diff / bound) | throughput | target |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.path} | {r.agrees_cell()} | {r.rate_cell()} | {r.target_cell(ctx)} |")
    return "\n".join(lines)


def write_json(path: str | None, ctx, results: list, done: bool) -> None:
    if not path:
        return
    payload = {"environment": environment(ctx), "complete": done, "elapsed_s": round(ctx.elapsed(), 1),
               "bounds": {"relative": BOUNDS, "tvl1_epe_px": TVL1_EPE_BOUND, "grad": GRAD_BOUND,
                          "underflow_norm_share": UNDERFLOW_BOUND, "optimizer_step": STEP_BOUND},
               "all_agree": all(r.status in ("PASS", "SKIP") for r in results),
               "rows": [dict(dataclasses.asdict(r), agrees=r.agrees_cell(), throughput=r.rate_cell(),
                             target_cell=r.target_cell(ctx)) for r in results]}
    tmp = f"{path}.tmp"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=1, default=str)
        os.replace(tmp, path)
    except OSError as exc:  # the table on stdout is what counts
        print(f"gpu_check: cannot write {path}: {exc}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (both sides on the CPU)")
    ap.add_argument("--tiny", action="store_true", help="small sizes (seconds per path on a CPU)")
    ap.add_argument("--only", default=None, help="comma-separated path names or globs")
    ap.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                    help=f"past this many seconds, skip the remaining timings and compile paths "
                         f"(default {DEFAULT_BUDGET_S:.0f}; 0 = no limit)")
    ap.add_argument("--json", default=None, help="write the results here (default: $OUT/gpu_check.json if OUT is set)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per path (default 5 on CUDA)")
    ap.add_argument("--compile", action="store_true", help="also run the torch.compile paths on the CPU")
    ap.add_argument("--tvl1-batch", type=int, default=None, help="TV-L1 pairs per batch (default 1024 on CUDA)")
    ap.add_argument("--i3d-batch", type=int, default=None, help="I3D windows per batch (default 32 on CUDA)")
    ap.add_argument("--list", action="store_true", help="print the path names and exit")
    args = ap.parse_args(argv)

    if args.list:
        print("\n".join(PATH_NAMES))
        return 0
    try:
        selected = select(args.only)
    except ValueError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    try:
        device = torch.device(args.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cuda", "cpu"):
        print(f"gpu_check: --device must be cuda or cpu, got {args.device!r}", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device available (torch.cuda.is_available() is False); "
              "use --device cpu for the CPU mode", file=sys.stderr)
        return 2
    if args.budget_s is not None and args.budget_s <= 0:
        args.budget_s = None
    json_path = args.json or (os.path.join(os.environ["OUT"], "gpu_check.json") if os.environ.get("OUT") else None)

    torch.manual_seed(SEED)
    ctx = Context(args)
    if ctx.cuda:
        torch.backends.cudnn.benchmark = True
    env = environment(ctx)
    print("gpu_check: " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    print(f"bounds: rel {BOUNDS}, TV-L1 worst-pair mean EPE {TVL1_EPE_BOUND} px, training grads {GRAD_BOUND}, "
          f"underflow {UNDERFLOW_BOUND}, optimiser step {STEP_BOUND}; TF32 off except i3d_rgb_tf32", flush=True)

    results = []
    try:
        with tf32(False):
            for name, func, kwargs in selected:
                res = run_path(ctx, name, func, kwargs)
                results.append(res)
                print(f"[{ctx.elapsed():6.1f} s] {name}: {res.agrees_cell()}; {res.rate_cell()} "
                      f"({res.seconds:.1f} s)", flush=True)
                write_json(json_path, ctx, results, done=False)
    finally:
        print()
        print(table(ctx, results))
        print()
        for r in results:
            print(f"- {r.path}: {r.what or '-'}" + "".join(f"; {n}" for n in r.notes))
        bad = [r.path for r in results if r.status in ("FAIL", "ERROR")]
        skipped = [r.path for r in results if r.status == "SKIP"]
        print()
        print(f"{len(results) - len(bad) - len(skipped)} of {len(results)} paths agree"
              + (f"; disagree or error: {', '.join(bad)}" if bad else "")
              + (f"; skipped: {', '.join(skipped)}" if skipped else "")
              + f"; {ctx.elapsed():.1f} s")
        write_json(json_path, ctx, results, done=len(results) == len(selected))
        if json_path:
            print(f"JSON: {json_path}")
        ctx.tmp.cleanup()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
