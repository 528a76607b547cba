"""Tests for the saliency decoders: salprep.models.lsts (LSTS) and salprep.models.salbce (SalBCE).

CPU only and light: the LSTS decoder is run at its fixed 360x640 output a few times with small
batches; SalBCE runs at width 0.125 except where the VGG16 layout (width 1.0) is the point, and
then without a full forward pass. The original SalGAN / SalBCE generator files are tested in
tests/test_salgan.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tolerance import assert_within, float_bound, max_abs_diff

from salprep.errors import SalprepError
from salprep.models.lsts import LSTSDecoder, lsts_frame_features
from salprep.models.salbce import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_CONV_INDICES,
    SalBCE,
    bce_loss,
    coord_channels,
    fold_imagenet_filters,
    init_extra_channels,
    load_vgg16_features,
    original_sequential,
    salgan_input,
)
from salprep.stages.samplers import SlidingWindows

# --------------------------------------------------------------------------------------------
# LSTS decoder
# --------------------------------------------------------------------------------------------

#: MODELS.md: 5x5 -> 10x10 -> 30x20 -> 30x40 -> 90x80 -> 90x160 -> 180x320 -> 360x640.
LSTS_SIZES = [(10, 10), (30, 20), (30, 40), (90, 80), (90, 160), (180, 320), (360, 640)]


@pytest.fixture(scope="module")
def lsts1024() -> LSTSDecoder:
    torch.manual_seed(0)
    return LSTSDecoder(1024)


def _features(batch: int, channels: int, seed: int = 0) -> torch.Tensor:
    # pooled Mixed_5c is post-ReLU: values >= 0
    return torch.rand(batch, channels, 5, 5, 5, generator=torch.Generator().manual_seed(seed))


def test_lsts_output_and_intermediate_sizes(lsts1024):
    model = lsts1024
    seen = {}
    hooks = [model.conv3d.register_forward_hook(lambda m, i, o: seen.__setitem__("conv3d", tuple(o.shape)))]
    for k, deconv in enumerate(model.deconv):
        hooks.append(deconv.register_forward_hook(
            lambda m, i, o, k=k: seen.__setitem__(f"D{k + 1}", tuple(o.shape))
        ))
    try:
        with torch.no_grad():
            out = model(_features(2, 1024))
    finally:
        for h in hooks:
            h.remove()
    assert out.shape == (2, 1, 360, 640)
    assert out.dtype == torch.float32
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0
    assert seen["conv3d"] == (2, 512, 1, 5, 5)
    channels = (256, 128, 64, 32, 16, 8, 1)
    for k, (size, c) in enumerate(zip(LSTS_SIZES, channels)):
        assert seen[f"D{k + 1}"] == (2, c, *size), f"D{k + 1}"
    # layer hyper-parameters exactly as MODELS.md's table
    table = [
        ((3, 3), (1, 1), (2, 2), (1, 1)),
        ((4, 3), (1, 1), (3, 2), (1, 1)),
        ((1, 3), (0, 1), (1, 2), (0, 1)),
        ((4, 3), (1, 1), (3, 2), (1, 1)),
        ((1, 3), (0, 1), (1, 2), (0, 1)),
        ((3, 3), (1, 1), (2, 2), (1, 1)),
        ((3, 3), (1, 1), (2, 2), (1, 1)),
    ]
    got = [(d.kernel_size, d.padding, d.stride, d.output_padding) for d in model.deconv]
    assert got == table
    assert model.conv3d.kernel_size == (5, 3, 3) and model.conv3d.padding == (0, 1, 1)
    assert len(model.bn) == 6


def test_lsts_logits_and_eval(lsts1024):
    model = lsts1024.eval()
    try:
        x = _features(1, 1024, seed=1)
        with torch.no_grad():
            maps = model(x)
            logits = model(x, return_logits=True)
        # forward applies torch.sigmoid to the same logits (same input, same kernels, this
        # process): the same bits
        assert torch.equal(torch.sigmoid(logits), maps)
    finally:
        model.train()


def test_lsts_parameter_count(lsts1024):
    # conv3d 1024*512*45 + 512 = 23,593,472 (94 %); D1..D7 + BN: 1,626,289
    assert sum(p.numel() for p in lsts1024.parameters()) == 25_219_761


def test_lsts_2048_channels_and_gradients():
    torch.manual_seed(1)
    model = LSTSDecoder(2048)
    assert sum(p.numel() for p in model.parameters()) == 48_812_721
    x = _features(1, 2048, seed=2).requires_grad_(True)
    out = model(x)
    assert out.shape == (1, 1, 360, 640)
    assert float(out.detach().min()) > 0.0 and float(out.detach().max()) < 1.0
    F.mse_loss(out, torch.full_like(out, 0.25)).backward()
    for name in ("conv3d.weight", "deconv.0.weight", "bn.0.weight", "deconv.6.weight", "deconv.6.bias"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0, name
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize("shape", [(2, 1024, 5, 5), (2, 2048, 5, 5, 5), (2, 1024, 10, 7, 7), (1, 1024, 5, 5, 4)])
def test_lsts_wrong_shape(lsts1024, shape):
    with pytest.raises(ValueError, match=r"expects \(B, 1024, 5, 5, 5\).*got shape"):
        lsts1024(torch.zeros(shape))


def test_lsts_bad_arguments(lsts1024):
    with pytest.raises(TypeError, match="float"):
        lsts1024(torch.zeros(1, 1024, 5, 5, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="channels"):
        LSTSDecoder(1024, channels=(8, 8, 8))


def test_lsts_frame_features_stride_1():
    index = SlidingWindows(79, 1).frame_index(100)  # 78 .. 99
    k = lsts_frame_features(index, 100)
    assert k.shape == (100,) and k.dtype == np.int64
    assert (k[:79] == 0).all()  # frames 0..77 reuse the window ending at 78, frame 78 has its own
    np.testing.assert_array_equal(k[78:], np.arange(22))
    np.testing.assert_array_equal(index[k[78:]], np.arange(78, 100))


def test_lsts_frame_features_stride_3():
    index = SlidingWindows(79, 3).frame_index(101)  # 78, 81, ..., 99
    k = lsts_frame_features(index, 101)
    assert (k[:81] == 0).all()
    assert k[81] == 1 and k[83] == 1 and k[84] == 2
    assert k[99] == len(index) - 1 and k[100] == len(index) - 1  # after the last window: the last one
    # the window used always ends at or before t once t has reached the first window's end
    t = np.arange(78, 101)
    assert (index[k[t]] <= t).all() and (t - index[k[t]] < 3).all()


def test_lsts_frame_features_cases():
    # frames before the first window, a window at every other frame
    np.testing.assert_array_equal(lsts_frame_features(np.array([2, 4]), 6), [0, 0, 0, 0, 1, 1])
    # a video shorter than the window: one padded window at T-1 serves every frame
    index = SlidingWindows(79, 1).frame_index(30)
    np.testing.assert_array_equal(index, [29])
    np.testing.assert_array_equal(lsts_frame_features(index, 30), np.zeros(30))
    np.testing.assert_array_equal(lsts_frame_features(np.array([0]), 1), [0])
    np.testing.assert_array_equal(lsts_frame_features(np.array([0, 1, 2], dtype=np.int32), 3), [0, 1, 2])


@pytest.mark.parametrize("index, n, match", [
    (np.array([], dtype=np.int32), 5, "non-empty"),
    (np.array([[1, 2]]), 5, "non-empty"),
    (np.array([1.0, 2.0]), 5, "integers"),
    (np.array([3, 3]), 5, "strictly increasing"),
    (np.array([3, 2]), 5, "strictly increasing"),
    (np.array([2, 5]), 5, r"\[0, 4\]"),
    (np.array([-1, 2]), 5, r"\[0, 4\]"),
    (np.array([0]), 0, "n_frames"),
])
def test_lsts_frame_features_errors(index, n, match):
    with pytest.raises(ValueError, match=match):
        lsts_frame_features(index, n)


# --------------------------------------------------------------------------------------------
# SalBCE
# --------------------------------------------------------------------------------------------

SMALL = 0.125  # width for CPU tests


def _frames(batch, channels, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, channels, h, w, generator=g)
    if channels == 5:  # flow channels in [-1, 1]
        x[:, 3:] = x[:, 3:] * 2 - 1
    return x


@pytest.mark.parametrize("in_channels, coordconv, batchnorm",
                         [(3, False, True), (3, True, True), (4, False, True), (4, True, True), (5, False, True),
                          (3, False, False), (4, True, False)])
def test_salbce_shapes_and_range(in_channels, coordconv, batchnorm):
    torch.manual_seed(0)
    model = SalBCE(in_channels, coordconv=coordconv, width=SMALL, batchnorm=batchnorm)
    assert model.first_conv.in_channels == in_channels + 2 * coordconv
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == (26 if batchnorm else 0)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 27
    assert f"batchnorm={batchnorm}" in repr(model)
    with torch.no_grad():
        out = model(_frames(2, in_channels, 96, 128))
    assert out.shape == (2, 1, 96, 128) and out.dtype == torch.float32
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0


def test_salbce_batchnorm_sits_between_each_conv_and_its_relu():
    model = SalBCE(3, width=SMALL)
    for part in (model.features, model.decoder):
        layers = list(part)
        for i, layer in enumerate(layers):
            if isinstance(layer, torch.nn.Conv2d):
                assert isinstance(layers[i + 1], torch.nn.BatchNorm2d), i
                assert layers[i + 1].num_features == layer.out_channels
                assert isinstance(layers[i + 2], torch.nn.ReLU), i
    assert isinstance(model.output, torch.nn.Conv2d) and model.output.kernel_size == (1, 1)
    flat = original_sequential(model).eval()
    assert len(flat) == 88 and len(original_sequential(SalBCE(3, width=SMALL, batchnorm=False))) == 62
    x = _frames(1, 3, 32, 48, seed=4)
    with torch.no_grad():  # the flat view is the same network, module for module
        assert torch.equal(flat(model.prepare_input(x)), model.eval()(x))


@pytest.mark.parametrize("in_channels, coordconv", [(4, False), (4, True), (5, False), (3, True)])
def test_salbce_extra_filters_are_rgb_mean(in_channels, coordconv):
    torch.manual_seed(0)
    weight = SalBCE(in_channels, coordconv=coordconv, width=SMALL).first_conv.weight.detach()
    mean = weight[:, :3].mean(dim=1)
    assert weight.shape[1] == in_channels + 2 * coordconv
    atol = _mean3_bound(weight[:, :3])
    for k in range(3, weight.shape[1]):
        torch.testing.assert_close(weight[:, k], mean, rtol=0, atol=atol)
    assert not torch.allclose(weight[:, 0], weight[:, 1])  # RGB filters stay as initialised


def _mean3_bound(rgb: torch.Tensor) -> float:
    """Two float32 evaluations of the mean of the 3 RGB filters (possibly summed in another order
    on another memory layout): a sum of 3 terms and a division, on values <= max |w|."""
    return 2 * float_bound(torch.float32, float(rgb.abs().max()), 3, 2)


def test_init_extra_channels_function():
    conv = torch.nn.Conv2d(6, 4, 3)
    rgb = conv.weight[:, :3].detach().clone()
    bias = conv.bias.detach().clone()
    assert init_extra_channels(conv) is conv
    torch.testing.assert_close(conv.weight[:, :3], rgb, rtol=0, atol=0)
    torch.testing.assert_close(conv.bias, bias, rtol=0, atol=0)
    for k in range(3, 6):
        torch.testing.assert_close(conv.weight[:, k], rgb.mean(dim=1), rtol=0, atol=_mean3_bound(rgb))
    with pytest.raises(ValueError):
        init_extra_channels(torch.nn.Conv2d(2, 4, 3))


def test_salbce_input_preparation_and_coordconv():
    torch.manual_seed(0)
    model = SalBCE(4, coordconv=True, width=SMALL)
    seen = {}
    hook = model.first_conv.register_forward_pre_hook(lambda m, args: seen.__setitem__("x", args[0].clone()))
    x = _frames(2, 4, 32, 48, seed=3)
    try:
        with torch.no_grad():
            model(x)
    finally:
        hook.remove()
    got = seen["x"]
    assert got.shape == (2, 6, 32, 48)
    assert model.channel_names == ("B", "G", "R", "depth", "y", "x")
    # the original convention, computed independently in float64: BGR, 0-255, minus the Caffe
    # means (B 103.939, G 116.779, R 123.68); each float32 value rounds twice (product, difference)
    # on values <= 255
    x64 = x.double()
    caffe = torch.tensor([103.939, 116.779, 123.68], dtype=torch.float64).view(1, 3, 1, 1)
    bgr = torch.stack([x64[:, 2], x64[:, 1], x64[:, 0]], 1) * 255 - caffe
    torch.testing.assert_close(got[:, :3].double(), bgr, rtol=0, atol=float_bound(torch.float32, 255.0, 1, 2))
    assert torch.equal(got[:, 3], x[:, 3] * 255)  # depth as the 8-bit PNG value, no mean removed
    ys, xs = got[:, 4], got[:, 5]  # y first, then x, as the original code appends them
    assert torch.equal(ys, torch.linspace(-1, 1, 32).view(32, 1).expand(2, 32, 48))  # y along H
    assert torch.equal(xs, torch.linspace(-1, 1, 48).expand(2, 32, 48))  # x along W
    assert float(ys[:, 0].max()) == -1.0 and float(ys[:, -1].min()) == 1.0  # -1 at the top row
    assert torch.equal(coord_channels(2, 32, 48), got[:, 4:])
    assert torch.equal(salgan_input(x, coordconv=True), got)
    # no CoordConv: just the image and the extra channels
    plain = SalBCE(4, width=SMALL)
    assert torch.equal(plain.prepare_input(x), got[:, :4])
    assert all(k.startswith(("features.", "decoder.", "output.")) for k in plain.state_dict())  # no input buffers
    # flow: used as given (the original code has no flow input; salprep's flow is in [-1, 1])
    flow = _frames(1, 5, 32, 32, seed=5)
    prepared = SalBCE(5, width=SMALL).prepare_input(flow)
    assert prepared.shape == (1, 5, 32, 32) and torch.equal(prepared[:, 3:], flow[:, 3:])


def test_salbce_bad_inputs():
    model = SalBCE(4, width=SMALL)
    with pytest.raises(ValueError, match="multiples of 16.*100x128"):
        model(torch.rand(1, 4, 100, 128))
    with pytest.raises(ValueError, match="multiples of 16.*96x120"):
        model(torch.rand(1, 4, 96, 120))
    with pytest.raises(ValueError, match=r"expects \(B, 4, H, W\).*got shape \(1, 3, 96, 128\)"):
        model(torch.rand(1, 3, 96, 128))
    with pytest.raises(ValueError, match="got shape"):
        model(torch.rand(4, 96, 128))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(1, 4, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="in_channels"):
        SalBCE(2)
    with pytest.raises(ValueError, match="in_channels"):
        SalBCE(6)  # RGB + depth + flow is no variant
    with pytest.raises(ValueError, match="width"):
        SalBCE(3, width=0)


@pytest.fixture(scope="module")
def vgg_full() -> SalBCE:
    torch.manual_seed(0)
    return SalBCE(4, coordconv=True)  # width 1.0, BatchNorm; 6-channel first conv


@pytest.fixture(scope="module")
def tv_vgg16_state() -> dict:
    """A random torchvision vgg16 state_dict: ``features.*`` from torchvision's own
    ``make_layers(cfgs["D"])`` (seeded random weights, real shapes); ``classifier.*`` with
    torchvision's key names but tiny placeholder tensors (the real 4096x25088 layer would make a
    0.5 GB file, and the loader ignores classifier keys)."""
    import torchvision  # here, not at the top: collecting the suite need not import it

    torch.manual_seed(7)
    feats = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    state = {f"features.{k}": v.detach().clone() for k, v in feats.state_dict().items()}
    with torch.device("meta"):
        reference = torchvision.models.vgg16(weights=None).state_dict()
    assert list(state) == [k for k in reference if k.startswith("features.")]
    for key, value in reference.items():
        if key.startswith("features."):
            assert tuple(state[key].shape) == tuple(value.shape)
        else:
            assert key.startswith("classifier.")
            state[key] = torch.zeros(2)
    return state


@pytest.mark.parametrize("batchnorm", [False, True])
def test_salbce_features_layout_is_torchvision_vgg16(batchnorm):
    import torchvision

    with torch.device("meta"):
        model = SalBCE(4, coordconv=True, batchnorm=batchnorm)
        if batchnorm:
            tv, n = torchvision.models.vgg16_bn(weights=None).features, 43
        else:
            tv, n = torchvision.models.vgg16(weights=None).features, 30
    assert len(model.features) == n and len(tv) == n + 1  # no pool5
    for i in range(n):
        assert type(model.features[i]) is type(tv[i]), i
    ours = model.features.state_dict()
    theirs = tv.state_dict()
    assert list(ours) == [k for k in theirs if int(k.split(".")[0]) < n]
    for key in ours:
        expect = tuple(theirs[key].shape)
        if key == "0.weight":
            expect = (64, 6, 3, 3)  # 4 inputs + 2 CoordConv channels
        assert tuple(ours[key].shape) == expect, key
    # 31,787,009 for RGB without BatchNorm; BatchNorm adds 2 x 8448 channels
    assert sum(p.numel() for p in model.parameters()) == 31_788_737 + 16_896 * batchnorm


def test_load_vgg16_features_from_file(vgg_full, tv_vgg16_state, tmp_path):
    path = tmp_path / "vgg16.pth"
    torch.save(tv_vgg16_state, path)
    decoder_before = {k: v.clone() for k, v in vgg_full.decoder.state_dict().items()}
    norms_before = {k: v.clone() for k, v in vgg_full.features.state_dict().items() if "running" in k}
    assert load_vgg16_features(vgg_full, path) is vgg_full
    convs = [m for m in vgg_full.features if isinstance(m, torch.nn.Conv2d)]
    for k, index in enumerate(VGG16_CONV_INDICES[1:], start=1):  # by order, past the BatchNorm layers
        assert torch.equal(convs[k].weight, tv_vgg16_state[f"features.{index}.weight"]), index
        assert torch.equal(convs[k].bias, tv_vgg16_state[f"features.{index}.bias"]), index
    for key, value in vgg_full.features.state_dict().items():
        if "running" in key:
            assert torch.equal(value, norms_before[key]), key
    for key, value in vgg_full.decoder.state_dict().items():
        torch.testing.assert_close(value, decoder_before[key], rtol=0, atol=0)

    # conv1_1 rewritten for the SalGAN input: on the prepared input it answers as torchvision's
    # conv1_1 on ImageNet-normalised RGB, except within one pixel of the border (zero padding)
    weight = vgg_full.first_conv.weight.detach()
    for k in range(3, 6):  # depth and y, x: the mean of the B, G, R filters
        torch.testing.assert_close(weight[:, k], weight[:, :3].mean(dim=1), rtol=0, atol=_mean3_bound(weight[:, :3]))
    x = _frames(1, 4, 32, 48, seed=6)
    with torch.no_grad():
        prepared = vgg_full.prepare_input(x)
        ours = F.conv2d(prepared[:, :3], weight[:, :3], vgg_full.first_conv.bias, padding=1)
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
        theirs = F.conv2d((x[:, :3].double() - mean) / std, tv_vgg16_state["features.0.weight"].double(),
                          tv_vgg16_state["features.0.bias"].double(), padding=1)
    # float32 side: preparation (2 roundings), the folded weights (rounded once from float64) and
    # the 27-term sum, on values <= 255 (the prepared input); the float64 side adds nothing visible
    scale = max(255.0, float(ours.abs().max()))
    assert_within(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1], float_bound(torch.float32, scale, 27 + 1, 3),
                  "folded conv1_1")
    bgr_swapped = F.conv2d(prepared[:, :3].flip(1), weight[:, :3], vgg_full.first_conv.bias, padding=1)
    assert max_abs_diff(bgr_swapped[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1]) > 100 * float_bound(
        torch.float32, scale, 28, 3)
    folded_w, folded_b = fold_imagenet_filters(tv_vgg16_state["features.0.weight"], tv_vgg16_state["features.0.bias"])
    assert torch.equal(weight[:, :3], folded_w) and torch.equal(vgg_full.first_conv.bias, folded_b)


def test_load_vgg16_features_errors(vgg_full, tv_vgg16_state, tmp_path):
    broken = dict(tv_vgg16_state)
    del broken["features.26.weight"]
    path = tmp_path / "broken.pth"
    torch.save(broken, path)
    with pytest.raises(SalprepError, match=r"broken\.pth.*missing keys \[features\.26\.weight\]") as err:
        load_vgg16_features(vgg_full, path)
    assert "\n" not in str(err.value)

    wrong = dict(tv_vgg16_state)
    wrong["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    with pytest.raises(SalprepError, match=r"wrong shapes \[features\.2\.weight \(64, 32, 3, 3\)"):
        load_vgg16_features(vgg_full, wrong)
    extra = dict(tv_vgg16_state)
    extra["features.1.running_mean"] = torch.zeros(64)
    with pytest.raises(SalprepError, match="vgg16_bn"):
        load_vgg16_features(vgg_full, extra)
    with pytest.raises(SalprepError, match="'features\\.' prefix"):
        load_vgg16_features(vgg_full, {k[len("features."):]: v for k, v in tv_vgg16_state.items()
                                       if k.startswith("features.")})
    with pytest.raises(SalprepError, match="not found"):
        load_vgg16_features(vgg_full, tmp_path / "absent.pth")

    small_path = tmp_path / "vgg16.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, small_path)
    with pytest.raises(SalprepError, match=r"vgg16\.pth.*width=1\.0.*width=0\.125"):
        load_vgg16_features(SalBCE(3, width=SMALL), small_path)


def test_bce_loss_manual():
    g = torch.Generator().manual_seed(5)
    pred = torch.rand(2, 1, 8, 12, generator=g) * 0.98 + 0.01
    target = torch.rand(2, 1, 8, 12, generator=g)
    # 4x4 average pooling by hand: (2, 1, 2, 4, 3, 4) blocks -> means
    p = pred.view(2, 1, 2, 4, 3, 4).mean(dim=(3, 5))
    t = target.view(2, 1, 2, 4, 3, 4).mean(dim=(3, 5))
    manual = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    loss = bce_loss(pred, target)
    assert loss.ndim == 0 and loss.dtype == torch.float32
    torch.testing.assert_close(loss, manual, rtol=0, atol=_bce_bound(pred, 4))
    torch.testing.assert_close(bce_loss(pred, target, pool=1), F.binary_cross_entropy(pred, target),
                               rtol=0, atol=_bce_bound(pred, 1))
    torch.testing.assert_close(bce_loss(pred, target, pool=2), F.binary_cross_entropy(
        F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)), rtol=0, atol=_bce_bound(pred, 2))
    # saturated predictions: finite thanks to the clamp
    extreme = bce_loss(torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4))
    assert bool(torch.isfinite(extreme)) and float(extreme) > 10
    # p clamped to 1 - eps (eps = 1e-7; 1 - eps rounded to float32, off by <= eps32 / 2): the
    # loss is -log(1 - eps) ~ eps, plus the roundings of 1 - eps and of the log
    assert float(bce_loss(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4))) <= 1e-7 + float_bound(torch.float32, 1.0, 1, 2)
    with pytest.raises(ValueError, match="one shape"):
        bce_loss(pred, target[:, :, :4])
    with pytest.raises(ValueError, match="pool"):
        bce_loss(pred, target, pool=5)


def _bce_bound(pred: torch.Tensor, pool: int) -> float:
    """Two float32 evaluations of the pooled BCE (avg_pool2d vs a view-mean, log1p(-p) vs
    log(1 - p), another summation order): a pooled value (pool^2 terms <= 1) and 1 - p are off
    by float_bound(float32, 1, pool^2, 2), which d log(p) = dp / p amplifies by at most
    amp = max(1 / p, 1 / (1 - p)) (two logs per term); the target's pooled value multiplies logs
    <= L = log(amp); products, sums and the mean over the n terms (<= 2 L) round too."""
    p = F.avg_pool2d(pred, pool) if pool > 1 else pred
    amp = float(torch.maximum(1 / p, 1 / (1 - p)).max())
    log_scale = np.log(amp)
    pooled = float_bound(torch.float32, 1.0, pool * pool, 2)
    return 2 * pooled * amp + pooled * log_scale + float_bound(torch.float32, 2 * log_scale, p.numel(), 4)


@pytest.mark.parametrize("batchnorm, lr", [(False, 1e-3), (True, 1e-2)])
def test_salbce_training_steps_reduce_loss(batchnorm, lr):
    torch.manual_seed(0)
    model = SalBCE(4, coordconv=True, width=SMALL, batchnorm=batchnorm)
    x = _frames(2, 4, 32, 48, seed=9)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 48), indexing="ij")
    blob = torch.exp(-((xx - 0.3) ** 2 + (yy + 0.2) ** 2) / 0.1)
    target = blob.expand(2, 1, 32, 48).contiguous()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = bce_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = float(bce_loss(model(x), target))
    assert all(np.isfinite(losses))
    assert final < losses[0] - 0.05  # seen: 0.694 -> 0.537 (plain), 0.695 -> 0.573 (BatchNorm)
