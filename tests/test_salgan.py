"""Tests for the original SalGAN / SalBCE generator files: salprep.models.salbce ``load_salgan``,
``init_salbce``, ``save_random_salgan`` (CPU).

Reference fixture ``tests/data/salgan_reference.npz`` -- how it was produced:
in a scratch folder outside this repository, the thesis's generator was written out in plain
torch from reading juanjo3ns/SalBCE (GitHub HEAD ac52af7, 2019-03-07) ``src/utils/salgan_generator.py``
and ``salgan_generator_bn.py`` (none of it is in salprep): one flat ``nn.Sequential`` of
``Conv2d(3x3, padding 1)`` [``BatchNorm2d``] ``ReLU()`` blocks 64 64 M 128 128 M 256 x3 M 512 x3 M
512 x3 (``MaxPool2d(2, 2)``), then 512 x3 U 512 x3 U 256 x3 U 128 x2 U 64 x2 (``Upsample(scale_factor=2,
mode='nearest')``), ``Conv2d(64, 1, 1x1)``, ``Sigmoid()``. Weights: ``save_random_salgan(path,
seed=s, in_channels=c, batchnorm=bn, wrapped=w)`` for the four cases below (the seeds are stored
as ``weight_seeds``, so changing :func:`random_salgan_state_dict` invalidates the fixture),
read as the original code reads them: ``torch.load(path, map_location="cpu")`` (the full
unpickler: the wrapped files' ``'optimizer'`` is a real ``torch.optim.Adam``), ``['state_dict']``
when wrapped, strict ``load_state_dict``, ``.eval()``. Input: ``x = torch.rand(shape,
generator=torch.Generator().manual_seed(input_seed))`` (RGB in [0, 1], then the depth disparity in
[0, 1] for the depth case), and each image prepared as ``src/dataloader/datasetDHF1K.py`` and
``src/evaluation/eval_dhf1k.py`` do, in numpy: RGB reversed to BGR, times 255 (float64, to
float32: the "8-bit" values), ``image -= [103.939, 116.779, 123.68]`` on the float32 array;
depth times 255 appended (not mean-subtracted); for CoordConv ``c1[:, i] = np.linspace(-1, 1, H)``
(y) then ``c2[i, :] = np.linspace(-1, 1, W)`` (x), cast to float32 and appended in that order;
HWC -> CHW. Under ``torch.no_grad()`` in float32 on the CPU with torch 2.14.1 (2 threads) the
(B, 1, H, W) output was stored as ``out_<i>``. The file (``np.savez_compressed``) holds only
``weight_seeds``, ``in_channels`` (the first conv's), ``batchnorm``, ``wrapped``, ``input_seeds``,
``shapes`` and the ``out_<i>``; weights and inputs are regenerated here.
Cases: RGB with BatchNorm, wrapped, (1, 3, 64, 96); plain SalGAN (no BatchNorm), bare state_dict,
(2, 3, 32, 48); RGB + depth with BatchNorm (2, 4, 32, 48); RGB + CoordConv with BatchNorm
(1, 3, 64, 96) (5-channel file, the thesis's released RGB+CoordConv).
salprep matched the original to max |diff| = 5.4e-7, 2.7e-7, 7.9e-7, 2.7e-6 (bounds 1.3e-2,
1.3e-2, 2.2e-2, 1.3e-2). Checked when the fixture was made: the same weights fed salprep's old
convention (RGB order, ImageNet mean/std, depth unscaled, CoordConv x then y) miss by 0.069,
0.126, 0.107, 0.624 (4.9 to 48 times the bound); RGB instead of BGR alone by 23 times, x-then-y
CoordConv alone by 20 times. The tolerance follows from float32 rounding (tests/tolerance.py):
each float32 run, the original's made on one CPU and salprep's on any CPU, is within
float_bound(float32, scale, fan-in 4608, depth 28) / 4 (the sigmoid's slope) plus the sigmoid's
roundings of the exact map, so they differ by at most twice that; the scale is the largest
|value| of the run, about 151 (the mean-subtracted 8-bit input; 255 with depth).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from salprep.errors import SalprepError
from salprep.models.registry import SALBCE_RECIPE
from salprep.models.salbce import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SalBCE,
    init_salbce,
    load_salgan,
    original_sequential,
    random_salgan_state_dict,
    save_random_salgan,
)
from tolerance import ScaleTracker, assert_within, fan_in, float_bound, max_abs_diff

REFERENCE = Path(__file__).parent / "data" / "salgan_reference.npz"
#: 3x3 conv units (conv [+ BN] + ReLU) on the path, plus the input preparation and the 1x1 output
#: conv: the ``depth`` of float_bound (BatchNorm counts with its conv, as in tests/tolerance.py).
SALGAN_DEPTH = 1 + 26 + 1
#: The plain generator's conv indices (design/MODELS.md): encoder, decoder, the 1x1 output.
PLAIN_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28,
               30, 32, 34, 37, 39, 41, 44, 46, 48, 51, 53, 56, 58, 60)


def _ref():
    return np.load(REFERENCE, allow_pickle=False)


def _case(i: int) -> dict:
    ref = _ref()
    return {"seed": int(ref["weight_seeds"][i]), "channels": int(ref["in_channels"][i]),
            "batchnorm": bool(ref["batchnorm"][i]), "wrapped": bool(ref["wrapped"][i]),
            "input_seed": int(ref["input_seeds"][i]), "shape": tuple(int(v) for v in ref["shapes"][i]),
            "out": ref[f"out_{i}"]}


def _input(case: dict) -> torch.Tensor:
    return torch.rand(case["shape"], generator=torch.Generator().manual_seed(case["input_seed"]))


def _bound(scale: float, net) -> float:
    """Two float32 runs of the map (each within this half of the exact one): the logits'
    float_bound times the sigmoid's largest slope 1/4, plus the sigmoid's own roundings."""
    return 2 * (float_bound(torch.float32, scale, fan_in(net), SALGAN_DEPTH) / 4
                + float_bound(torch.float32, 1.0, 1, 4))


N_CASES = 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The four fixture cases' files (127 MB each), removed when the module is done."""
    folder = tmp_path_factory.mktemp("salgan")
    paths = []
    for i in range(N_CASES):
        case = _case(i)
        paths.append(save_random_salgan(folder / f"case{i}.pt", seed=case["seed"], in_channels=case["channels"],
                                        batchnorm=case["batchnorm"], wrapped=case["wrapped"]))
    yield paths
    for path in folder.glob("*.pt"):
        path.unlink()


@pytest.fixture(scope="module")
def nets(files) -> list[SalBCE]:
    return [load_salgan(path) for path in files]


# ------------------------------------------------------------------ reference (original code)


@pytest.mark.parametrize("i", range(N_CASES), ids=["rgb_bn_wrapped", "rgb_plain_bare", "depth_bn", "coord_bn"])
def test_matches_original_code(nets, i):
    case, net = _case(i), nets[i]
    assert not net.training and net.width == 1.0 and net.batchnorm == case["batchnorm"]
    assert net.first_conv.in_channels == case["channels"]
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters())
    x = _input(case)
    with torch.inference_mode(), ScaleTracker(net) as track:
        out = net(x)
    assert_within(out, case["out"], _bound(track.scale, net), f"case {i}")


def test_coordconv_channels_may_be_given(nets):
    """The RGB + CoordConv file also takes the y, x channels appended as the original code
    appends them (y then x, linspace(-1, 1)): the same map as when the model makes them."""
    case, net = _case(3), nets[3]
    assert net.coordconv and net.in_channels == 3
    x = _input(case)
    b, _, h, w = x.shape
    y_ch = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
    x_ch = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
    with torch.inference_mode(), ScaleTracker(net) as track:
        out = net(torch.cat([x, y_ch, x_ch], 1))
    assert_within(out, case["out"], _bound(track.scale, net), "coord channels given")
    with pytest.raises(ValueError, match=r"expects \(B, 3 or 5 \(with the y, x CoordConv channels\), H, W\)"):
        net(x[:, :2])


def _old_convention(net: SalBCE, x: torch.Tensor) -> torch.Tensor:
    """What the network saw before: RGB normalised with ImageNet statistics, extra channels as
    given, CoordConv x then y."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    parts = [(x[:, :3] - mean) / std, x[:, 3:]]
    if net.coordconv:
        b, _, h, w = x.shape
        parts += [torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w),
                  torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)]
    return torch.cat(parts, 1)


@pytest.mark.parametrize("i", range(N_CASES), ids=["rgb_bn_wrapped", "rgb_plain_bare", "depth_bn", "coord_bn"])
def test_wrong_input_conventions_miss(nets, i):
    """The comparison above tells the conventions apart: the same weights on the old input
    convention, or with CoordConv x before y, miss the original's maps by far more than the bound."""
    case, net = _case(i), nets[i]
    x = _input(case)
    with torch.inference_mode(), ScaleTracker(net) as track:
        net(x)
        bound = _bound(track.scale, net)
        old = net.forward_prepared(_old_convention(net, x))
        assert max_abs_diff(old, case["out"]) > 2 * bound
        if net.coordconv:
            swapped = net.prepare_input(x)
            swapped = torch.cat([swapped[:, :-2], swapped[:, -1:], swapped[:, -2:-1]], 1)
            assert max_abs_diff(net.forward_prepared(swapped), case["out"]) > 2 * bound


# ------------------------------------------------------------------ the file format


def _original_keys(batchnorm: bool) -> list[str]:
    """The original files' keys, spelled out from the plain layout (design/MODELS.md): with
    BatchNorm, one BatchNorm2d after each 3x3 conv shifts every later index by one."""
    keys = []
    for k, p in enumerate(PLAIN_CONVS):
        index = p + k if batchnorm else p
        keys += [f"{index}.weight", f"{index}.bias"]
        if batchnorm and k < len(PLAIN_CONVS) - 1:
            keys += [f"{index + 1}.{t}" for t in ("weight", "bias", "running_mean", "running_var",
                                                  "num_batches_tracked")]
    return keys


def test_files_are_laid_out_like_the_original(files, nets, tmp_path):
    wrapped = torch.load(files[0], map_location="cpu", weights_only=False)  # the original reads it so
    assert set(wrapped) == {"epoch", "state_dict", "optimizer"}
    assert isinstance(wrapped["optimizer"], torch.optim.Adam)
    assert list(wrapped["state_dict"]) == _original_keys(True) and len(_original_keys(True)) == 184
    assert wrapped["state_dict"]["1.num_batches_tracked"].dtype == torch.int64
    assert not zipfile.is_zipfile(files[0])  # legacy serialisation, like 2018 PyTorch
    bare = torch.load(files[1], map_location="cpu", weights_only=True)
    assert list(bare) == _original_keys(False) and len(bare) == 54
    assert len(original_sequential(nets[0])) == 88 and len(original_sequential(nets[1])) == 62
    # BatchNorm far from identity
    bn = wrapped["state_dict"]
    assert float((bn["1.running_var"] - 1).abs().max()) > 0.3 and float(bn["1.running_mean"].abs().max()) > 0.3

    # the same weights bare load to the same module
    case = _case(0)
    bare_path = save_random_salgan(tmp_path / "bare.pt", seed=case["seed"], in_channels=case["channels"],
                                   batchnorm=True, wrapped=False)
    again = load_salgan(bare_path)
    for (key, a), b in zip(again.state_dict().items(), nets[0].state_dict().values()):
        assert torch.equal(a, b), key
    bare_path.unlink()


def test_inputs_argument(files, nets):
    coord = nets[3]  # 5 channels read as RGB + CoordConv
    assert (coord.in_channels, coord.coordconv) == (3, True)
    assert coord.channel_names == ("B", "G", "R", "y", "x")
    flow = load_salgan(files[3], inputs="flow")  # the same file named a flow generator
    assert (flow.in_channels, flow.coordconv) == (5, False)
    assert flow(torch.rand(1, 5, 32, 32)).shape == (1, 1, 32, 32)
    with pytest.raises(SalprepError, match=r"5 input channels.*inputs='depth' needs 4") as err:
        load_salgan(files[3], inputs="depth")
    assert str(files[3]) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="inputs must be"):
        load_salgan(files[3], inputs="rgbd")
    with pytest.raises(ValueError, match="in_channels"):
        random_salgan_state_dict(0, in_channels=7)


# ------------------------------------------------------------------ wrong files


def _shaped(batchnorm: bool, channels: int = 3) -> dict[str, torch.Tensor]:
    """A generator state_dict with the original keys and shapes, values one broadcast number
    each (tiny files)."""
    with torch.device("meta"):
        layout = original_sequential(SalBCE(3, width=1.0, batchnorm=batchnorm)).state_dict()
    state = {}
    for key, value in layout.items():
        shape = tuple(value.shape)
        if key == "0.weight":
            shape = (shape[0], channels, *shape[2:])
        state[key] = (torch.tensor(0, dtype=torch.int64) if key.endswith("num_batches_tracked")
                      else torch.full((), 0.01).expand(shape))
    return state


def _one_line(path, match: str, **kwargs) -> str:
    with pytest.raises(SalprepError, match=match) as err:
        load_salgan(path, **kwargs)
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_wrong_files_give_one_line_errors(tmp_path):
    def write(name, state):
        path = tmp_path / name
        torch.save(state, path)
        return path

    # a torchvision VGG16 file (real key names and shapes)
    import torchvision

    with torch.device("meta"):
        vgg = torchvision.models.vgg16(weights=None).state_dict()
    _one_line(write("vgg16.pth", {k: torch.zeros(()).expand(v.shape) for k, v in vgg.items()}), "torchvision VGG16")
    # a truncated state_dict (the last decoder block and the output conv missing)
    state = _shaped(True)
    truncated = {k: v for k, v in state.items() if int(k.split(".")[0]) < 80}
    _one_line(write("truncated.pt", truncated), r"missing keys \[80\.weight")
    # a first conv taking 7 channels
    _one_line(write("seven.pt", _shaped(True, 7)), "takes 7 input channels")
    # NaN weights
    nan = dict(state)
    nan["40.weight"] = torch.full((), float("nan")).expand(state["40.weight"].shape)
    _one_line(write("nan.pt", {"epoch": 1, "state_dict": nan, "optimizer": None}), r"40\.weight holds NaN")
    # nn.DataParallel keys, a salprep model.pt, a pickled module, garbage
    _one_line(write("parallel.pt", {f"module.{k}": v for k, v in state.items()}), "DataParallel")
    _one_line(write("model.pt", {"model": "salbce_rgb", "state_dict": {}, "settings": {}}), "salprep model.pt")
    _one_line(write("module.pt", torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3))), "pickled model")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint" * 10)
    _one_line(garbage, "not a PyTorch checkpoint")


# ------------------------------------------------------------------ starting training from a file


def _convs(model: SalBCE) -> list[torch.nn.Conv2d]:
    return [m for m in (*model.features, *model.decoder, model.output) if isinstance(m, torch.nn.Conv2d)]


def _norms(model: SalBCE) -> list[torch.nn.BatchNorm2d]:
    return [m for m in (*model.features, *model.decoder) if isinstance(m, torch.nn.BatchNorm2d)]


def _assert_first_conv(model: SalBCE, source_weight: torch.Tensor, mapping: dict[int, int]) -> None:
    """Channels of ``mapping`` (model -> source) copied; the others the mean of the B, G, R filters."""
    weight = model.first_conv.weight.detach()
    rgb = weight[:, :3]
    mean_bound = 2 * float_bound(torch.float32, float(rgb.abs().max()), 3, 2)
    for j in range(weight.shape[1]):
        if j in mapping:
            assert torch.equal(weight[:, j], source_weight[:, mapping[j]]), j
        else:
            torch.testing.assert_close(weight[:, j], rgb.mean(dim=1), rtol=0, atol=mean_bound)


def test_init_salbce_from_original_files(files, nets):
    # the released RGB+CoordConv generator (B, G, R, y, x) into RGB + depth + CoordConv
    torch.manual_seed(0)
    model = SalBCE(4, coordconv=True, width=1.0, batchnorm=True).train()
    assert init_salbce(model, files[3]) is model and model.training
    source = nets[3]
    _assert_first_conv(model, source.first_conv.weight.detach(), {0: 0, 1: 1, 2: 2, 4: 3, 5: 4})
    for a, b in zip(_convs(model)[1:], _convs(source)[1:], strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    for a, b in zip(_norms(model), _norms(source), strict=True):
        for key, value in b.state_dict().items():
            assert torch.equal(a.state_dict()[key], value), key
    # the plain SalGAN into a BatchNorm model (the thesis's add_bn): BatchNorm stays at its init
    rgb = init_salbce(SalBCE(3, width=1.0, batchnorm=True), files[1])
    for a, b in zip(_convs(rgb), _convs(nets[1]), strict=True):
        assert torch.equal(a.weight, b.weight)
    for norm in _norms(rgb):
        assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and torch.equal(norm.running_var,
                                                                                      torch.ones_like(norm.running_var))
    # files that do not fit: another width, channels the model lacks
    with pytest.raises(SalprepError, match="width=1.0.*width=0.125"):
        init_salbce(SalBCE(3, width=0.125), files[0])
    with pytest.raises(SalprepError, match="input channels y, x that this SalBCE lacks") as err:
        init_salbce(rgb, files[3])
    assert "\n" not in str(err.value) and str(files[3]) in str(err.value)


def test_init_salbce_from_salprep_model_pt(tmp_path):
    width = 0.125
    torch.manual_seed(1)
    trained = SalBCE(3, width=width, batchnorm=True)
    with torch.no_grad():  # BatchNorm statistics as after training
        for norm in _norms(trained):
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
            norm.num_batches_tracked.fill_(123)
    path = tmp_path / "model.pt"
    torch.save({"model": "salbce_rgb", "state_dict": trained.state_dict(),
                "settings": {**SALBCE_RECIPE, "width": width}}, path)
    model = SalBCE(4, coordconv=True, width=width, batchnorm=True)  # salbce_depth_coord
    init_salbce(model, path)
    _assert_first_conv(model, trained.first_conv.weight.detach(), {0: 0, 1: 1, 2: 2})
    for a, b in zip(_convs(model)[1:], _convs(trained)[1:], strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    for a, b in zip(_norms(model), _norms(trained), strict=True):
        assert torch.equal(a.running_mean, b.running_mean) and int(a.num_batches_tracked) == 123

    with pytest.raises(SalprepError, match="does not fit this SalBCE"):
        init_salbce(SalBCE(3, width=0.25), path)
    depth_path = tmp_path / "depth.pt"
    torch.save({"model": "salbce_depth", "state_dict": SalBCE(4, width=width).state_dict(),
                "settings": {**SALBCE_RECIPE, "width": width}}, depth_path)
    with pytest.raises(SalprepError, match="input channels depth that this SalBCE lacks"):
        init_salbce(SalBCE(3, width=width), depth_path)
    lsts = tmp_path / "lsts.pt"
    torch.save({"model": "lsts_rgb", "state_dict": {}, "settings": {}}, lsts)
    with pytest.raises(SalprepError, match="not a SalBCE model"):
        init_salbce(model, lsts)
