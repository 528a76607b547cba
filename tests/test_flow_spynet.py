"""Tests for salprep.flow.spynet (CPU; the CUDA test skips without a GPU).

Reference fixture ``tests/data/spynet_reference.npz`` -- how it was produced:
the original sniklaus/pytorch-spynet ``run.py`` (GitHub HEAD 690689d) was copied to a scratch
folder outside this repository (it is GPL-3.0; none of it is in salprep) and changed only so that
it runs here: the ``.cuda()`` calls were removed (backwarp grid, network, inputs), the two size
asserts in ``estimate()`` were commented out, command-line parsing was disabled, and
``torch.hub.load_state_dict_from_url(...)`` was replaced by ``torch.load`` of a file written by
``save_random_spynet(path, seed=WEIGHT_SEED, key_style="moduleBasic")`` -- upstream's own loader
then renamed ``module`` to ``net`` in the keys as usual. For each case (seed, H, W) the pair was
``torch.rand((2, 3, H, W), generator=torch.Generator().manual_seed(seed))`` (first = [0], second
= [1], RGB in [0, 1]); upstream's ``estimate()`` takes BGR, so it was called with each frame's
channels flipped, ``estimate(first.flip(0), second.flip(0))``, in float32 on CPU with torch
2.14.1, and its (2, H, W) output was stored as ``flow_<i>``. The file holds only ``weight_seed``,
``seeds``, ``sizes`` and the ``flow_<i>`` arrays; inputs and weights are regenerated here.
Cases: 64x96 (already multiples of 32, 3 pyramid levels: Basic 3-5 unused), 100x150 (resized to
128x160, 4 levels), 40x520 (resized to 64x544, all 6 levels, odd coarsest 2x17 so the
replicate-pad path runs). salprep matched upstream bit for bit (max |diff| = 0) on all three --
on one CPU: another one sums in another order, so the comparison uses a bound that follows from
float32 rounding (tests/tolerance.py): each float32 run within float_bound(float32, scale, fan-in
3136, depth 63) of the exact flow, so the two within twice that.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tolerance import (
    SPYNET_DEPTH,
    ScaleTracker,
    assert_within,
    fan_in,
    float64_twin,
    float_bound,
)

import salprep.flow.spynet as sp
from salprep.errors import SalprepError
from salprep.flow.spynet import (
    SpyNet,
    backwarp,
    image_pyramid,
    load_spynet,
    normalize,
    padded_size,
    random_spynet_state_dict,
    save_random_spynet,
)

REFERENCE = Path(__file__).parent / "data" / "spynet_reference.npz"
DEPTH = SPYNET_DEPTH  # stages on the longest path, 6 levels at most (tests/tolerance.py)


def _ref():
    return np.load(REFERENCE)


def _pair(seed: int, height: int, width: int, batch: int = 1):
    gen = torch.Generator().manual_seed(seed)
    pair = torch.rand((2 * batch, 3, height, width), generator=gen, dtype=torch.float32)
    return pair[0::2] if batch > 1 else pair[0:1], pair[1::2] if batch > 1 else pair[1:2]


def _flow(net, first, second):
    with torch.inference_mode():
        return net(first, second)


def _flow_bound(net, first, second, dtype=torch.float32) -> tuple[torch.Tensor, float]:
    """Flow, and the float_bound of a run rounding in ``dtype`` vs the exact flow: the scale is
    the largest |value| of this run (images, warps, activations, flows; tests/tolerance.py)."""
    with ScaleTracker(net) as track:
        out = _flow(net, first, second)
    return out, float_bound(dtype, track.scale, fan_in(net), DEPTH)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spynet") / "network-random.pytorch"
    save_random_spynet(path, int(_ref()["weight_seed"]), key_style="moduleBasic")
    return path


@pytest.fixture(scope="module")
def net(ckpt) -> SpyNet:
    return load_spynet(ckpt)


# ------------------------------------------------------------------ reference (original code)


@pytest.mark.parametrize("case", [0, 1, 2], ids=["64x96", "100x150", "40x520"])
def test_matches_original_code(net, case):
    ref = _ref()
    seed = int(ref["seeds"][case])
    height, width = (int(v) for v in ref["sizes"][case])
    expected = ref[f"flow_{case}"]
    first, second = _pair(seed, height, width)
    flow, bound = _flow_bound(net, first, second)
    assert flow.shape == (1, 2, height, width)
    assert flow.dtype == torch.float32
    # Two float32 runs of the same flow (upstream's here, salprep's), each within bound.
    assert_within(flow[0], expected, 2 * bound, "salprep vs original")
    # The random weights give non-trivial flows (else the comparison would prove little).
    assert np.abs(expected).max() > 1.0


def test_fixture_rejects_swapped_colour_channels(net):
    """The bound is tight enough for a classic porting mistake: BGR fed where RGB belongs
    (upstream takes BGR; salprep flips the channels itself)."""
    ref = _ref()
    first, second = _pair(int(ref["seeds"][0]), *(int(v) for v in ref["sizes"][0]))
    _, bound = _flow_bound(net, first, second)
    wrong = _flow(net, first.flip(1), second.flip(1))
    # 4: clear of the tolerance of test_matches_original_code (2 * bound), not at its edge.
    assert float(np.abs(wrong[0].numpy() - ref["flow_0"]).max()) > 4 * (2 * bound)


def test_fixture_is_small():
    assert REFERENCE.stat().st_size < 500_000


# ------------------------------------------------------------------ loading


def test_both_key_spellings_load_identically(tmp_path):
    old = tmp_path / "module.pytorch"
    new = tmp_path / "net.pytorch"
    save_random_spynet(old, 7, key_style="moduleBasic")
    save_random_spynet(new, 7, key_style="netBasic")
    raw_old = torch.load(old, map_location="cpu", weights_only=True)
    raw_new = torch.load(new, map_location="cpu", weights_only=True)
    assert len(raw_old) == len(raw_new) == 60
    assert "moduleBasic.0.moduleBasic.0.weight" in raw_old
    assert "netBasic.5.netBasic.8.bias" in raw_new
    a, b = load_spynet(old), load_spynet(new)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        assert torch.equal(va, vb)
    # The module's own keys are upstream's current spelling, loaded key-for-key from the file.
    assert set(a.state_dict()) == set(raw_new)
    for key, value in raw_old.items():
        assert torch.equal(a.state_dict()[key.replace("moduleBasic", "netBasic")], value)


def test_loaded_module_is_eval_cpu_float32(net):
    assert not net.training
    assert all(not m.training for m in net.modules())
    params = list(net.parameters())
    assert len(params) == 60
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params)


def test_saved_file_is_legacy_plain_state_dict(ckpt):
    # Like the released .pytorch files (saved before PyTorch 1.6): non-zip serialization.
    assert not zipfile.is_zipfile(ckpt)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())


def test_random_weights_are_seeded():
    a = random_spynet_state_dict(3)
    b = random_spynet_state_dict(3)
    c = random_spynet_state_dict(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["moduleBasic.0.moduleBasic.0.weight"], c["moduleBasic.0.moduleBasic.0.weight"])
    with pytest.raises(ValueError):
        random_spynet_state_dict(3, key_style="Basic")


def _one_line(err: SalprepError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    state = random_spynet_state_dict(1, "moduleBasic")
    del state["moduleBasic.2.moduleBasic.4.weight"]
    del state["moduleBasic.5.moduleBasic.8.bias"]
    state["moduleBasic.6.moduleBasic.0.weight"] = torch.zeros(32, 8, 7, 7)
    path = tmp_path / "broken.pytorch"
    torch.save(state, path)
    with pytest.raises(SalprepError) as info:
        load_spynet(path)
    msg = _one_line(info.value)
    assert str(path) in msg
    assert "missing keys" in msg and "unexpected keys" in msg
    assert "moduleBasic.2.moduleBasic.4.weight" in msg
    assert "moduleBasic.5.moduleBasic.8.bias" in msg
    assert "moduleBasic.6.moduleBasic.0.weight" in msg


def test_foreign_checkpoint_truncates_key_lists(tmp_path):
    # e.g. an I3D or monodepth file given by mistake: nothing matches, lists are truncated.
    state = {f"encoder.layer{i}.weight": torch.zeros(1) for i in range(40)}
    path = tmp_path / "encoder.pth"
    torch.save(state, path)
    with pytest.raises(SalprepError) as info:
        load_spynet(path)
    msg = _one_line(info.value)
    assert str(path) in msg
    assert "netBasic.0.netBasic.0.weight" in msg  # first missing key
    assert "encoder.layer0.weight" in msg  # first unexpected key
    assert "55 more" in msg and "35 more" in msg  # 60 missing, 40 unexpected, 5 shown each
    assert "encoder.layer39.weight" not in msg
    assert len(msg) < 800


def test_wrong_shape(tmp_path):
    state = random_spynet_state_dict(1, "netBasic")
    state["netBasic.1.netBasic.2.weight"] = torch.zeros(64, 32, 3, 3)
    path = tmp_path / "shape.pytorch"
    torch.save(state, path)
    with pytest.raises(SalprepError) as info:
        load_spynet(path)
    msg = _one_line(info.value)
    assert str(path) in msg
    assert "netBasic.1.netBasic.2.weight" in msg and "(64, 32, 3, 3)" in msg and "(64, 32, 7, 7)" in msg


@pytest.mark.parametrize("content", ["garbage", "list", "missing", "directory"])
def test_unreadable_or_not_a_state_dict(tmp_path, content):
    path = tmp_path / "bad.pytorch"
    if content == "garbage":
        path.write_bytes(b"this is not a checkpoint\x00\x01")
    elif content == "list":
        torch.save([torch.zeros(3)], path)
    elif content == "directory":
        path.mkdir()
    with pytest.raises(SalprepError) as info:
        load_spynet(path)
    assert str(path) in _one_line(info.value)


def test_pickled_module_is_refused(tmp_path):
    # A whole pickled nn.Module is not a state_dict; weights_only loading refuses it.
    path = tmp_path / "module.pt"
    torch.save(SpyNet(), path)
    with pytest.raises(SalprepError):
        load_spynet(path)


# ------------------------------------------------------------------ shapes and batches


@pytest.mark.parametrize(
    "batch,height,width",
    [(1, 64, 96), (2, 100, 150), (1, 37, 53), (1, 5, 7), (1, 360, 640)],
)
def test_any_size_gives_flow_of_input_size(net, batch, height, width):
    first, second = _pair(11, height, width, batch)
    flow = _flow(net, first, second)
    assert flow.shape == (batch, 2, height, width)
    assert flow.dtype == torch.float32
    assert torch.isfinite(flow).all()


def test_batch_consistency(net):
    """Other batch sizes get other kernels (other summation orders, per CPU): each float32
    result within float_bound of the float64 flow, so within 2 * bound of each other."""
    first, second = _pair(5, 100, 150, batch=3)
    together, bound = _flow_bound(net, first, second)
    exact, bound64 = _flow_bound(float64_twin(net), first.double(), second.double(), torch.float64)
    assert_within(together, exact, bound + bound64, "batch of three vs float64")
    for i in range(3):
        alone = _flow(net, first[i : i + 1], second[i : i + 1])
        assert_within(alone, exact[i : i + 1], bound + bound64, f"pair {i} alone vs float64")
        assert_within(together[i : i + 1], alone, 2 * bound, f"pair {i}: batch vs alone")


def test_input_validation(net):
    with pytest.raises(ValueError):
        net(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 33))
    with pytest.raises(ValueError):
        net(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(TypeError):
        net(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_float64_input_is_accepted(net):
    # Converted to the parameter dtype first: float32 values round-trip through float64 exactly,
    # so the network sees the same tensors -- same kernels in this process, the same bits.
    first, second = _pair(2, 64, 96)
    out = _flow(net, first.double(), second.double())
    assert out.dtype == torch.float32
    assert torch.equal(out, _flow(net, first, second))


def test_no_resize_for_multiples_of_32(net):
    first, second = _pair(9, 64, 96)
    with torch.inference_mode():
        direct = net.flow_at_network_size(first, second)
    assert torch.equal(_flow(net, first, second), direct)


# ------------------------------------------------------------------ properties


def test_pyramid_levels_match_design():
    def levels(h, w):
        return [tuple(t.shape[2:]) for t in image_pyramid(torch.zeros(1, 3, h, w))]

    assert levels(384, 640)[0] == (12, 20) and len(levels(384, 640)) == 6
    assert levels(128, 160)[0] == (16, 20) and len(levels(128, 160)) == 4
    assert len(levels(32, 32)) == 1
    assert len(levels(416, 1024)) == 6 and levels(416, 1024)[0] == (13, 32)
    assert padded_size(100, 150) == (128, 160)
    assert padded_size(360, 640) == (384, 640)
    assert padded_size(64, 96) == (64, 96)


@pytest.mark.parametrize(
    "height,width,n_levels",
    [(32, 32, 1), (64, 96, 3), (100, 150, 4), (40, 520, 6)],
)
def test_bias_only_flow_reveals_level_indexing_and_rescaling(height, width, n_levels):
    """Last convs zeroed, bias (bx_L, by_L) per Basic L: the flow is a known constant.

    Each level adds its bias to twice the upsampled coarser flow, so at network size the flow is
    sum_L b_L * 2**(n-1-L) with Basic L counted from the coarsest level; resized back it is scaled
    by W/W' (dx) and H/H' (dy). Unused Basic nets get NaN biases: using them would show up.
    """
    state = random_spynet_state_dict(0, "netBasic")
    biases = {}
    for level in range(6):
        state[f"netBasic.{level}.netBasic.8.weight"].zero_()
        b = torch.tensor([0.25 * (level + 1), -0.5 + 0.1 * level])
        if level >= n_levels:
            b = torch.full((2,), float("nan"))
        state[f"netBasic.{level}.netBasic.8.bias"] = b
        biases[level] = b
    net = SpyNet()
    net.load_state_dict(state)
    net.eval()
    first, second = _pair(4, height, width)
    flow = _flow(net, first, second)
    net_h, net_w = padded_size(height, width)
    total = sum(biases[level] * 2 ** (n_levels - 1 - level) for level in range(n_levels))
    expected = torch.tensor([total[0] * width / net_w, total[1] * height / net_h])
    assert torch.isfinite(flow).all()
    # Constant fields: the flows only pass through bilinear resizes (4 terms) and adds, 2 stages
    # per level plus the resize back and rescaling, on values <= the largest partial sum.
    scale = float(sum(biases[level].abs() * 2 ** (n_levels - 1 - level) for level in range(n_levels)).max())
    bound = float_bound(torch.float32, scale, 4, 2 * n_levels + 2)
    assert_within(flow, expected.view(1, 2, 1, 1).expand_as(flow), bound, "bias-only flow")


def test_constant_zero_motion_pair_warp_is_noop(net, monkeypatch):
    """A constant-colour pair (zero motion): warping it by any flow changes nothing.

    With border padding a constant image stays constant wherever the flow points (zero padding
    would darken the border), so the flow equals that of the network with the warp replaced by
    the identity.
    """
    colour = torch.tensor([0.8, 0.3, 0.1]).view(1, 3, 1, 1)
    frame = colour.expand(1, 3, 100, 150).clone()
    flow = _flow(net, frame, frame)
    assert flow.abs().max() > 0.1  # random weights still produce a non-trivial field
    monkeypatch.setattr(sp, "backwarp", lambda image, flow: image)
    no_warp, bound = _flow_bound(net, frame, frame)
    # The exact flows are equal (warping a constant is the identity): two float32 runs, each
    # within bound of it (zero padding would differ by ~0.3 px)
    assert_within(flow, no_warp, 2 * bound, "warped vs not")


def test_backwarp_convention():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand((2, 3, 20, 30), generator=gen)
    # Sample positions carry float32 rounding of pixel coordinates (<= 30 + 2): a position error
    # moves the bilinear output by at most that times the step between neighbours (<= 1 in
    # [0, 1]). Stages: linspace, + flow, unnormalise, bilinear sampling (4 terms).
    bound = float_bound(torch.float32, 30 + 2, 4, 4)
    zero = torch.zeros(2, 2, 20, 30)
    assert_within(backwarp(image, zero), image, bound, "zero flow")
    # flow (dx, dy) = (2, 1): out[y, x] = image[y + 1, x + 2]; beyond the frame: border value.
    shift = torch.zeros(2, 2, 20, 30)
    shift[:, 0] = 2.0
    shift[:, 1] = 1.0
    out = backwarp(image, shift)
    assert_within(out[..., :-1, :-2], image[..., 1:, 2:], bound, "inside")
    assert_within(out[..., -1, :-2], image[..., -1, 2:], bound, "bottom border")
    assert_within(out[..., :-1, -1], image[..., 1:, -1], bound, "right border")


def test_normalize_is_rgb_imagenet():
    x = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    # The mean, rounded to float32 exactly as x was: x - mean is exactly 0 (IEEE subtraction).
    assert torch.equal(normalize(x), torch.zeros(1, 3, 1, 1))
    one = normalize(torch.ones(1, 3, 1, 1)).flatten()
    expected = torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    # Relative: 5 float32 roundings (mean, 1 - mean, 1 / std, the product, the expected value)
    # of values whose ratio to the result is <= 1.
    torch.testing.assert_close(one, expected, rtol=float_bound(torch.float32, 1.0, 1, 5), atol=0)


def test_resize_back_rescales_dx_and_dy(net):
    """Off-multiple sizes: network-size flow resized back, dx scaled by W/W', dy by H/H'."""
    first, second = _pair(8, 100, 150)
    with torch.inference_mode():
        inner = net.flow_at_network_size(
            torch.nn.functional.interpolate(first, (128, 160), mode="bilinear", align_corners=False),
            torch.nn.functional.interpolate(second, (128, 160), mode="bilinear", align_corners=False),
        )
        back = torch.nn.functional.interpolate(inner, (100, 150), mode="bilinear", align_corners=False)
    flow = _flow(net, first, second)
    # The same operations on the same tensors in this process (one multiply by W / W', H / H'):
    # the same bits.
    assert torch.equal(flow[:, 0], back[:, 0] * (150 / 160))
    assert torch.equal(flow[:, 1], back[:, 1] * (100 / 128))


# ------------------------------------------------------------------ CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_original_code(ckpt, no_tf32):
    net = load_spynet(ckpt)
    assert next(net.parameters()).device.type == "cpu"  # the loader never moves it
    net = net.to("cuda")
    ref = _ref()
    for case in range(len(ref["seeds"])):
        height, width = (int(v) for v in ref["sizes"][case])
        first, second = _pair(int(ref["seeds"][case]), height, width)
        flow, bound = _flow_bound(net, first.cuda(), second.cuda())
        assert flow.device.type == "cuda"
        # TF32 off: plain float32 sums on the GPU too; two float32 runs, each within bound.
        assert_within(flow[0].cpu(), ref[f"flow_{case}"], 2 * bound, f"case {case}: CUDA vs original")
