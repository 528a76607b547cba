"""Tests for salprep.models.monodepth (CPU; the CUDA test skips without a GPU).

Reference fixture ``tests/data/monodepth2_reference.npz`` -- how it was produced:
``networks/resnet_encoder.py``, ``networks/depth_decoder.py`` and ``layers.py`` of the original
nianticlabs/monodepth2 (GitHub HEAD b676244) were copied to a scratch folder outside this
repository (non-commercial licence; none of it is in salprep), with a two-line
``networks/__init__.py`` importing only ``ResnetEncoder`` and ``DepthDecoder``, and changed only
so that they run here: ``resnets[num_layers](pretrained)`` became ``resnets[num_layers](weights=None)``
(current torchvision takes no positional ``pretrained``; nothing is downloaded). Checkpoints were
written by ``save_random_monodepth2(encoder_path, decoder_path, seed=WEIGHT_SEED, height=h,
width=w)`` for (h, w) = (64, 96) and (192, 640) (same weights, different ``height``/``width``
entries) and loaded exactly as upstream ``test_simple.py`` does on the CPU:
``ResnetEncoder(18, False)``, ``torch.load(encoder.pth, map_location="cpu")``, feed size from its
``height``/``width``, the dict filtered to the encoder's own keys and ``load_state_dict``-ed;
``DepthDecoder(num_ch_enc=encoder.num_ch_enc, scales=range(4))`` with ``load_state_dict`` of
``depth.pth``; both ``.eval()``. For each case (seed, H, W, network h x w) the input was
``torch.rand((1, 3, H, W), generator=torch.Generator().manual_seed(seed))`` (RGB in [0, 1]) and,
under ``torch.no_grad()`` in float32 on CPU with torch 2.14.1: if (H, W) != (h, w) it was resized
with ``F.interpolate(x, (h, w), mode="bilinear", align_corners=False, antialias=True)`` (the
tensor counterpart of test_simple's PIL resize, as design/MODELS.md specifies), then
``decoder(encoder(x))[("disp", 0)]`` was taken and, if resized, brought back with
``F.interpolate(disp, (H, W), mode="bilinear", align_corners=False)`` (as test_simple does).
The (H, W) map was stored as ``disp_<i>`` float32, subsampled ``[::step, ::step]`` to keep the
file small (``steps``). The file holds only ``weight_seed``, ``seeds``, ``sizes`` (input H, W),
``net_sizes`` (checkpoint h, w), ``steps`` and the ``disp_<i>`` arrays; inputs and weights are
regenerated here. Cases: 64x96 at the 64x96 checkpoint (no resizing); 50x70 -> 64x96 -> back
(upsampling in); 120x180 -> 64x96 -> back (downsampling in: antialias matters); 192x640 at the
192x640 checkpoint (step 2); 360x640 -> 192x640 -> back (DHF1K frame size, step 4).
salprep matched upstream bit for bit (max |diff| = 0) on all five; with bilinear instead of
nearest decoder upsampling the max |diff| was 0.28-0.62, with zero instead of reflection padding
0.49-0.85, without antialias on the input resize 0.61 / 0.66 on the two downsampling cases.
Bit-identity holds on one CPU only: the tolerance follows from float32 rounding
(tests/tolerance.py; :func:`_disp_bound`): each float32 run, upstream's and salprep's on any CPU,
is within the bound of the exact disparity, so they differ by at most twice that -- 1e-3 to
3.5e-3 here, far below the 0.28 of the mildest wrong variant.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tolerance import (
    MONODEPTH_LOGITS_DEPTH,
    ScaleTracker,
    assert_within,
    autocast_rms_bound,
    fan_in,
    float64_twin,
    float_bound,
    monodepth_bound,
    rms_rel_diff,
)

import salprep.models.monodepth as md
from salprep.checkpoints import save_original
from salprep.errors import SalprepError
from salprep.models.monodepth import (
    DepthDecoder,
    DepthEncoder,
    Monodepth2,
    disp_to_depth,
    load_monodepth2,
    random_monodepth2_state_dicts,
    save_random_monodepth2,
)

REFERENCE = Path(__file__).parent / "data" / "monodepth2_reference.npz"
CASE_IDS = ["64x96", "50x70-up", "120x180-down", "192x640", "360x640-down"]
# Stages up to the scale-0 logits (tests/tolerance.py), then the sigmoid and the resize back.
DEPTH = MONODEPTH_LOGITS_DEPTH + 2


def _ref():
    return np.load(REFERENCE)


def _image(seed: int, height: int, width: int, batch: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((batch, 3, height, width), generator=gen, dtype=torch.float32)


def _disp(net, x):
    with torch.inference_mode():
        return net(x)


def _disp_bound(net, x, dtype=torch.float32) -> tuple[torch.Tensor, float]:
    """Disparity, and the bound on a run rounding in ``dtype`` vs the exact disparity
    (tests/tolerance.py: monodepth_bound, scale: the largest |value| of this run)."""
    with ScaleTracker(net) as track:
        out = _disp(net, x)
    return out, monodepth_bound(track.scale, fan_in(net), dtype)


def _one_line(err: SalprepError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


@pytest.fixture(scope="module")
def weight_seed() -> int:
    return int(_ref()["weight_seed"])


@pytest.fixture(scope="module")
def states(weight_seed):
    """The 64x96 state dicts (never mutate: copy the dict and replace entries)."""
    return random_monodepth2_state_dicts(weight_seed, 64, 96)


@pytest.fixture(scope="module")
def files(tmp_path_factory, weight_seed):
    """(h, w) -> (encoder.pth, depth.pth) written by save_random_monodepth2."""
    root = tmp_path_factory.mktemp("monodepth2")
    out = {}
    for h, w in ((64, 96), (192, 640)):
        enc, dec = root / f"enc_{h}x{w}" / "encoder.pth", root / f"enc_{h}x{w}" / "depth.pth"
        enc.parent.mkdir()
        save_random_monodepth2(enc, dec, weight_seed, height=h, width=w)
        out[(h, w)] = (enc, dec)
    return out


@pytest.fixture(scope="module")
def nets(files):
    return {size: load_monodepth2(*paths) for size, paths in files.items()}


@pytest.fixture(scope="module")
def net(nets) -> Monodepth2:
    return nets[(64, 96)]


# ------------------------------------------------------------------ reference (original code)


@pytest.mark.parametrize("case", range(5), ids=CASE_IDS)
def test_matches_original_code(nets, case):
    ref = _ref()
    height, width = (int(v) for v in ref["sizes"][case])
    net_size = tuple(int(v) for v in ref["net_sizes"][case])
    step = int(ref["steps"][case])
    net = nets[net_size]
    assert (net.height, net.width) == net_size
    disp, bound = _disp_bound(net, _image(int(ref["seeds"][case]), height, width))
    assert disp.shape == (1, 1, height, width)
    assert disp.dtype == torch.float32
    assert bool(((disp > 0) & (disp < 1)).all())
    expected = ref[f"disp_{case}"]
    got = disp[0, 0].numpy()[::step, ::step]
    # Two float32 runs of the same disparity (upstream's here, salprep's), each within bound.
    assert_within(got, expected, 2 * bound, "salprep vs original")
    # Random weights give a disparity spread over (0, 1), not saturated at 0 or 1.
    assert expected.std() > 0.1
    assert ((expected > 0.02) & (expected < 0.98)).mean() > 0.9


@pytest.mark.parametrize(
    "attr,value", [("_UPSAMPLE_MODE", "bilinear"), ("_PAD_MODE", "constant")],
    ids=["bilinear-upsampling", "zero-padding"],
)
def test_fixture_rejects_known_wrong_variants(net, monkeypatch, attr, value):
    """The comparison would catch the two classic porting mistakes."""
    ref = _ref()
    x = _image(int(ref["seeds"][0]), 64, 96)
    _, bound = _disp_bound(net, x)
    monkeypatch.setattr(md.network, attr, value)
    disp = _disp(net, x)
    # 4: clear of the tolerance of test_matches_original_code (2 * bound), not at its edge.
    assert float(np.abs(disp[0, 0].numpy() - ref["disp_0"]).max()) > 4 * (2 * bound)


def test_fixture_is_small():
    assert REFERENCE.stat().st_size < 400_000


# ------------------------------------------------------------------ file layout and loading


def test_random_files_have_the_released_layout(files, states):
    enc_path, dec_path = files[(64, 96)]
    for path in (enc_path, dec_path):
        assert not zipfile.is_zipfile(path)  # legacy serialization like the released files
    enc = torch.load(enc_path, map_location="cpu", weights_only=True)
    dec = torch.load(dec_path, map_location="cpu", weights_only=True)
    from torchvision.models import resnet18

    resnet_keys = ["encoder." + k for k in resnet18(weights=None).state_dict()]
    assert list(enc)[: len(resnet_keys)] == resnet_keys  # incl. fc and num_batches_tracked
    assert list(enc)[len(resnet_keys):] == ["height", "width", "use_stereo"]
    assert "encoder.fc.weight" in enc and tuple(enc["encoder.fc.weight"].shape) == (1000, 512)
    assert enc["encoder.layer1.0.bn1.num_batches_tracked"].dtype == torch.int64
    assert (enc["height"], enc["width"], enc["use_stereo"]) == (64, 96, False)
    expected_dec = [f"decoder.{i}.conv.conv.{p}" for i in range(10) for p in ("weight", "bias")]
    expected_dec += [f"decoder.{i}.conv.{p}" for i in range(10, 14) for p in ("weight", "bias")]
    assert list(dec) == expected_dec and len(dec) == 28
    assert tuple(dec["decoder.0.conv.conv.weight"].shape) == (256, 512, 3, 3)
    assert tuple(dec["decoder.7.conv.conv.weight"].shape) == (32, 96, 3, 3)  # 32 + 64 skip
    assert tuple(dec["decoder.9.conv.conv.weight"].shape) == (16, 16, 3, 3)  # no skip at 0
    assert tuple(dec["decoder.13.conv.weight"].shape) == (1, 128, 3, 3)
    # The module's own keys are the file's minus fc and the plain entries, key for key.
    assert set(DepthEncoder().state_dict()) == set(enc) - {
        "encoder.fc.weight", "encoder.fc.bias", "height", "width", "use_stereo"
    }
    assert list(DepthDecoder().state_dict()) == expected_dec
    for key, value in states[1].items():
        assert torch.equal(dec[key], value)


def test_loaded_module_holds_the_file_weights(files, net):
    enc = torch.load(files[(64, 96)][0], map_location="cpu", weights_only=True)
    dec = torch.load(files[(64, 96)][1], map_location="cpu", weights_only=True)
    own = net.state_dict()
    for key, value in enc.items():
        if key.startswith("encoder.") and not key.startswith("encoder.fc."):
            assert torch.equal(own["encoder." + key], value), key
    for key, value in dec.items():
        assert torch.equal(own["decoder." + key], value), key
    assert (net.height, net.width, net.use_stereo) == (64, 96, False)


def test_height_width_are_read_from_the_file(nets):
    assert (nets[(192, 640)].height, nets[(192, 640)].width) == (192, 640)
    assert (nets[(64, 96)].height, nets[(64, 96)].width) == (64, 96)


def test_loaded_module_is_eval_cpu_float32(net):
    assert not net.training
    assert all(not m.training for m in net.modules())
    params = list(net.parameters())
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params)
    assert sum(1 for _ in net.decoder.parameters()) == 28


def test_random_weights_are_seeded():
    a_enc, a_dec = random_monodepth2_state_dicts(3, 64, 96)
    b_enc, b_dec = random_monodepth2_state_dicts(3, 192, 640)
    c_enc, c_dec = random_monodepth2_state_dicts(4, 64, 96)
    for key, value in a_enc.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b_enc[key])
    assert all(torch.equal(a_dec[k], b_dec[k]) for k in a_dec)
    assert not torch.equal(a_enc["encoder.conv1.weight"], c_enc["encoder.conv1.weight"])
    assert not torch.equal(a_dec["decoder.10.conv.weight"], c_dec["decoder.10.conv.weight"])
    # BatchNorm is far from the identity.
    assert (a_enc["encoder.bn1.running_var"] - 1).abs().max() > 0.3
    assert a_enc["encoder.bn1.running_mean"].abs().max() > 0.1
    assert (a_enc["encoder.bn1.weight"] - 1).abs().max() > 0.2
    with pytest.raises(ValueError):
        random_monodepth2_state_dicts(3, 100, 96)


# ------------------------------------------------------------------ bad checkpoints


def _write(tmp_path, enc_state=None, dec_state=None, files=None, name="bad"):
    """Write the given state dicts (None: the good 64x96 file) and return the two paths."""
    good_enc, good_dec = files[(64, 96)]
    enc_path, dec_path = good_enc, good_dec
    if enc_state is not None:
        enc_path = save_original(enc_state, tmp_path / f"{name}_encoder.pth")
    if dec_state is not None:
        dec_path = save_original(dec_state, tmp_path / f"{name}_depth.pth")
    return enc_path, dec_path


def _load_error(enc_path, dec_path) -> str:
    with pytest.raises(SalprepError) as info:
        load_monodepth2(enc_path, dec_path)
    return _one_line(info.value)


def test_encoder_missing_key(tmp_path, states, files):
    enc = dict(states[0])
    del enc["encoder.layer2.0.downsample.0.weight"]
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg and "monodepth2 encoder" in msg
    assert "missing keys" in msg and "encoder.layer2.0.downsample.0.weight" in msg


def test_encoder_without_num_batches_tracked_is_accepted(tmp_path, states, files, net):
    enc = {k: v for k, v in states[0].items() if not k.endswith("num_batches_tracked")}
    enc_path, dec_path = _write(tmp_path, enc_state=enc, files=files)
    other = load_monodepth2(enc_path, dec_path)
    x = _image(1, 64, 96)
    assert torch.equal(_disp(other, x), _disp(net, x))


def test_encoder_unexpected_key(tmp_path, states, files):
    enc = dict(states[0])
    enc["encoder.layer5.0.conv1.weight"] = torch.zeros(3, 3)
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg
    assert "unexpected keys" in msg and "encoder.layer5.0.conv1.weight" in msg


def test_decoder_missing_and_unexpected_keys(tmp_path, states, files):
    dec = dict(states[1])
    del dec["decoder.12.conv.bias"]
    dec["decoder.14.conv.weight"] = torch.zeros(1, 16, 3, 3)
    paths = _write(tmp_path, dec_state=dec, files=files)
    msg = _load_error(*paths)
    assert str(paths[1]) in msg and "monodepth2 depth decoder" in msg
    assert "decoder.12.conv.bias" in msg and "decoder.14.conv.weight" in msg


def test_wrong_shape(tmp_path, states, files):
    dec = dict(states[1])
    dec["decoder.3.conv.conv.weight"] = torch.zeros(128, 128, 3, 3)
    paths = _write(tmp_path, dec_state=dec, files=files)
    msg = _load_error(*paths)
    assert str(paths[1]) in msg
    assert "decoder.3.conv.conv.weight" in msg and "(128, 128, 3, 3)" in msg
    assert "(128, 256, 3, 3)" in msg  # 128 + 128 skip channels


def test_nan_weight(tmp_path, states, files):
    enc = dict(states[0])
    bad = enc["encoder.layer3.1.conv2.weight"].clone()
    bad[0, 0, 0, 0] = float("nan")
    enc["encoder.layer3.1.conv2.weight"] = bad
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg and "encoder.layer3.1.conv2.weight" in msg and "NaN" in msg


@pytest.mark.parametrize("which", [0, 1], ids=["encoder", "decoder"])
def test_garbage_bytes(tmp_path, files, which):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"this is not a checkpoint\x00\x01")
    paths = list(files[(64, 96)])
    paths[which] = bad
    msg = _load_error(*paths)
    assert str(bad) in msg and "not a PyTorch checkpoint" in msg


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_are_not_a_checkpoint(tmp_path, files, seed):
    bad = tmp_path / "random.pth"
    bad.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    msg = _load_error(bad, files[(64, 96)][1])
    assert str(bad) in msg and "not a PyTorch checkpoint" in msg


def test_missing_file(tmp_path, files):
    missing = tmp_path / "nope" / "depth.pth"
    msg = _load_error(files[(64, 96)][0], missing)
    assert str(missing) in msg and "not found" in msg


def test_swapped_files(files):
    enc, dec = files[(64, 96)]
    msg = _load_error(dec, enc)  # decoder given as the encoder: refused first
    assert str(dec) in msg and "depth decoder file" in msg and "swapped" in msg
    msg = _load_error(enc, enc)  # encoder given as the decoder
    assert msg.startswith(f"{enc}:") and "looks like a monodepth2 encoder file" in msg


def test_pose_encoder_is_named(tmp_path, states, files):
    enc = dict(states[0])
    enc["encoder.conv1.weight"] = torch.zeros(64, 6, 7, 7)  # pose_encoder.pth: two frames stacked
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg and "pose encoder" in msg


@pytest.mark.parametrize("drop", [("height",), ("width",), ("height", "width", "use_stereo")])
def test_missing_height_width(tmp_path, states, files, drop):
    enc = {k: v for k, v in states[0].items() if k not in drop}
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg
    for key in ("height", "width"):
        assert (f"'{key}'" in msg) == (key in drop)


@pytest.mark.parametrize("height,width", [(100, 96), (64, 650), (32, 96), ("192", 640)])
def test_bad_training_size(tmp_path, states, files, height, width):
    enc = dict(states[0])
    enc["height"], enc["width"] = height, width
    paths = _write(tmp_path, enc_state=enc, files=files)
    msg = _load_error(*paths)
    assert str(paths[0]) in msg and ("multiple of 32" in msg or "integer" in msg)


def test_pickled_module_is_refused(tmp_path, files):
    path = tmp_path / "model.pth"
    torch.save(DepthDecoder(), path)
    msg = _load_error(files[(64, 96)][0], path)
    assert str(path) in msg and "pickled model" in msg


# ------------------------------------------------------------------ forward


def test_disp_to_depth_values():
    # Relative: at most 5 float32 roundings of positive values (the scalar (high - low), the
    # multiply, the add, the reciprocal or product, the expected value's own), each <= eps / 2.
    rtol = float_bound(torch.float32, 1.0, 1, 5)
    disp = torch.tensor([0.0, 0.5, 1.0])
    scaled, depth = disp_to_depth(disp)
    torch.testing.assert_close(scaled, torch.tensor([0.01, 0.01 + 9.99 * 0.5, 10.0]), rtol=rtol, atol=0)
    torch.testing.assert_close(depth, torch.tensor([100.0, 1.0 / 5.005, 0.1]), rtol=rtol, atol=0)
    scaled, depth = disp_to_depth(torch.tensor([0.25]), min_depth=1.0, max_depth=10.0)
    torch.testing.assert_close(scaled, torch.tensor([0.1 + 0.9 * 0.25]), rtol=rtol, atol=0)
    torch.testing.assert_close(depth * scaled, torch.ones(1), rtol=rtol, atol=0)
    with pytest.raises(ValueError):
        disp_to_depth(disp, min_depth=1.0, max_depth=0.5)


@pytest.mark.parametrize("height,width", [(64, 96), (50, 70)])
def test_batch_of_two_equals_two_singles(net, height, width):
    """Other batch sizes get other kernels (other summation orders, per CPU): each float32
    result within float_bound of the float64 disparity, so within 2 * bound of each other."""
    x = _image(21, height, width, batch=2)
    together, bound = _disp_bound(net, x)
    assert together.shape == (2, 1, height, width)
    exact, bound64 = _disp_bound(float64_twin(net), x.double(), torch.float64)
    assert_within(together, exact, bound + bound64, "batch of two vs float64")
    for i in range(2):
        alone = _disp(net, x[i : i + 1])
        assert_within(alone, exact[i : i + 1], bound + bound64, f"image {i} alone vs float64")
        assert_within(together[i : i + 1], alone, 2 * bound, f"image {i}: batch vs alone")


def test_no_resizing_at_network_size(net):
    x = _image(5, 64, 96)
    with torch.inference_mode():
        direct = net.disparity_at_network_size(x)
        direct_parts = net.decoder(net.encoder(x), scales=(0, 1, 2, 3))
    assert torch.equal(_disp(net, x), direct)
    assert torch.equal(direct_parts[0], direct)
    for s in range(4):
        assert direct_parts[s].shape == (1, 1, 64 // 2**s, 96 // 2**s)


def test_resize_in_and_back(net):
    x = _image(6, 80, 120)
    with torch.inference_mode():
        inner = net.disparity_at_network_size(
            F.interpolate(x, (64, 96), mode="bilinear", align_corners=False, antialias=True)
        )
        back = F.interpolate(inner, (80, 120), mode="bilinear", align_corners=False)
    assert torch.equal(_disp(net, x), back)


def test_encoder_features_and_normalisation(net):
    x = _image(7, 64, 96)
    with torch.inference_mode():
        feats = net.encoder(x)
        r = net.encoder.encoder
        first = r.relu(r.bn1(r.conv1((x - 0.45) / 0.225)))
    assert [tuple(f.shape) for f in feats] == [
        (1, 64, 32, 48), (1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6), (1, 512, 2, 3)
    ]
    assert torch.equal(feats[0], first)


def test_input_validation(net):
    with pytest.raises(ValueError, match="got \\(1, 1, 64, 96\\)"):
        net(torch.zeros(1, 1, 64, 96))
    with pytest.raises(ValueError):
        net(torch.zeros(3, 64, 96))
    with pytest.raises(TypeError):
        net(torch.zeros(1, 3, 64, 96, dtype=torch.uint8))
    with pytest.raises(ValueError, match="multiples of 32"):
        net.disparity_at_network_size(torch.zeros(1, 3, 70, 96))
    with pytest.raises(ValueError):
        Monodepth2(height=100, width=640)
    with pytest.raises(ValueError):
        net.decoder(net.encoder(torch.zeros(1, 3, 64, 96))[:4])


def test_float64_input_is_accepted(net):
    # Converted to the parameter dtype first: float32 values round-trip through float64 exactly,
    # so the network sees the same tensor -- same kernels in this process, the same bits.
    x = _image(8, 50, 70)
    out = _disp(net, x.double())
    assert out.dtype == torch.float32
    assert torch.equal(out, _disp(net, x))


def test_autocast_cpu(net):
    x = _image(9, 50, 70)
    full = _disp(net, x)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = net(x)
    assert low.shape == (1, 1, 50, 70)
    assert torch.isfinite(low).all()
    assert rms_rel_diff(low.float(), full) <= autocast_rms_bound(torch.bfloat16, DEPTH)  # 0.18


# ------------------------------------------------------------------ CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_original_code(files, no_tf32):
    ref = _ref()
    nets = {size: load_monodepth2(*paths) for size, paths in files.items()}
    assert all(next(n.parameters()).device.type == "cpu" for n in nets.values())  # loader never moves it
    nets = {size: n.to("cuda") for size, n in nets.items()}
    for case in range(len(ref["seeds"])):
        height, width = (int(v) for v in ref["sizes"][case])
        net = nets[tuple(int(v) for v in ref["net_sizes"][case])]
        step = int(ref["steps"][case])
        x = _image(int(ref["seeds"][case]), height, width).cuda()
        disp, bound = _disp_bound(net, x)
        assert disp.device.type == "cuda" and disp.shape == (1, 1, height, width)
        # TF32 off: plain float32 sums on the GPU too; two float32 runs, each within bound.
        got = disp[0, 0].cpu().numpy()[::step, ::step]
        assert_within(got, ref[f"disp_{case}"], 2 * bound, f"case {case}: CUDA vs original")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
        half = nets[(192, 640)](_image(3, 360, 640).cuda())
    assert half.shape == (1, 1, 360, 640) and torch.isfinite(half).all()


def test_encoder_shapes_are_torchvision_resnet18_in_order():
    """The random encoder file's keys and shapes (spelled out, so the demo's weights need no
    torchvision import) are torchvision's ResNet-18 state_dict, in its order."""
    import subprocess
    import sys

    from torchvision.models import resnet18

    from salprep.models.monodepth.checkpoint import _encoder_shapes

    with torch.device("meta"):
        net = resnet18(weights=None)
    assert list(_encoder_shapes().items()) == [(f"encoder.{k}", tuple(v.shape)) for k, v in net.state_dict().items()]
    probe = ("import sys, tempfile; from salprep.demo.weights import write_random_checkpoints as w; "
             "w(tempfile.mkdtemp()); from salprep.models.monodepth import Monodepth2; Monodepth2(); "
             "print('torchvision' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"


def test_the_encoder_is_torchvision_resnet18():
    """:class:`ResNet18Features` (written out so that depth jobs import no torchvision) computes
    what torchvision's resnet18 computes up to layer4, with its weights loaded key for key:
    the same modules in the same order, so the same kernels on the same input (bit-identical,
    in one process)."""
    from torchvision.models import resnet18

    from salprep.models.monodepth.network import ResNet18Features

    torch.manual_seed(0)
    reference = resnet18(weights=None).eval()
    for m in reference.modules():  # BatchNorm away from identity, so a swapped layer shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ours = ResNet18Features().eval()
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        a, b = reference, ours
        ya = a.relu(a.bn1(a.conv1(x)))
        yb = b.relu(b.bn1(b.conv1(x)))
        assert torch.equal(ya, yb)
        ya, yb = a.maxpool(ya), b.maxpool(yb)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            ya, yb = getattr(a, name)(ya), getattr(b, name)(yb)
            assert torch.equal(ya, yb), name
