"""Float tolerances derived from the computation, never from what one machine printed.

Why: CPUs differ in the kernels they run (oneDNN / MKL / ATen pick algorithms per instruction
set, per batch size and per thread count), and so in the order in which they sum. Two correct
float32 results of the same network then differ by rounding, by an amount that depends on the
computation, not on the machine that happened to make a reference.

Error model (used by :func:`float_bound`):

* every floating-point operation rounds with relative error <= u = eps / 2 (IEEE 754,
  round to nearest; ``eps = torch.finfo(dtype).eps``), and is applied to values of magnitude
  <= ``scale``, the largest |value| anywhere in the computation (measured: :class:`ScaleTracker`;
  for a sum of same-sign terms that is its partial sums, so for a mean the values themselves);
* an output is made by ``depth`` stages in series (the layers on the longest path), each a sum
  of at most ``terms`` products (a convolution's fan-in, :func:`fan_in`), so at most
  ``terms * depth`` roundings reach it, whatever order or blocking a kernel uses (blocked and
  pairwise orders only have fewer levels); a stage passes its input's error on with gain <= 1
  relative to ``scale`` (normalised activations; the float64 comparisons in the batch tests of
  test_i3d, test_monodepth and test_flow_spynet check this);
* the roundings are independent and zero-mean (probabilistic rounding-error analysis, Higham &
  Mary, SIAM J. Sci. Comput. 41(5), 2019), so their sum has standard deviation
  <= u * scale * sqrt(terms * depth); the bound is LAMBDA = 8 such standard deviations.

Comparisons then follow from the triangle inequality: a float32 result vs float64 (exact up to
:func:`float_bound` at float64) is within bound32 + bound64; two float32 results of the same
computation on any two machines (batch vs single, channels_last vs contiguous, exported vs eager,
salprep vs a stored float32 fixture of the original code) are within 2 * bound32.

Exact equality (``torch.equal``) stays where it is guaranteed: copies, integer math, and the
same operation on the same inputs in the same process (same kernels, same thread count).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

# Tail of the rounding-error sum: P(|N(0, 1)| > 8) = 1.2e-15 per output, i.e. never in a suite
# comparing < 1e8 outputs (and the model is pessimistic: most values are far below ``scale``).
LAMBDA = 8.0


def eps(dtype: Any) -> float:
    """Machine epsilon (gap between 1 and the next float) of a torch or numpy float dtype."""
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps)
    return float(np.finfo(dtype).eps)


def float_bound(dtype: Any, scale: float, terms: int = 1, depth: int = 1) -> float:
    """Bound on |computed - exact| of one output: LAMBDA * (eps / 2) * scale * sqrt(terms * depth).

    Args:
        dtype: the dtype the computation rounds in (float32 for the CPU networks).
        scale: the largest |value| in the computation (inputs, every intermediate, outputs).
        terms: the most terms one accumulated sum has (a layer's fan-in: C_in * kernel volume);
            1 for a chain of elementwise operations.
        depth: the number of such stages in series on the longest path (layers).
    """
    if not (scale >= 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be finite and >= 0, got {scale}")
    if terms < 1 or depth < 1:
        raise ValueError(f"terms and depth must be >= 1, got {terms}, {depth}")
    return LAMBDA * 0.5 * eps(dtype) * scale * math.sqrt(terms * depth)


def fan_in(module: torch.nn.Module) -> int:
    """The longest accumulated sum in ``module``: max over its conv / linear layers of the terms
    of one output (C_in / groups * kernel volume; for a transposed conv C_in * kernel volume)."""
    most = 1
    for m in module.modules():
        weight = getattr(m, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.ndim < 2:
            continue  # BatchNorm / LayerNorm scales: one multiply, not a sum
        if isinstance(m, (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)):
            most = max(most, weight.shape[0] * math.prod(weight.shape[2:]))
        else:
            most = max(most, math.prod(weight.shape[1:]))
    return most


class ScaleTracker:
    """Records the largest |value| in and out of every submodule while active (forward hooks).

    ``with ScaleTracker(net) as track: out = net(x)`` then ``track.scale``. Inputs and outputs
    of every module are seen, so also values computed functionally inside a module (e.g. a
    ``F.conv3d`` result that goes on into a BatchNorm module).
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.scale = 0.0
        self._handles: list[Any] = []

    def _see(self, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and value.numel():
                self.scale = max(self.scale, float(value.detach().abs().max()))
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._see(v)
        elif isinstance(value, dict):
            for v in value.values():
                self._see(v)

    def _hook(self, _module, inputs, output) -> None:
        self._see(inputs)
        self._see(output)

    def __enter__(self) -> "ScaleTracker":
        self._handles = [m.register_forward_hook(self._hook) for m in self.module.modules()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def max_abs_diff(a: Any, b: Any) -> float:
    """max |a - b| in float64 (tensors or arrays, broadcastable); NaN anywhere gives inf."""
    a = a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, np.float64)
    b = b.detach().cpu().double().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, np.float64)
    diff = np.abs(a - b)
    if diff.size == 0:
        return 0.0
    return float("inf") if np.isnan(diff).any() else float(diff.max())


def assert_within(got: Any, expected: Any, bound: float, what: str = "") -> float:
    """Assert max |got - expected| <= bound (shapes equal); returns the max difference."""
    got_shape = tuple(got.shape) if hasattr(got, "shape") else np.shape(got)
    exp_shape = tuple(expected.shape) if hasattr(expected, "shape") else np.shape(expected)
    assert got_shape == exp_shape, f"{what}: shape {got_shape} != {exp_shape}"
    err = max_abs_diff(got, expected)
    assert err <= bound, f"{what}: max |diff| = {err:.3g} > bound {bound:.3g}"
    return err


def float64_twin(module: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of ``module`` (same weights, exactly: float32 -> float64 is exact)."""
    return copy.deepcopy(module).double()


def autocast_rms_bound(dtype: Any, depth: int) -> float:
    """Bound on rms(autocast result - float32 result) / rms(float32 result) for a network of
    ``depth`` stages run in ``dtype`` (bfloat16 / float16) with float32 accumulation (oneDNN,
    cuDNN): each stage rounds its input, its weights and its output to ``dtype`` (relative rms
    u / sqrt(3) each, u = eps / 2), i.e. relative rms <= u per stage, independent across stages
    (quadrature: u * sqrt(depth)), times LAMBDA for the gain of later stages and the spread of
    the ratio. An rms, not a max: the max over outputs of a bfloat16 result is not bounded by
    anything useful, the rms is (it averages the independent per-output errors)."""
    return LAMBDA * 0.5 * eps(dtype) * math.sqrt(depth)


def rms_rel_diff(got: Any, expected: Any) -> float:
    """rms(got - expected) / rms(expected), in float64."""
    a = got.detach().cpu().double() if isinstance(got, torch.Tensor) else torch.as_tensor(np.asarray(got, np.float64))
    b = expected.detach().cpu().double() if isinstance(expected, torch.Tensor) else torch.as_tensor(np.asarray(expected, np.float64))
    return float((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt())


# ------------------------------------------------------------------ the networks' longest paths
# Stages in series (accumulating layers and resizes) from input to output, the `depth` of
# float_bound; the max pools select, nearest upsampling and concatenations copy (no rounding).

#: I3D to Mixed_5c: 3 stem units + 9 Inception blocks x 2 units (1x1x1 -> 3x3x3).
I3D_DEPTH = 3 + 9 * 2
#: monodepth2 to the scale-0 logits: input resize, normalisation, 17 ResNet-18 convs (conv1 +
#: 4 layers x 2 blocks x 2), 10 decoder convs, the head.
MONODEPTH_LOGITS_DEPTH = 1 + 1 + 17 + 10 + 1
#: SpyNet (6 levels at most): input resize, normalisation, 5 pyramid poolings, then per level the
#: x2 upsampling, the warp grid and its bilinear sampling, 5 convs and the residual add (9), then
#: the resize back and the dx/dy rescaling.
SPYNET_DEPTH = 1 + 1 + 5 + 6 * 9 + 2


def monodepth_bound(scale: float, terms: int, dtype: Any = torch.float32) -> float:
    """Bound on one monodepth2 disparity vs the exact one: the logits' float_bound (scale: the
    largest |value| of the run) times the sigmoid's largest slope 1/4, plus the roundings of the
    sigmoid and of the bilinear resize back (4 terms) on values in (0, 1)."""
    return float_bound(dtype, scale, terms, MONODEPTH_LOGITS_DEPTH) / 4 + float_bound(dtype, 1.0, 4, 2)
