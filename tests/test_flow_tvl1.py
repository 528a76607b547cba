"""TV-L1 flow (OpenCV and torch), LSTS flow encoding and the flow colour wheel.

Synthetic pairs with known flow: an analytic texture (a sum of random sinusoids, so it can be
sampled exactly anywhere) is sampled at x + flow(x) for the first frame and at x for the second,
which gives first(x) = second(x + flow(x)) up to uint8 rounding.

Tolerances between two runs (torch vs OpenCV, batch vs single, CPU vs CUDA) follow from the
algorithm, not from one machine's output: float32 rounding differs between implementations and
CPUs (summation order), and TV-L1 stops a warp once sum |u_new - u|^2 <= epsilon^2 * pixels, a
decision rounding can move by one iteration. An iteration at the stopping threshold moves the flow
by rms epsilon over the level, so each run is within rms epsilon of the exact-arithmetic stop and
two runs within rms 2 * epsilon (later warps and levels converge to the same tolerance, so earlier
decisions' differences do not add up). Over a subset S of the N pixels the rms is at most
sqrt(N / |S|) times that; a mean is at most the rms; one pixel at most sqrt(N) times it
(:func:`two_runs_bound`). Rounding alone, without a different stop, is far below that.
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import torch

from tolerance import float_bound

from salprep.flow.encode import LSTS_SCALE, decode_flow_lsts, encode_flow_lsts
from salprep.flow.tvl1 import DEFAULT_PARAMS, TVL1Flow, tvl1_opencv, tvl1_torch

cv2 = pytest.importorskip("cv2")

SIZE = 80
BORDER = 8  # EPE is averaged over pixels at least this far from the frame border


# ------------------------------------------------------------------------------------------------
# synthetic data


def _texture(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.02, 0.22, n)  # cycles per pixel
    angle = rng.uniform(0.0, np.pi, n)
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    amp = (freq / 0.02) ** -0.7
    kx, ky = 2 * np.pi * freq * np.cos(angle), 2 * np.pi * freq * np.sin(angle)

    def raw(x, y):
        arg = x[..., None] * kx + y[..., None] * ky + phase
        return (amp * np.sin(arg)).sum(-1)

    gy, gx = np.mgrid[0:128, 0:128].astype(np.float64)
    ref = raw(gx, gy)
    mean, std = ref.mean(), ref.std()
    return lambda x, y: np.clip(128.0 + 40.0 * (raw(x, y) - mean) / std, 0.0, 255.0)


def _to_u8(a):
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def make_pair(kind: str, size: int = SIZE, seed: int = 0):
    """(first uint8, second uint8, flow (H, W, 2) float32, valid mask) with known flow."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    tex = _texture(seed)
    valid = np.ones((size, size), bool)
    if kind == "translation":
        fx, fy = np.full_like(x, 1.5), np.full_like(x, -0.7)
        first, second = tex(x + fx, y + fy), tex(x, y)
    elif kind == "rotation_zoom":  # 4 degrees and 5% zoom about the centre
        c = (size - 1) / 2.0
        a, s = np.deg2rad(4.0), 1.05
        xn = s * (np.cos(a) * (x - c) - np.sin(a) * (y - c)) + c
        yn = s * (np.sin(a) * (x - c) + np.cos(a) * (y - c)) + c
        fx, fy = xn - x, yn - y
        first, second = tex(x + fx, y + fy), tex(x, y)
    elif kind == "piecewise":  # a square moving over a background moving the other way
        fg = _texture(seed + 100)
        bg_d, fg_d = (-1.0, 0.5), (2.3, 1.2)
        half = size / 5.0

        def inside(px, py):
            return (np.abs(px - size / 2) < half) & (np.abs(py - size / 2) < half)

        region = inside(x, y)  # the square in the first frame
        fx = np.where(region, fg_d[0], bg_d[0])
        fy = np.where(region, fg_d[1], bg_d[1])
        first = np.where(region, fg(x + fx, y + fy), tex(x + fx, y + fy))
        moved = inside(x - fg_d[0], y - fg_d[1])  # the square in the second frame
        second = np.where(moved, fg(x, y), tex(x, y))
        occluded = ~region & inside(x + bg_d[0] - fg_d[0], y + bg_d[1] - fg_d[1])
        valid = ~occluded
    else:
        raise ValueError(kind)
    flow = np.stack([fx, fy], axis=-1).astype(np.float32)
    return _to_u8(first), _to_u8(second), flow, valid


def epe_mask(valid: np.ndarray, border: int = BORDER) -> np.ndarray:
    mask = valid.copy()
    mask[:border] = mask[-border:] = False
    mask[:, :border] = mask[:, -border:] = False
    return mask


def epe_mask_count(valid: np.ndarray) -> int:
    return int(epe_mask(valid).sum())


def epe(est: np.ndarray, gt: np.ndarray, valid: np.ndarray, border: int = BORDER) -> float:
    err = np.sqrt(((est - gt) ** 2).sum(-1))
    return float(err[epe_mask(valid, border)].mean())


def to_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images))[:, None]


def hw2(flow: torch.Tensor) -> np.ndarray:
    return flow.detach().cpu().permute(1, 2, 0).numpy()


def two_runs_bound(epsilon: float, total: int, subset: int | None = None) -> float:
    """Bound on the rms over ``subset`` of N = ``total`` pixels (default: all) of the difference
    |flow_a - flow_b| of two TV-L1 runs that may each stop one iteration apart from exact
    arithmetic (module docstring): 2 * epsilon * sqrt(N / |subset|)."""
    return 2.0 * epsilon * math.sqrt(total / (total if subset is None else subset))


def vector_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) magnitude of the difference of two (H, W, 2) flows."""
    return np.sqrt(((a - b) ** 2).sum(-1))


def interior_count(size: int = SIZE) -> int:
    return (size - 2 * BORDER) ** 2


EPSILON = DEFAULT_PARAMS["epsilon"]
CASES = ("translation", "rotation_zoom", "piecewise")
# absolute accuracy both implementations must reach (mean EPE in px, interior)
MAX_EPE = {"translation": 0.1, "rotation_zoom": 0.15, "piecewise": 0.25}


@pytest.fixture(scope="module")
def results():
    """Both implementations with OpenCV's defaults on the three cases; torch in one batch of 3."""
    pairs = {kind: make_pair(kind) for kind in CASES}
    batch = tvl1_torch(
        to_batch(*(pairs[k][0] for k in CASES)), to_batch(*(pairs[k][1] for k in CASES))
    )
    out = {}
    for i, kind in enumerate(CASES):
        first, second, gt, valid = pairs[kind]
        out[kind] = {
            "pair": (first, second),
            "gt": gt,
            "valid": valid,
            "opencv": tvl1_opencv(first, second),
            "torch": hw2(batch[i]),
        }
    return out


# ------------------------------------------------------------------------------------------------
# accuracy against OpenCV and against the known flow


@pytest.mark.parametrize("kind", CASES)
def test_epe_torch_not_worse_than_opencv(results, kind):
    r = results[kind]
    epe_cv = epe(r["opencv"], r["gt"], r["valid"])
    epe_torch = epe(r["torch"], r["gt"], r["valid"])
    assert epe_cv < MAX_EPE[kind], f"OpenCV EPE {epe_cv:.4f}"
    assert epe_torch < MAX_EPE[kind], f"torch EPE {epe_torch:.4f}"
    # |EPE_a - EPE_b| <= mean over the EPE mask of |a - b| <= the two-run rms bound on that mask
    bound = two_runs_bound(EPSILON, SIZE * SIZE, epe_mask_count(r["valid"]))
    assert epe_torch <= epe_cv + bound, f"torch {epe_torch:.4f} vs OpenCV {epe_cv:.4f}"


@pytest.mark.parametrize("kind", CASES)
def test_torch_flow_close_to_opencv_flow(results, kind):
    r = results[kind]
    diff = vector_diff(r["torch"], r["opencv"])
    interior = diff[BORDER:-BORDER, BORDER:-BORDER]
    assert interior.mean() <= two_runs_bound(EPSILON, SIZE * SIZE, interior_count()), interior.mean()


def test_single_level_matches_opencv_closely():
    # one level, no median filter: the iterations are the same arithmetic as OpenCV's; a small
    # epsilon makes the two-run bound sharp (both iterate until their changes are tiny)
    first, second, _, _ = make_pair("rotation_zoom", size=48)
    params = dict(nscales=1, warps=2, median_filtering=1, epsilon=1e-4)
    ref = tvl1_opencv(first, second, **params)
    got = hw2(tvl1_torch(to_batch(first), to_batch(second), **params)[0])
    diff = vector_diff(got, ref)
    bound = two_runs_bound(params["epsilon"], diff.size)
    assert diff.mean() <= bound, diff.mean()  # mean <= rms
    assert diff.max() <= bound * math.sqrt(diff.size), diff.max()  # one pixel: rms * sqrt(N)


def test_flow_sign_convention(results):
    # first(x) = second(x + (1.5, -0.7)): channel 0 is dx, channel 1 is dy
    r = results["translation"]
    median = np.median(r["torch"][BORDER:-BORDER, BORDER:-BORDER].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(median, [1.5, -0.7], atol=0.05)
    median_cv = np.median(r["opencv"][BORDER:-BORDER, BORDER:-BORDER].reshape(-1, 2), axis=0)
    np.testing.assert_allclose(median_cv, [1.5, -0.7], atol=0.05)


def test_options_match_opencv():
    # illumination term (gamma), initial flow and a non-default pyramid, cheap settings
    # (epsilon 1e-3 for a sharper two-run bound than the default's)
    first, second, gt, _ = make_pair("translation", size=40, seed=3)
    cases = [
        dict(gamma=0.4, nscales=1, warps=2, median_filtering=1, epsilon=1e-3),
        dict(scale_step=0.5, nscales=3, warps=1, outer_iterations=2, median_filtering=3, epsilon=1e-3),
        dict(use_initial_flow=True, nscales=2, warps=1, outer_iterations=2, epsilon=1e-3),
    ]
    for params in cases:
        init = gt * 0.8 if params.get("use_initial_flow") else None
        ref = tvl1_opencv(first, second, initial_flow=init, **params)
        init_t = None if init is None else torch.from_numpy(init).permute(2, 0, 1)[None]
        got = hw2(tvl1_torch(to_batch(first), to_batch(second), initial_flow=init_t, **params)[0])
        diff = vector_diff(got, ref)
        assert diff.mean() <= two_runs_bound(params["epsilon"], diff.size), params


def test_small_images_follow_opencv_pyramid_rule():
    # 20 x 24: OpenCV keeps only levels with both sides >= 16 (here 2 of the 5)
    first, second, _, _ = make_pair("translation", size=24, seed=1)
    first, second = first[:20], second[:20]
    params = dict(warps=2, outer_iterations=3, epsilon=1e-3)  # a sharper bound than the default's
    ref = tvl1_opencv(first, second, **params)
    got = hw2(tvl1_torch(to_batch(first), to_batch(second), **params)[0])
    assert got.shape == (20, 24, 2)
    diff = vector_diff(got, ref)
    assert diff.mean() <= two_runs_bound(params["epsilon"], diff.size)


# ------------------------------------------------------------------------------------------------
# batching, dtypes, module wrapper


def _assert_two_runs(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Two runs of the same TV-L1 whose per-image stopping sums may be rounded differently."""
    diff = vector_diff(a, b)
    bound = two_runs_bound(EPSILON, diff.size)
    assert math.sqrt(float((diff**2).mean())) <= bound, what  # rms over the image
    assert diff.max() <= bound * math.sqrt(diff.size), what  # one pixel: rms * sqrt(N)


def test_batch_equals_separate_calls(results):
    # Per pixel the same elementwise arithmetic; only the per-image stopping sum is reduced in a
    # batch-size- and thread-dependent order, so a stop may come one iteration apart.
    for kind in CASES:
        first, second = results[kind]["pair"]
        single = hw2(tvl1_torch(to_batch(first), to_batch(second))[0])
        _assert_two_runs(single, results[kind]["torch"], kind)


def test_gpu_control_flow_on_cpu(results, monkeypatch):
    # on CUDA the host checks convergence once per outer iteration and the step always masks;
    # run that control flow on the CPU: same flow as the CPU schedule
    import salprep.flow.tvl1.solver as tvl1

    original = tvl1._one_scale

    def gpu_schedule(i0, i1, u, prm, step, median_filter, host_sync, always_mask):
        return original(i0, i1, u, prm, step, median_filter, False, True)

    monkeypatch.setattr(tvl1, "_one_scale", gpu_schedule)
    firsts = to_batch(*(results[k]["pair"][0] for k in CASES))
    seconds = to_batch(*(results[k]["pair"][1] for k in CASES))
    got = tvl1_torch(firsts, seconds)
    for i, kind in enumerate(CASES):
        _assert_two_runs(hw2(got[i]), results[kind]["torch"], kind)


def test_uint8_and_float_input_agree():
    first, second, _, _ = make_pair("translation", size=40, seed=2)
    params = dict(nscales=2, warps=2, outer_iterations=3)
    a = tvl1_torch(to_batch(first), to_batch(second), **params)
    b = tvl1_torch(to_batch(first).double(), to_batch(second).float(), **params)
    assert a.dtype == torch.float32 and a.shape == (1, 2, 40, 40)
    # Integers 0-255 convert to float32 exactly: the same tensors, the same run in this process.
    assert torch.equal(a, b)
    # OpenCV wrapper: float input is read on the 0-255 scale too (the x255 pitfall is handled);
    # OpenCV scales it back (x / 255 * 255 may round), so two runs of the same TV-L1
    c = tvl1_opencv(first, second, **params)
    d = tvl1_opencv(first.astype(np.float32), second.astype(np.float64), **params)
    assert c.dtype == np.float32 and c.shape == (40, 40, 2)
    _assert_two_runs(c, d, "OpenCV uint8 vs float")


def test_module_wrapper():
    first, second, _, _ = make_pair("translation", size=32, seed=4)
    module = TVL1Flow(warps=1, outer_iterations=2)
    assert isinstance(module, torch.nn.Module)
    assert "warps=1" in repr(module)
    got = module(to_batch(first), to_batch(second))
    ref = tvl1_torch(to_batch(first), to_batch(second), warps=1, outer_iterations=2)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    with pytest.raises(ValueError, match="unknown parameters"):
        TVL1Flow(lambda_x=0.1)
    with pytest.raises(ValueError, match="median_filtering"):
        TVL1Flow(median_filtering=4)


@pytest.mark.parametrize("k", [3, 5, 7])
def test_median_filter_network_is_exact(k):
    from salprep.flow.tvl1.ops import median_filter as _median_filter

    x = torch.randn(2, 2, 13, 17, generator=torch.Generator().manual_seed(k))
    x[0, 0, 3:6, 3:6] = 0.5  # ties
    pad = torch.nn.functional.pad(x, (k // 2,) * 4, mode="replicate")
    ref = pad.unfold(2, k, 1).unfold(3, k, 1).reshape(2, 2, 13, 17, k * k).median(-1).values
    torch.testing.assert_close(_median_filter(x, k), ref, rtol=0, atol=0)
    if k == 5:  # the same as OpenCV's medianBlur (float input supports 3 and 5)
        got = _median_filter(x[:1, :1], 5)[0, 0].numpy()
        np.testing.assert_array_equal(got, cv2.medianBlur(x[0, 0].numpy(), 5))


@pytest.mark.slow  # ~30 CPU-s of inductor compilation when its cache is cold (a fresh CI machine)
def test_compiled_path_matches_eager():
    # torch.compile is optional (compile=True); a tiny problem keeps the compilation short, and the
    # 3x3 median a small selection network (the 5x5 one alone takes ~50 CPU-s to compile)
    first, second, _, _ = make_pair("translation", size=24, seed=5)
    params = dict(nscales=1, warps=1, outer_iterations=2, inner_iterations=4, epsilon=0.0, median_filtering=3)
    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    eager = tvl1_torch(to_batch(first, second), to_batch(second, first), **params)
    compiled = tvl1_torch(to_batch(first, second), to_batch(second, first), compile=True, **params)
    # epsilon 0: no stopping decisions, so the two differ by rounding only (Inductor fuses and
    # reorders). Per iteration: the residual rho (terms <= 255 * (1 + 2 max|u|): intensities and
    # gradient x flow; ~7 roundings) is off by d_rho; inside the thresholding band
    # |rho| <= l_t |g|^2 the step rho / |g| moves by d_rho / |g| <= 2 l_t |g|, so by at most
    # sqrt(2 l_t d_rho); the prox, dual and median steps are non-expansive, so the iterations add.
    l_t = DEFAULT_PARAMS["lambda_"] * DEFAULT_PARAMS["theta"]
    d_rho = float_bound(torch.float32, 255.0 * (1 + 2 * float(eager.abs().max())), 1, 7)
    iterations = params["warps"] * params["outer_iterations"] * params["inner_iterations"]
    bound = iterations * math.sqrt(2 * l_t * d_rho)
    assert float((compiled - eager).abs().max()) <= bound


# ------------------------------------------------------------------------------------------------
# input validation


def test_torch_input_errors():
    img = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"expected shape \(B, 1, H, W\).*got \(16, 16\)"):
        tvl1_torch(img[0, 0], img[0, 0])
    with pytest.raises(ValueError, match=r"expected shape \(B, 1, H, W\).*got \(1, 3, 16, 16\)"):
        tvl1_torch(img.expand(1, 3, 16, 16), img.expand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="expected dtype uint8 or floating point.*got torch.int32"):
        tvl1_torch(img.int(), img.int())
    with pytest.raises(ValueError, match="expected the same shape"):
        tvl1_torch(img, torch.zeros(1, 1, 16, 17, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected a torch.Tensor.*got numpy array"):
        tvl1_torch(img.numpy(), img.numpy())
    with pytest.raises(ValueError, match="H, W >= 3"):
        tvl1_torch(img[..., :2], img[..., :2])
    with pytest.raises(ValueError, match="scale_step: expected < 1"):
        tvl1_torch(img, img, scale_step=1.2)
    with pytest.raises(ValueError, match="nscales: expected an integer >= 1, got 0"):
        tvl1_torch(img, img, nscales=0)
    with pytest.raises(ValueError, match="initial_flow"):
        tvl1_torch(img, img, use_initial_flow=True)
    with pytest.raises(ValueError, match=r"initial_flow: expected shape \(1, 2, 16, 16\)"):
        tvl1_torch(img, img, use_initial_flow=True, initial_flow=torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError):
        tvl1_torch(img, img, innerIterations=3)


def test_opencv_input_errors():
    img = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match=r"expected shape \(H, W\).*got \(16, 16, 3\)"):
        tvl1_opencv(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="expected dtype uint8 or float.*got int16"):
        tvl1_opencv(img.astype(np.int16), img.astype(np.int16))
    with pytest.raises(ValueError, match="expected the same shape"):
        tvl1_opencv(img, np.zeros((16, 17), np.uint8))
    with pytest.raises(ValueError, match="expected a numpy array"):
        tvl1_opencv(torch.zeros(16, 16), torch.zeros(16, 16))
    with pytest.raises(ValueError, match="median_filtering: OpenCV supports at most 5"):
        tvl1_opencv(img, img, median_filtering=7)


# ------------------------------------------------------------------------------------------------
# LSTS encoding


def test_encode_upsamples_scales_and_quantises():
    flow = np.zeros((2, 2, 112, 112), np.float32)
    flow[:, 0] = 3.0  # dx = 3 px at 112 -> 6 px at 224 -> 6 / 20 * 127 = 38.1 -> 38
    flow[:, 1] = -1.0  # dy = -1 px -> -2 px -> -12.7 -> -13
    q, scale = encode_flow_lsts(flow)
    assert q.dtype == np.int8 and q.shape == (2, 2, 224, 224)
    assert scale == pytest.approx(1.0 / 127.0) and scale == LSTS_SCALE
    assert (q[:, 0] == 38).all() and (q[:, 1] == -13).all()
    dec = decode_flow_lsts(q)
    assert dec.dtype == np.float32
    # half a quantisation step (bound / 127 / 2 px) plus float32 rounding of q / 127 * 20
    np.testing.assert_allclose(dec[:, 0] * 20.0, 6.0, atol=20.0 / 127 / 2 + float_bound(np.float32, 20.0, 1, 2))


def test_encode_clips_and_round_trips():
    rng = np.random.default_rng(0)
    flow = rng.uniform(-15.0, 15.0, size=(3, 2, 9, 11)).astype(np.float32)  # up to 30 px after x2
    q, scale = encode_flow_lsts(flow, bound=20.0, upsample=1)  # no resize: check the value path
    assert q.shape == flow.shape
    assert q.min() >= -127 and q.max() <= 127
    dec = decode_flow_lsts(q)
    assert dec.min() >= -1.0 and dec.max() <= 1.0
    expected = np.clip(flow, -20.0, 20.0) / 20.0
    # half a quantisation step, plus float32 rounding (|values| <= 1) of x / 20, x 127, q / 127
    # and the expected value's / 20: it decides q only within rounding of a .5 boundary
    np.testing.assert_allclose(dec, expected, atol=0.5 / 127 + float_bound(np.float32, 1.0, 1, 4))
    big = np.full((1, 2, 4, 4), 50.0, np.float32)
    big[0, 1] = -50.0
    qb, _ = encode_flow_lsts(big, upsample=1)
    assert (qb[0, 0] == 127).all() and (qb[0, 1] == -127).all()
    codes = np.array([-128, -127, 0, 127], np.int8)
    assert decode_flow_lsts(codes).tolist() == [-1.0, -1.0, 0.0, 1.0]


def test_encode_torch_in_torch_out():
    flow = torch.full((1, 2, 112, 112), 2.0)
    q, _ = encode_flow_lsts(flow)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.int8 and q.shape == (1, 2, 224, 224)
    np.testing.assert_array_equal(q.numpy(), encode_flow_lsts(flow.numpy())[0])
    dec = decode_flow_lsts(q)
    assert isinstance(dec, torch.Tensor) and dec.dtype == torch.float32
    with pytest.raises(ValueError, match=r"expected shape \(B, 2, h, w\)"):
        encode_flow_lsts(np.zeros((2, 112, 112), np.float32))
    with pytest.raises(ValueError, match="expected dtype int8"):
        decode_flow_lsts(np.zeros(3, np.int16))


# ------------------------------------------------------------------------------------------------
# CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(results):
    firsts = to_batch(*(results[k]["pair"][0] for k in CASES))
    seconds = to_batch(*(results[k]["pair"][1] for k in CASES))
    got = tvl1_torch(firsts.cuda(), seconds.cuda())
    assert got.device.type == "cuda" and got.dtype == torch.float32
    for i, kind in enumerate(CASES):
        r = results[kind]
        flow = hw2(got[i])
        diff = vector_diff(flow, r["torch"])[BORDER:-BORDER, BORDER:-BORDER]
        assert diff.mean() <= two_runs_bound(EPSILON, SIZE * SIZE, interior_count()), (kind, diff.mean())
        bound = two_runs_bound(EPSILON, SIZE * SIZE, epe_mask_count(r["valid"]))
        assert epe(flow, r["gt"], r["valid"]) <= epe(r["opencv"], r["gt"], r["valid"]) + bound


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_compiled_matches_eager(results):
    firsts = to_batch(*(results[k]["pair"][0] for k in CASES)).cuda()
    seconds = to_batch(*(results[k]["pair"][1] for k in CASES)).cuda()
    eager = tvl1_torch(firsts, seconds)
    compiled = tvl1_torch(firsts, seconds, compile=True)
    diff = (compiled - eager).norm(dim=1)[:, BORDER:-BORDER, BORDER:-BORDER]
    assert diff.mean().item() <= two_runs_bound(EPSILON, SIZE * SIZE, interior_count())
