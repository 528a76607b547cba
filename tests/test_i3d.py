"""Tests for salprep.models.i3d (CPU; the CUDA test skips without a GPU).

Reference fixture ``tests/data/i3d_reference.npz`` -- how it was produced:
the original piergiaj/pytorch-i3d ``pytorch_i3d.py`` (GitHub HEAD 05783d1, 2018-06-28) was copied
to a scratch folder outside this repository (Apache-2.0; none of it is in salprep). It runs on
the CPU as is, so nothing in it was changed. Weights: ``save_random_i3d(path, seed=20240,
modality=m)`` for m in ("rgb", "flow") (287 tensors incl. 400-class logits, no
``num_batches_tracked``, legacy serialisation; the seed is stored as ``weight_seed``, so changing
:func:`random_i3d_state_dict` invalidates the fixture), read with
``torch.load(path, map_location="cpu", weights_only=True)`` into
``InceptionI3d(400, in_channels=3 or 2, final_endpoint="Logits")`` -- 'Logits' so that every layer
is registered -- with upstream's strict ``load_state_dict``, then ``.eval()``. For each case
(seed, modality, shape) the input was
``torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1`` (float32, in
[-1, 1]); under ``torch.no_grad()`` the endpoints ``VALID_ENDPOINTS[:16]`` (Conv3d_1a_7x7 ...
Mixed_5c) were applied one after the other via ``net._modules[name]`` (``extract_features()``
would avg-pool, ``forward()`` would add the logits), in float32 on the CPU with torch 2.14.1
(2 threads), and the Mixed_5c output was stored as ``out_<i>``. The file
(``np.savez_compressed``) holds only ``weight_seed``, ``seeds``, ``modalities``, ``shapes`` and the
``out_<i>`` arrays; inputs and weights are regenerated here.
Cases: rgb (1, 3, 16, 64, 64) (even sizes: asymmetric SAME padding in the stem and pools);
rgb (2, 3, 17, 72, 56) (odd T, batch of two); flow (1, 2, 79, 64, 64) (the 79-frame LSTS window);
flow (1, 2, 5, 31, 33) (odd and tiny: spatial sizes fall below the kernels).
salprep matched upstream to max |diff| = 0, 0, 8.6e-6 (5.4e-7 of max|original|), 0. Checked
when the fixture was made: PyTorch-style padding k // 2 on both sides changes the output shapes
(e.g. (1024, 11, 3, 3) for 79x64x64); symmetric padding that keeps the shapes (the extra zero also
at the front) differs by 10-32 % of max|original|; BatchNorm eps 1e-5 by 0.85-0.92 %: all far
outside the tolerance, which follows from float32 rounding (tests/tolerance.py): each of the two
float32 runs (upstream's, made on one CPU, and salprep's, on any CPU, whose kernels sum in another
order) is within float_bound(float32, scale, fan-in 5184, depth 21) of the exact features, so they
differ by at most twice that -- 3e-3 to 8e-3 here, i.e. 3e-4 of the activations' scale.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import salprep.models.i3d as i3d
from salprep.errors import SalprepError
from tolerance import (
    I3D_DEPTH,
    ScaleTracker,
    assert_within,
    autocast_rms_bound,
    fan_in,
    float64_twin,
    float_bound,
    rms_rel_diff,
)

from salprep.models.i3d import (
    ENDPOINTS,
    InceptionI3d,
    load_i3d,
    random_i3d_state_dict,
    same_padding,
    save_random_i3d,
)

REFERENCE = Path(__file__).parent / "data" / "i3d_reference.npz"
_STEMS = ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3")
_MIXED = ("Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
          "Mixed_5b", "Mixed_5c")
_BRANCHES = ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")
_UNIT_TENSORS = ("conv3d.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")
DEPTH = I3D_DEPTH  # convolutions on the longest path (tests/tolerance.py)


def _ref():
    return np.load(REFERENCE, allow_pickle=False)


def _clip(seed: int, shape) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _run(net, x):
    with torch.inference_mode():
        return net(x)


def _run_bound(net, x, dtype=torch.float32) -> tuple[torch.Tensor, float]:
    """Features, and the float_bound of a run rounding in ``dtype`` vs the exact features: the
    scale is the largest |value| of this run (tests/tolerance.py)."""
    with ScaleTracker(net) as track:
        out = _run(net, x)
    return out, float_bound(dtype, track.scale, fan_in(net), DEPTH)


def _copy(net: InceptionI3d) -> InceptionI3d:
    twin = InceptionI3d(net.in_channels)
    twin.load_state_dict(net.state_dict())
    return twin.eval()


def _expected_out(shape) -> tuple[int, ...]:
    b, _, t, h, w = shape
    return (b, 1024, math.ceil(t / 8), math.ceil(h / 32), math.ceil(w / 32))


def _upstream_keys() -> set[str]:
    """Upstream's layer names, spelled out independently of salprep's module."""
    units = list(_STEMS) + [f"{m}.{b}" for m in _MIXED for b in _BRANCHES]
    return {f"{u}.{t}" for u in units for t in _UNIT_TENSORS}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("i3d")
    seed = int(_ref()["weight_seed"])
    paths = {}
    for modality in ("rgb", "flow"):
        paths[modality] = folder / f"{modality}_imagenet.pt"
        save_random_i3d(paths[modality], seed, modality)
    return paths


@pytest.fixture(scope="module")
def nets(ckpts) -> dict[str, InceptionI3d]:
    return {modality: load_i3d(path, modality) for modality, path in ckpts.items()}


# ------------------------------------------------------------------ reference (original code)


@pytest.mark.parametrize(
    "case", [0, 1, 2, 3], ids=["rgb16x64x64", "rgb2x17x72x56", "flow79x64x64", "flow5x31x33"]
)
def test_matches_original_code(nets, case):
    ref = _ref()
    seed = int(ref["seeds"][case])
    modality = str(ref["modalities"][case])
    shape = tuple(int(v) for v in ref["shapes"][case])
    expected = ref[f"out_{case}"]
    out, bound = _run_bound(nets[modality], _clip(seed, shape))
    assert tuple(out.shape) == _expected_out(shape) == expected.shape
    assert out.dtype == torch.float32
    # Two float32 runs of the same features (upstream's here, salprep's), each within bound.
    assert_within(out, expected, 2 * bound, "salprep vs original")
    # The random weights keep activations of order one (neither exploding nor dying out).
    assert 1.0 < np.abs(expected).max() < 100.0
    assert 0.3 < (expected > 0).mean() < 0.7


def test_fixture_rejects_wrong_batchnorm_eps(nets):
    """The bound is tight enough for the subtlest known porting mistake: BatchNorm eps 1e-5
    (PyTorch's default) instead of upstream's 1e-3, on the smallest case."""
    ref = _ref()
    case = 3
    net = _copy(nets[str(ref["modalities"][case])])
    x = _clip(int(ref["seeds"][case]), tuple(int(v) for v in ref["shapes"][case]))
    _, bound = _run_bound(net, x)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.eps = 1e-5
    wrong = _run(net, x)
    assert float(np.abs(wrong.numpy() - ref[f"out_{case}"]).max()) > 4 * (2 * bound)  # 4: clear of it


def test_fixture_is_small():
    assert REFERENCE.stat().st_size < 300_000


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize(
    "clip,expected",
    [
        ((79, 224, 224), (1024, 10, 7, 7)),
        ((79, 160, 160), (1024, 10, 5, 5)),
        ((16, 160, 160), (1024, 2, 5, 5)),
        ((64, 224, 224), (1024, 8, 7, 7)),
        ((1, 1, 1), (1024, 1, 1, 1)),
        ((9, 33, 65), (1024, 2, 2, 3)),
    ],
)
def test_output_shapes_per_design(clip, expected):
    # Shape-only run on the meta device: no memory, no arithmetic.
    with torch.device("meta"):
        net = InceptionI3d(3)
        out = net(torch.empty(2, 3, *clip))
    assert tuple(out.shape) == (2, *expected) == _expected_out((2, 3, *clip))


def test_intermediate_shapes_79x224x224():
    with torch.device("meta"):
        net = InceptionI3d(2)
        x = torch.empty(1, 2, 79, 224, 224)
        shapes = {}
        for name in ENDPOINTS:
            x = getattr(net, name)(x)
            shapes[name] = tuple(x.shape[1:])
    assert shapes["Conv3d_1a_7x7"] == (64, 40, 112, 112)
    assert shapes["MaxPool3d_3a_3x3"] == (192, 40, 28, 28)
    assert shapes["MaxPool3d_4a_3x3"] == (480, 20, 14, 14)
    assert shapes["MaxPool3d_5a_2x2"] == (832, 10, 7, 7)
    assert [shapes[m][0] for m in _MIXED] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]


def test_same_padding_rule():
    # TensorFlow SAME: total max(k - st, 0) or max(k - s % st, 0); the extra zero at the end.
    assert same_padding(224, 7, 2) == (2, 3)
    assert same_padding(79, 7, 2) == (3, 3)
    assert same_padding(112, 3, 2) == (0, 1)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(20, 2, 2) == (0, 0)
    assert same_padding(5, 2, 2) == (0, 1)
    assert same_padding(1, 7, 2) == (3, 3)
    assert same_padding(40, 3, 1) == (1, 1)
    assert same_padding(40, 1, 1) == (0, 0)


def _reference_pool(x, kernel, stride):
    # The literal SAME rule: explicit zero padding, then an unpadded max pool.
    pads = [same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride)]
    (tf, tb), (hf, hb), (wf, wb) = pads
    return F.max_pool3d(F.pad(x, (wf, wb, hf, hb, tf, tb)), kernel, stride)


@pytest.mark.parametrize("kernel,stride", [((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 2, 2)),
                                           ((2, 2, 2), (2, 2, 2)), ((3, 3, 3), (1, 1, 1))])
def test_max_pool_matches_explicit_zero_padding(kernel, stride):
    # The pools pass symmetric padding / ceil_mode to max_pool3d instead of padding the input;
    # on ReLU outputs (>= 0) that must equal explicit zero padding, for every size.
    pool = i3d.MaxPool3dSame(kernel, stride)
    gen = torch.Generator().manual_seed(0)
    for size in range(1, 21):
        x = torch.relu(torch.randn((1, 2, size, size + 1, max(1, size - 1)), generator=gen))
        out = pool(x)
        assert torch.equal(out, _reference_pool(x, kernel, stride)), size
        expected = tuple(math.ceil(s / st) for s, st in zip(x.shape[2:], stride))
        assert tuple(out.shape[2:]) == expected


@pytest.mark.parametrize("size", [(7, 9, 8), (8, 8, 8), (1, 2, 3)])
def test_unit3d_matches_explicit_zero_padding(size):
    gen = torch.Generator().manual_seed(1)
    for kernel, stride in [((7, 7, 7), (2, 2, 2)), ((3, 3, 3), (1, 1, 1))]:
        unit = i3d.Unit3D(2, 4, kernel, stride).eval()
        x = torch.randn((1, 2, *size), generator=gen)
        pads = [same_padding(s, k, st) for s, k, st in zip(size, kernel, stride)]
        (tf, tb), (hf, hb), (wf, wb) = pads
        with torch.inference_mode(), ScaleTracker(unit) as track:
            expected = torch.relu(unit.bn(unit.conv3d(F.pad(x, (wf, wb, hf, hb, tf, tb)))))
            got = unit(x)
        # Two float32 evaluations (the padded input may get another kernel) of conv (fan-in
        # C_in * 7^3) then BatchNorm: depth 2, each within float_bound of the exact unit.
        bound = float_bound(torch.float32, track.scale, fan_in(unit), 2)
        assert_within(got, expected, 2 * bound, f"kernel {kernel}")


# ------------------------------------------------------------------ keys and the released files


def test_state_dict_keys_are_upstreams():
    net = InceptionI3d(3)
    keys = set(net.state_dict())
    tracked = {k for k in keys if k.endswith(".num_batches_tracked")}
    assert len(tracked) == 57
    assert keys - tracked == _upstream_keys()
    assert len(keys - tracked) == 285
    assert not any(k.startswith("logits") for k in keys)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["Mixed_4c.b1b.conv3d.weight"] == (224, 112, 3, 3, 3)
    assert shapes["Mixed_5c.b3b.bn.running_var"] == (128,)
    assert InceptionI3d(2).state_dict()["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 2, 7, 7, 7)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            assert module.eps == 1e-3 and module.momentum == 0.01
        if isinstance(module, torch.nn.Conv3d):
            assert module.bias is None and module.padding == (0, 0, 0)


@pytest.mark.parametrize("modality,channels", [("rgb", 3), ("flow", 2)])
def test_random_file_is_laid_out_like_the_release(ckpts, modality, channels):
    path = ckpts[modality]
    assert not zipfile.is_zipfile(path)  # legacy serialisation, like the released files
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 287
    assert set(state) == _upstream_keys() | {"logits.conv3d.weight", "logits.conv3d.bias"}
    assert not any(k.endswith("num_batches_tracked") for k in state)
    assert state["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1)
    assert state["logits.conv3d.bias"].shape == (400,)
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, channels, 7, 7, 7)
    assert all(v.dtype == torch.float32 for v in state.values())
    # BatchNorm far from identity.
    assert state["Mixed_4d.b0.bn.running_var"].min() >= 0.5
    assert state["Mixed_4d.b0.bn.running_var"].max() <= 2.0
    assert state["Mixed_4d.b0.bn.running_mean"].abs().max() > 0.1


def test_loaded_modules(nets, ckpts):
    for modality, net in nets.items():
        assert isinstance(net, InceptionI3d)
        assert not net.training and all(not m.training for m in net.modules())
        assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters())
        assert net.in_channels == {"rgb": 3, "flow": 2}[modality]
        raw = torch.load(ckpts[modality], map_location="cpu", weights_only=True)
        own = net.state_dict()
        for key, value in raw.items():
            if not key.startswith("logits."):
                assert torch.equal(own[key], value), key


def test_charades_file_and_num_batches_tracked_load(tmp_path):
    # Charades files: 157-class logits (ignored). Files saved by newer PyTorch carry
    # num_batches_tracked; files in the zip format load too.
    charades = tmp_path / "rgb_charades.pt"
    save_random_i3d(charades, 5, "rgb", num_classes=157)
    state = torch.load(charades, map_location="cpu", weights_only=True)
    assert state["logits.conv3d.weight"].shape == (157, 1024, 1, 1, 1)
    a = load_i3d(charades, "rgb")
    newer = tmp_path / "newer.pt"
    full = dict(InceptionI3d(3).state_dict())
    full.update({k: v for k, v in state.items() if not k.startswith("logits.")})
    torch.save(full, newer)
    assert zipfile.is_zipfile(newer)
    b = load_i3d(newer, "rgb")
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_random_weights_are_seeded():
    a = random_i3d_state_dict(3, "flow")
    b = random_i3d_state_dict(3, "flow")
    c = random_i3d_state_dict(4, "flow")
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["Mixed_3b.b0.conv3d.weight"], c["Mixed_3b.b0.conv3d.weight"])
    with pytest.raises(ValueError):
        random_i3d_state_dict(3, "depth")


# ------------------------------------------------------------------ bad checkpoints


def _one_line(err: SalprepError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def _refused(path, modality="rgb") -> str:
    with pytest.raises(SalprepError) as info:
        load_i3d(path, modality)
    msg = _one_line(info.value)
    assert str(path) in msg
    return msg


@pytest.mark.parametrize("file_modality,asked", [("flow", "rgb"), ("rgb", "flow")])
def test_wrong_modality_is_named(ckpts, file_modality, asked):
    msg = _refused(ckpts[file_modality], asked)
    got, want = {"rgb": (3, 2), "flow": (2, 3)}[file_modality]
    assert f"Conv3d_1a_7x7 takes {got} input channels" in msg
    assert f"{file_modality} checkpoint" in msg
    assert f"expected {asked} ({want})" in msg


def _write(tmp_path, name, state) -> Path:
    path = tmp_path / name
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path


def test_missing_key(tmp_path):
    state = random_i3d_state_dict(1, "rgb")
    del state["Mixed_4e.b2b.bn.running_var"]
    msg = _refused(_write(tmp_path, "missing.pt", state))
    assert "missing keys" in msg and "Mixed_4e.b2b.bn.running_var" in msg
    assert "num_batches_tracked" not in msg


def test_unexpected_key(tmp_path):
    state = random_i3d_state_dict(1, "rgb")
    state["Mixed_6a.b0.conv3d.weight"] = torch.zeros(1)
    msg = _refused(_write(tmp_path, "unexpected.pt", state))
    assert "unexpected keys" in msg and "Mixed_6a.b0.conv3d.weight" in msg
    assert "logits" not in msg  # the logits are allowed extras


def test_wrong_shape(tmp_path):
    state = random_i3d_state_dict(1, "rgb")
    state["Mixed_4c.b1b.conv3d.weight"] = torch.zeros(224, 112, 5, 5, 5)
    msg = _refused(_write(tmp_path, "shape.pt", state))
    assert "Mixed_4c.b1b.conv3d.weight" in msg
    assert "(224, 112, 5, 5, 5)" in msg and "(224, 112, 3, 3, 3)" in msg


def test_nan_weight(tmp_path):
    state = random_i3d_state_dict(1, "flow")
    state["Mixed_3c.b3b.bn.weight"][7] = float("nan")
    msg = _refused(_write(tmp_path, "nan.pt", state), "flow")
    assert "Mixed_3c.b3b.bn.weight" in msg and "NaN" in msg


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(np.random.default_rng(0).bytes(4096), id="random"),
        pytest.param(bytes(100), id="zeros"),
        pytest.param(b"this is not a checkpoint\x00\x01", id="text"),
        pytest.param(b"PK\x03\x04garbage", id="zip-header"),
        pytest.param(b"", id="empty"),
    ],
)
def test_random_bytes(tmp_path, content):
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    msg = _refused(path)  # a SalprepError naming the file, in every case
    assert "not a PyTorch checkpoint" in msg


def test_missing_file(tmp_path):
    assert "not found" in _refused(tmp_path / "nope.pt")


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(InceptionI3d(3), path)
    msg = _refused(path)
    assert "objects other than tensors" in msg


def test_bad_modality_argument():
    with pytest.raises(ValueError, match="depth"):
        load_i3d("x", "depth")
    with pytest.raises(ValueError):
        load_i3d("x", "RGB")


# ------------------------------------------------------------------ forward behaviour


def test_batch_consistency(nets):
    """A batch of two vs each clip alone: other batch sizes get other kernels (other summation
    orders, per CPU), so each float32 result is checked against the float64 features within
    float_bound, and so within 2 * float_bound of each other (tests/tolerance.py)."""
    x = _clip(11, (2, 3, 9, 40, 48))
    together, bound = _run_bound(nets["rgb"], x)
    exact, bound64 = _run_bound(float64_twin(nets["rgb"]), x.double(), torch.float64)
    assert_within(together, exact, bound + bound64, "batch of two vs float64")
    for i in range(2):
        alone = _run(nets["rgb"], x[i : i + 1])
        assert_within(alone, exact[i : i + 1], bound + bound64, f"clip {i} alone vs float64")
        assert_within(together[i : i + 1], alone, 2 * bound, f"clip {i}: batch vs alone")


def test_input_validation(nets):
    net = nets["rgb"]
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\).*got shape \(1, 2, 8, 32, 32\)"):
        net(torch.zeros(1, 2, 8, 32, 32))
    with pytest.raises(ValueError, match=r"got shape \(3, 8, 32, 32\)"):
        net(torch.zeros(3, 8, 32, 32))
    with pytest.raises(ValueError, match=r"expects \(B, 2, T, H, W\)"):
        nets["flow"](torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(TypeError):
        net(torch.zeros(1, 3, 8, 32, 32, dtype=torch.uint8))


def test_channels_last_3d_gives_the_same_features(nets):
    x = _clip(12, (1, 3, 9, 40, 48))
    expected, bound = _run_bound(nets["rgb"], x)
    net = _copy(nets["rgb"]).to(memory_format=torch.channels_last_3d)
    out = _run(net, x.contiguous(memory_format=torch.channels_last_3d))
    # Other kernels, same features: two float32 runs, each within bound of the exact ones.
    assert_within(out, expected, 2 * bound, "channels_last_3d vs contiguous")


def test_traces_without_data_dependent_control_flow(nets):
    # torch.export refuses Python branches on tensor values; padding depends on shapes only.
    x = _clip(13, (1, 2, 6, 33, 40))
    exported = torch.export.export(nets["flow"], (x,))
    eager, bound = _run_bound(nets["flow"], x)
    # The exported graph may decompose ops differently: two float32 runs, each within bound.
    assert_within(_run(exported.module(), x), eager, 2 * bound, "exported vs eager")


# ------------------------------------------------------------------ CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_and_original(nets, no_tf32):
    ref = _ref()
    for case in range(len(ref["seeds"])):
        modality = str(ref["modalities"][case])
        shape = tuple(int(v) for v in ref["shapes"][case])
        x = _clip(int(ref["seeds"][case]), shape)
        cpu, bound = _run_bound(nets[modality], x)
        net = _copy(nets[modality]).to("cuda")
        out = _run(net, x.cuda())
        assert out.device.type == "cuda" and out.dtype == torch.float32
        # TF32 off: plain float32 sums on the GPU too, each run within bound of the exact ones.
        assert_within(out.cpu(), cpu, 2 * bound, f"case {case}: CUDA vs CPU")
        assert_within(out.cpu(), ref[f"out_{case}"], 2 * bound, f"case {case}: CUDA vs original")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_autocast_channels_last(nets):
    x = _clip(14, (1, 3, 16, 64, 64))
    expected = _run(nets["rgb"], x)
    net = _copy(nets["rgb"]).to("cuda", memory_format=torch.channels_last_3d)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        out = net(x.cuda().contiguous(memory_format=torch.channels_last_3d))
    assert out.shape == expected.shape and out.dtype == torch.bfloat16
    rel = rms_rel_diff(out.float(), expected)
    assert rel <= autocast_rms_bound(torch.bfloat16, DEPTH), rel  # 8 * 2^-8 * sqrt(21) = 0.14
