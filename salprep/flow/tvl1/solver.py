"""The batched torch TV-L1 (:func:`tvl1_torch`, :class:`TVL1Flow`): OpenCV DualTVL1's algorithm.

What :func:`tvl1_torch` reproduces from OpenCV's CPU code path, step by step:

* pyramid: each coarser level is the previous one resized by ``scale_step`` with OpenCV's
  INTER_LINEAR mapping (``src = (dst + 0.5) / scale_step - 0.5``, edge clamped, size rounded to
  nearest). OpenCV does *not* blur before downsampling (the IPOL reference does); neither do we.
  Levels are added while both sides stay >= 16 pixels, at most ``nscales`` of them;
* per level: centred-difference gradient of the second image (one-sided half differences at the
  borders), and for every warp the second image and its gradient sampled at ``x + u`` with bicubic
  interpolation (Keys a = -0.75, OpenCV's INTER_CUBIC kernel);
* the primal-dual loop: thresholding step with the three cases ``rho < -lambda*theta*|grad I1|^2``,
  ``rho > lambda*theta*|grad I1|^2`` and the projection in between; ``u = v + theta * div p``
  with the backward-difference divergence; dual step
  ``p = (p + tau/theta * grad u) / (1 + tau/theta * |grad u|)`` with forward differences (zero on
  the last row / column);
* median filter (``median_filtering`` x ``median_filtering``, replicated borders) of (u1, u2) at the
  start of every outer iteration, as OpenCV does (not once per warp);
* the stopping rule, per image: a warp's iterations stop as soon as the squared change of the flow
  summed over the level, ``sum |u_new - u|^2``, falls to ``epsilon**2 * (pixels of the level)``.
  Batched, each image stops on its own (frozen for the rest of the outer iteration, then dropped
  from the batch until the next warp), so a batch gives the same flow as separate calls;
* coarse-to-fine: flow resized to the finer level (INTER_LINEAR) and multiplied by ``1/scale_step``;
  the optional illumination variable (``gamma`` != 0) is resized without scaling.

Batched work is whole-tensor: one primal-dual iteration is ~20 elementwise torch ops on
(B, C, H, W) tensors (a few fused kernels with ``compile=True``); the 5x5 median is an exact
min/max selection network over shifted planes (one fused kernel when compiled). The host
synchronises once per outer iteration on GPUs (convergence bookkeeping), never per pixel.

Outside the image the warped second image reads zeros, as OpenCV's ``remap`` (BORDER_CONSTANT)
does: ``grid_sample`` with ``padding_mode="zeros"``. (Replicating the border instead, the IPOL
reference's choice, pairs a constant image with a non-zero replicated gradient there and made the
flow on the border band diverge from OpenCV's by tens of pixels in our comparisons.)

Remaining differences from OpenCV are float32 rounding: sample positions go through
``grid_sample``'s normalised coordinates (~1e-5 px), the per-warp change is summed in another
order, so the stopping rule can fire one iteration earlier or later for an image. With a single
level and no median filter the two flows agree to ~1e-4 px (mean) on textured images; with the
defaults the mean difference is a few thousandths of a pixel, with isolated larger differences
where the median filter or the stopping rule takes another branch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from salprep.flow.tvl1.inputs import as_float_batch, describe
from salprep.flow.tvl1.ops import (
    centred_gradient,
    median_filter,
    pyramid_sizes,
    resize_linear,
    warp_bicubic,
)
from salprep.flow.tvl1_params import (
    DEFAULT_PARAMS,
    call_params,
    validate,
    with_params_doc,
)

__all__ = ["TVL1Flow", "tvl1_torch"]

_FLT_EPSILON = float(np.finfo(np.float32).eps)


def _primal_dual_step(u, px, py, g, rho_c, bound, neg_grad, active, theta: float, l_t: float,
                      taut: float, eps_scaled: float, masked: bool):
    """One TV-L1 iteration (thresholding, primal and dual steps) on the whole batch.

    u: (B, C, H, W) flow (C = 2, or 3 with the illumination term); px, py: (B, C, H, W) x and y
    components of the dual variable; g: (B, C, H, W) linearisation coefficients (I1wx, I1wy
    [, gamma]); rho_c: (B, 1, H, W) constant part of the residual; bound = lambda * theta *
    |grad I1w|^2 and neg_grad = -|grad I1w|^2, or -inf where |grad I1w|^2 <= FLT_EPSILON (OpenCV
    leaves v = u there); active: (B,) images still iterating. With ``masked`` the images that are
    not active come back unchanged (without it the caller knows all are active).
    Returns (u, px, py, active) with ``active`` cleared where sum |u_new - u|^2 <= eps_scaled.
    """
    # thresholding step: v = u + coef * g, coef from the three cases of the residual rho
    rho = rho_c + (g * u).sum(dim=1, keepdim=True)
    coef = torch.where(rho < -bound, l_t, torch.where(rho > bound, -l_t, rho / neg_grad))
    v = u + coef * g
    # primal step: u = v + theta * div(p), backward differences (p = 0 outside the image)
    div = px - F.pad(px[..., :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))
    u_new = v + theta * div
    change = (u_new - u).square().sum(dim=(1, 2, 3))
    # dual step with forward differences (zero on the last column / row)
    ux = F.pad(u_new[..., 1:] - u_new[..., :-1], (0, 1))
    uy = F.pad(u_new[..., 1:, :] - u_new[..., :-1, :], (0, 0, 0, 1))
    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy)
    px_new = (px + taut * ux) / norm
    py_new = (py + taut * uy) / norm
    if masked:
        keep = active.view(-1, 1, 1, 1)
        u_new = torch.where(keep, u_new, u)
        px_new = torch.where(keep, px_new, px)
        py_new = torch.where(keep, py_new, py)
    return u_new, px_new, py_new, active & (change > eps_scaled)


_COMPILED: dict = {}


def _kernels(compile: bool):
    """(primal-dual step, median filter), eager or through torch.compile (built once)."""
    if not compile:
        return _primal_dual_step, median_filter
    if not _COMPILED:
        # shapes change all the time (pyramid levels, batch compaction): compile them dynamic
        _COMPILED["step"] = torch.compile(_primal_dual_step, dynamic=True, fullgraph=True)
        _COMPILED["median"] = torch.compile(median_filter, dynamic=True, fullgraph=True)
    return _COMPILED["step"], _COMPILED["median"]


def _one_scale(i0, i1, u, prm, step, median_filter, host_sync: bool, always_mask: bool):
    """Warps and iterations at one pyramid level, batched.

    Images that meet the stopping rule are frozen (masked) inside an outer iteration and dropped
    from the batch at the next outer iteration (the batch is compacted; their state is written
    back), so a batch costs about what its images need, not the slowest image times B.
    ``host_sync``: also test for "all converged" after every iteration (free on CPU); on GPUs the
    host looks once per outer iteration. ``always_mask``: one compiled variant of the step (the
    masking is free once fused) instead of a masked and an unmasked one.
    """
    b, _, h, w = i0.shape
    n_ch = u.shape[1]
    l_t = float(np.float32(prm["lambda_"] * prm["theta"]))
    taut = float(np.float32(prm["tau"] / prm["theta"]))
    theta = float(np.float32(prm["theta"]))
    eps_scaled = float(np.float32(prm["epsilon"] ** 2 * h * w))
    median = prm["median_filtering"]

    i1x, i1y = centred_gradient(i1)
    i1_stack = torch.cat((i1, i1x, i1y), dim=1)
    px = torch.zeros_like(u)
    py = torch.zeros_like(u)

    for _ in range(prm["warps"]):
        warped = warp_bicubic(i1_stack, u)
        i1w, i1wx, i1wy = warped[:, 0:1], warped[:, 1:2], warped[:, 2:3]
        grad = i1wx * i1wx + i1wy * i1wy
        rho_c = i1w - i1wx * u[:, 0:1] - i1wy * u[:, 1:2] - i0
        bound = l_t * grad
        neg_grad = torch.where(grad > _FLT_EPSILON, -grad, -math.inf)
        parts = [i1wx, i1wy]
        if n_ch == 3:
            parts.append(torch.full_like(i1wx, prm["gamma"]))
        g = torch.cat(parts, dim=1)
        consts = (g, rho_c, bound, neg_grad)

        full = None  # (u, px, py) of the whole batch once the batch has been compacted
        ids = None  # batch indices of the images being iterated; None = all
        active = torch.ones(b, dtype=torch.bool, device=u.device)
        all_active = True  # whether every image in the (compacted) batch is still iterating
        for outer in range(prm["outer_iterations"]):
            if outer > 0:
                n_active = int(active.sum())
                if n_active == 0:  # every image has met the stopping rule for this warp
                    break
                if n_active < active.numel():  # drop the converged images from the batch
                    keep = active.nonzero().squeeze(1)
                    if full is None:
                        full = (u, px, py)
                    else:
                        for dst, src in zip(full, (u, px, py)):
                            dst.index_copy_(0, ids, src)
                    ids = keep if ids is None else ids[keep]
                    u, px, py = u[keep], px[keep], py[keep]
                    consts = tuple(t[keep] for t in consts)
                    active = active[keep]
                all_active = True
            if median > 1:
                smooth = median_filter(u[:, :2], median)
                u = torch.cat((smooth, u[:, 2:]), dim=1) if n_ch == 3 else smooth
            for _ in range(prm["inner_iterations"]):
                u, px, py, active = step(u, px, py, *consts, active, theta, l_t, taut,
                                         eps_scaled, always_mask or not all_active)
                if host_sync:
                    all_active = bool(active.all())
                    if not all_active and not bool(active.any()):
                        break
                else:
                    all_active = False
        if full is not None:
            for dst, src in zip(full, (u, px, py)):
                dst.index_copy_(0, ids, src)
            u, px, py = full
    return u


@torch.no_grad()
@with_params_doc
def tvl1_torch(
    first: torch.Tensor,
    second: torch.Tensor,
    *,
    initial_flow: torch.Tensor | None = None,
    compile: bool = False,
    **params,
) -> torch.Tensor:
    """Batched TV-L1 optical flow from ``first`` to ``second`` (OpenCV DualTVL1's algorithm).

    Args:
        first, second: (B, 1, H, W) grey images, uint8 or float on the 0-255 scale, on the device
            to compute on (CPU or CUDA; the result stays there). H, W >= 3.
        initial_flow: (B, 2, H, W) flow to start from; required with ``use_initial_flow=True``.
        compile: run the primal-dual iteration and the median filter through ``torch.compile``
            (dynamic shapes; each fuses into a few kernels). Optional, for throughput (GPUs,
            also ~3x per iteration on CPU); the first call in a process pays the compilation
            (tens of seconds). Same results as eager up to float32 rounding.
        **params: the TV-L1 parameters, OpenCV's (same names, same defaults, same meaning; listed
            below); ``median_filtering`` <= 1 switches the median off.

    Returns:
        (B, 2, H, W) float32 flow in pixels, channel 0 = dx, 1 = dy,
        ``first(x) ~ second(x + flow(x))``.

    Raises:
        ValueError: inputs of the wrong type, shape, dtype or device; invalid parameters.
        TypeError: a keyword that is not a parameter.
    """
    prm = call_params("tvl1_torch", params)
    i0 = as_float_batch(first, "first")
    i1 = as_float_batch(second, "second")
    if first.shape != second.shape:
        raise ValueError(
            f"first and second: expected the same shape, got {tuple(first.shape)} and "
            f"{tuple(second.shape)}"
        )
    if first.device != second.device:
        raise ValueError(
            f"first and second: expected the same device, got {first.device} and {second.device}"
        )
    b, _, h, w = i0.shape
    if prm["use_initial_flow"]:
        if not isinstance(initial_flow, torch.Tensor):
            raise ValueError(
                "initial_flow: expected a torch.Tensor (B, 2, H, W) with use_initial_flow=True, "
                f"got {describe(initial_flow)}"
            )
        if tuple(initial_flow.shape) != (b, 2, h, w):
            raise ValueError(
                f"initial_flow: expected shape {(b, 2, h, w)}, got {tuple(initial_flow.shape)}"
            )
        if not initial_flow.is_floating_point() or initial_flow.device != i0.device:
            raise ValueError(
                f"initial_flow: expected a floating tensor on {i0.device}, got "
                f"{describe(initial_flow)}"
            )
    elif initial_flow is not None:
        raise ValueError("initial_flow: given, but use_initial_flow is False (set it to True)")

    step_size = prm["scale_step"]
    sizes = pyramid_sizes(h, w, prm["nscales"], step_size)
    down = (1.0 / step_size, 1.0 / step_size)
    i0s, i1s = [i0], [i1]
    for size in sizes[1:]:
        i0s.append(resize_linear(i0s[-1], size, down))
        i1s.append(resize_linear(i1s[-1], size, down))

    n_ch = 3 if prm["gamma"] != 0 else 2
    coarsest = sizes[-1]
    u = torch.zeros((b, n_ch) + coarsest, dtype=torch.float32, device=i0.device)
    if prm["use_initial_flow"]:
        u0 = initial_flow.to(torch.float32)
        for size in sizes[1:]:
            u0 = resize_linear(u0, size, down) * step_size
        u[:, :2] = u0

    step, median = _kernels(compile)
    host_sync = i0.device.type == "cpu"
    for level in range(len(sizes) - 1, -1, -1):
        u = _one_scale(i0s[level], i1s[level], u, prm, step, median, host_sync, compile)
        if level == 0:
            break
        (h_c, w_c), (h_f, w_f) = sizes[level], sizes[level - 1]
        u = resize_linear(u, (h_f, w_f), (h_c / h_f, w_c / w_f))
        u[:, :2] *= 1.0 / step_size
    return u[:, :2].contiguous()


class TVL1Flow(nn.Module):
    """``nn.Module`` wrapper of :func:`tvl1_torch` (no weights; parameters fixed at construction).

    >>> flow = TVL1Flow(warps=3)(first, second)  # (B, 2, H, W)
    """

    def __init__(self, **params):
        super().__init__()
        allowed = set(DEFAULT_PARAMS) | {"compile"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ValueError(
                f"TVL1Flow: unknown parameters {unknown}; expected some of {sorted(allowed)}"
            )
        self.compile = bool(params.pop("compile", False))
        merged = {**DEFAULT_PARAMS, **params}
        validate(merged)
        self.params = merged

    def forward(self, first: torch.Tensor, second: torch.Tensor,
                initial_flow: torch.Tensor | None = None) -> torch.Tensor:
        return tvl1_torch(first, second, initial_flow=initial_flow, compile=self.compile,
                          **self.params)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items())

