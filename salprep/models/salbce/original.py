"""The original SalGAN / SalBCE generator files, and salprep model.pt files of SalBCE models.

* :func:`load_salgan` -- an original generator file, key for key, as a ready :class:`SalBCE`.
* :func:`init_salbce` -- start training from an original generator file or a salprep model.pt.

The original files (juanjo3ns/SalBCE, read for design/MODELS.md): the generator is one flat
``nn.Sequential`` (``src/utils/salgan_generator.py``), so its keys are ``<index>.weight`` /
``<index>.bias`` (plus ``running_mean``, ``running_var``, ``num_batches_tracked`` of the 26
BatchNorm2d the DHF1K models insert before each ReLU). Files are the bare state_dict (the SalGAN
baseline ``gen_model.pt``) or ``{'epoch', 'state_dict', 'optimizer'}`` written by ``save_model``
of ``src/utils/salgan_utils.py``, whose ``'optimizer'`` is the pickled optimiser *object*
(``torch.optim.Adam``), saved with the legacy serialisation of 2018 PyTorch. The training code
never wraps the model in ``nn.DataParallel`` (the line is commented out in every version of
``src/salgan_dhf1k/train_bce.py``), so ``module.``-prefixed keys are not an original file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from salprep.checkpoints import CheckpointSpec, load_checkpoint, read_checkpoint, short_list
from salprep.errors import SalprepError
from salprep.models.salbce.network import (
    BGR_NAMES,
    ENCODER_CFG,
    SalBCE,
    conv_layers,
    original_sequential,
)


def _salbce_convs(model: SalBCE) -> list[nn.Conv2d]:
    """The 27 convs of ``model`` in network order (13 encoder, 13 decoder, ``output``)."""
    return conv_layers((*model.features, *model.decoder, model.output))


def _salbce_norms(model: SalBCE) -> list[nn.BatchNorm2d]:
    """The 26 BatchNorm2d of ``model`` in network order (none with ``batchnorm=False``)."""
    return [m for m in (*model.features, *model.decoder) if isinstance(m, nn.BatchNorm2d)]


#: What an original file's first conv is fed, by name: (SalBCE ``in_channels``, ``coordconv``).
#: Channel order as the original code appends them: B, G, R, depth, then y, x.
SALGAN_INPUTS: dict[str, tuple[int, bool]] = {
    "rgb": (3, False),          # 3 channels
    "depth": (4, False),        # 4: + depth (8-bit PNG value)
    "coord": (3, True),         # 5: + CoordConv y, x (generated inside; the thesis's RGB+CoordConv)
    "depth_coord": (4, True),   # 6: + depth, y, x
    "flow": (5, False),         # 5: + flow dx, dy in [-1, 1] (salprep's; the original has no flow input)
}
#: The reading of a file's first-conv channel count when ``inputs`` is not given (5 = coord:
#: the released RGB+CoordConv model; a flow generator must be named).
DEFAULT_INPUTS = {3: "rgb", 4: "depth", 5: "coord", 6: "depth_coord"}
#: Flat index of the first BatchNorm2d in a file with BatchNorm (none without).
_FIRST_BN = "1"
_BN_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class _DiscardedOptimizer:
    """Stands in for the pickled ``torch.optim`` object of a ``save_model`` file while reading
    it with ``weights_only=True``: nothing of it is called, its state is dropped."""

    def __setstate__(self, state) -> None:
        pass


def _empty_dict(*_default_factory) -> dict:
    """Stands in for ``collections.defaultdict`` (the optimiser's ``state``) in those files."""
    return {}


#: The classes the original files pickle besides tensors, mapped to inert stand-ins (Adam is
#: what ``train_bce.py`` uses, SGD its commented alternative): allow-listed for
#: ``torch.load(weights_only=True)`` only while reading a generator file.
_ORIGINAL_PICKLE_GLOBALS = [
    (_DiscardedOptimizer, "torch.optim.adam.Adam"),
    (_DiscardedOptimizer, "torch.optim.sgd.SGD"),
    (_empty_dict, "collections.defaultdict"),
    (dict, "builtins.dict"),
]


def _read_file(path: str | os.PathLike) -> Mapping[str, Any]:
    """An original generator file or a salprep model.pt, read by
    :func:`~salprep.checkpoints.read_checkpoint` with the original files' optimiser objects
    replaced by inert stand-ins."""
    with torch.serialization.safe_globals(_ORIGINAL_PICKLE_GLOBALS):
        return read_checkpoint(path, "SalGAN generator checkpoint")


def _generator_state(raw: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The flat generator state_dict of an original file (bare or wrapped), after the checks
    that name what the file is instead."""
    if "model" in raw and "state_dict" in raw:
        raise SalprepError(
            f"a salprep model.pt (model {raw['model']!r}), not an original SalGAN/SalBCE generator: "
            f"evaluate it with 'salprep evaluate', start training from it with init_salbce", path)
    state = raw["state_dict"] if "state_dict" in raw else raw
    if not isinstance(state, Mapping):
        raise SalprepError(f"not a SalGAN generator: 'state_dict' is a {type(state).__name__}", path)
    state = {str(k): v for k, v in state.items()}
    keys = list(state)
    if keys and all(k.startswith("module.") for k in keys):
        raise SalprepError(
            "not an original SalGAN generator: keys start with 'module.' (saved from nn.DataParallel, which the "
            "original code never uses); save the unwrapped generator's state_dict", path)
    if any(k.startswith("features.") for k in keys):
        raise SalprepError(
            f"not a SalGAN generator: it has features.* keys (a torchvision VGG16 or SalBCE state_dict; VGG16: "
            f"use load_vgg16_features), expected the flat keys 0.weight ... 60.bias "
            f"({short_list(keys, 3)})", path)
    return state


def _file_layout(state: Mapping[str, Any], path: Path) -> tuple[int, bool]:
    """(first-conv input channels, has BatchNorm) of a flat generator state_dict."""
    first = state.get("0.weight")
    if not isinstance(first, torch.Tensor) or first.ndim != 4 or tuple(first.shape[2:]) != (3, 3):
        found = "no 0.weight" if first is None else f"0.weight is {_describe(first)}"
        raise SalprepError(
            f"not a SalGAN generator: {found}, expected the first conv (64, C, 3, 3) "
            f"({len(state)} entries: {short_list(list(state), 3)})", path)
    if first.shape[0] != ENCODER_CFG[0]:
        raise SalprepError(
            f"not an original SalGAN generator: the first conv has {first.shape[0]} filters, the original has "
            f"{ENCODER_CFG[0]} (width 1.0)", path)
    channels = int(first.shape[1])
    if channels not in DEFAULT_INPUTS:
        raise SalprepError(
            f"not a SalGAN/SalBCE generator this code reads: the first conv takes {channels} input channels, "
            f"expected 3 (RGB), 4 (+ depth), 5 (+ CoordConv y, x, or + flow) or 6 (+ depth, y, x)", path)
    batchnorm = any(f"{_FIRST_BN}.{t}" in state for t in _BN_TENSORS)
    return channels, batchnorm


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _resolve_inputs(channels: int, inputs: str | None, path: Path) -> str:
    if inputs is None:
        return DEFAULT_INPUTS[channels]
    in_channels, coordconv = SALGAN_INPUTS[inputs]
    expected = in_channels + 2 * coordconv
    if expected != channels:
        raise SalprepError(
            f"the file's first conv takes {channels} input channels (as {DEFAULT_INPUTS[channels]!r}), "
            f"inputs={inputs!r} needs {expected}", path)
    return inputs


def _check_inputs_name(inputs: str | None) -> None:
    if inputs is not None and (not isinstance(inputs, str) or inputs not in SALGAN_INPUTS):
        raise ValueError(f"inputs must be None or one of {sorted(SALGAN_INPUTS)}, got {inputs!r}")


def _load_original(raw: Mapping[str, Any], path: Path, inputs: str | None) -> SalBCE:
    state = _generator_state(raw, path)
    channels, batchnorm = _file_layout(state, path)
    in_channels, coordconv = SALGAN_INPUTS[_resolve_inputs(channels, inputs, path)]
    model = SalBCE(in_channels, coordconv=coordconv, width=1.0, batchnorm=batchnorm)
    name = f"SalGAN generator ({'with' if batchnorm else 'without'} BatchNorm, {channels} input channels)"
    load_checkpoint(original_sequential(model), state, CheckpointSpec(name=name), source=path)
    return model.eval()


def load_salgan(checkpoint_path: str | os.PathLike, *, inputs: str | None = None) -> SalBCE:
    """Load an original SalGAN / SalBCE generator file (or one written by :func:`save_random_salgan`).

    The file is the flat generator state_dict, bare or as ``{'epoch', 'state_dict',
    'optimizer'}`` (the pickled optimiser object is read as an inert stand-in and dropped), read
    with ``torch.load(..., map_location="cpu", weights_only=True)`` and checked key for key by
    :func:`salprep.checkpoints.load_checkpoint` (54 tensors without BatchNorm, 184 with it;
    ``num_batches_tracked`` may be absent). BatchNorm is detected from the keys (``1.weight``,
    ``1.running_mean``, ...), the input channels from ``0.weight``; width 1.0.

    Args:
        checkpoint_path: the ``.pt`` file.
        inputs: what the first conv is fed, a key of :data:`SALGAN_INPUTS`: ``"rgb"`` (3
            channels), ``"depth"`` (4), ``"coord"`` (5: RGB + CoordConv, generated inside),
            ``"depth_coord"`` (6), ``"flow"`` (5: RGB + flow dx, dy). None: read from the
            channel count (:data:`DEFAULT_INPUTS`; 5 is ``"coord"``, a flow file must say
            ``"flow"``).

    Returns:
        :class:`SalBCE` (width 1.0, ``batchnorm`` as the file) in eval mode, float32, on the
        CPU. Its forward takes (B, C, H, W): RGB in [0, 1] first, then the extra inputs that are
        not generated (depth disparity in [0, 1]; flow in [-1, 1]), C = 3, 4 or 5 -- a
        CoordConv file also takes its y, x channels appended (then C = the file's channel
        count) --, and gives (B, 1, H, W) in (0, 1): the map the original code gives for the
        same image after its own preprocessing (BGR 0-255 minus the Caffe means, depth * 255,
        CoordConv y, x appended).

    Raises:
        ValueError: ``inputs`` is not None or a key of :data:`SALGAN_INPUTS`.
        SalprepError: one line naming the file: unreadable, a pickled model, not a generator
            (a torchvision VGG16, a salprep model.pt, ``module.`` keys), a first conv taking
            other than 3-6 channels or contradicting ``inputs``, missing / unexpected / wrongly
            shaped keys, NaN/Inf weights.
    """
    _check_inputs_name(inputs)
    path = Path(checkpoint_path)
    return _load_original(_read_file(path), path, inputs)


# --------------------------------------------------------------------------------------------
# starting training from an original file or a salprep model.pt
# --------------------------------------------------------------------------------------------


def _load_salprep(raw: Mapping[str, Any], path: Path) -> SalBCE:
    """The SalBCE of a salprep model.pt (``{"model", "state_dict", "settings", ...}``), through the
    one model.pt loader (:func:`salprep.models.artifacts.model_from_record`)."""
    from salprep.models.artifacts import model_from_record
    from salprep.models.registry import MODELS

    name = raw["model"]
    spec = MODELS.get(name) if isinstance(name, str) else None
    if spec is None or spec.family != "salbce":
        raise SalprepError(f"a salprep model.pt of model {name!r}, not a SalBCE model", path)
    return model_from_record(raw, path)[1]


def copy_salbce_weights(target: SalBCE, source: SalBCE, what: str = "source",
                        path: str | os.PathLike | None = None) -> SalBCE:
    """Copy ``source``'s weights into ``target`` (in place, device and dtype kept; returns it).

    Every conv in order (27); the BatchNorm layers (weight, bias, running statistics, batch
    count) where both models have them -- without BatchNorm in ``source`` those of ``target``
    stay as they are, without it in ``target`` those of ``source`` are not used. First conv: each
    input channel of ``target`` (:attr:`SalBCE.channel_names`) takes ``source``'s filter of the
    channel of that name; channels ``source`` lacks start as the mean of the B, G, R filters.

    Raises:
        SalprepError: one line (naming ``path``): conv shapes differ (another width), or
            ``source`` has input channels ``target`` lacks.
    """
    src_convs, dst_convs = _salbce_convs(source), _salbce_convs(target)
    wrong = []
    for k, (s, d) in enumerate(zip(src_convs, dst_convs, strict=True)):
        s_shape, d_shape = tuple(s.weight.shape), tuple(d.weight.shape)
        if k == 0:
            s_shape, d_shape = s_shape[:1] + s_shape[2:], d_shape[:1] + d_shape[2:]
        if s_shape != d_shape:
            wrong.append(f"conv {k} {tuple(s.weight.shape)} (this model {tuple(d.weight.shape)})")
    if wrong:
        raise SalprepError(
            f"the {what} does not fit this SalBCE (width {target.width:g}, {source.width:g} in the file): "
            f"{short_list(wrong, 3)}", path)
    src_names, dst_names = source.channel_names, target.channel_names
    homeless = [n for n in src_names if n not in dst_names]
    if homeless:
        raise SalprepError(
            f"the {what} takes input channels {', '.join(homeless)} that this SalBCE lacks "
            f"(its first conv: {', '.join(src_names)}; this model's: {', '.join(dst_names)})", path)
    with torch.no_grad():
        for k, (s, d) in enumerate(zip(src_convs, dst_convs)):
            if k == 0:
                lacking = []
                for j, name in enumerate(dst_names):
                    if name in src_names:
                        d.weight[:, j].copy_(s.weight[:, src_names.index(name)])
                    else:
                        lacking.append(j)
                rgb = [dst_names.index(n) for n in BGR_NAMES]
                mean = d.weight[:, rgb].mean(dim=1)
                for j in lacking:
                    d.weight[:, j].copy_(mean)
            else:
                d.weight.copy_(s.weight)
            d.bias.copy_(s.bias)
        if source.batchnorm and target.batchnorm:
            for s, d in zip(_salbce_norms(source), _salbce_norms(target), strict=True):
                for name, value in s.state_dict().items():
                    getattr(d, name).copy_(value)
    return target


def init_salbce(model: SalBCE, path: str | os.PathLike, *, inputs: str | None = None) -> SalBCE:
    """Start training ``model`` from a generator file: the thesis fine-tuned the SALICON-trained
    SalGAN; salprep can also continue from one of its own SalBCE models.

    ``path`` is either an original SalGAN / SalBCE generator file (read as :func:`load_salgan`
    reads it; ``model.width`` must be 1.0) or a salprep ``model.pt`` of a SalBCE model
    (``{"model": <salbce_* name>, "state_dict": SalBCE.state_dict(), "settings": ...}``, written
    by ``salprep train``; checked key for key against the SalBCE it describes). The weights go
    into ``model`` by :func:`copy_salbce_weights`: every conv, BatchNorm where both have it (a
    plain file into a BatchNorm model leaves the BatchNorm layers at their initialisation, as the
    thesis's ``add_bn`` after loading SalGAN did), first-conv filters by input channel name,
    channels the file lacks (e.g. depth, CoordConv) as the mean of the B, G, R filters. Copies
    into the existing parameters (device and dtype kept); train/eval mode unchanged.

    Args:
        model: the :class:`SalBCE` to initialise.
        path: the file.
        inputs: for an original file, what its first conv is fed (as :func:`load_salgan`;
            None: read from the channel count). Not used for a salprep model.pt.

    Returns:
        ``model``.

    Raises:
        ValueError: ``inputs`` is not None or a key of :data:`SALGAN_INPUTS`.
        SalprepError: one line naming the file: unreadable or not a generator / SalBCE model.pt
            (see :func:`load_salgan`), another width, input channels ``model`` lacks.
    """
    if not isinstance(model, SalBCE):
        raise TypeError(f"init_salbce expects a SalBCE model, got {type(model).__name__}")
    _check_inputs_name(inputs)
    path = Path(path)
    raw = _read_file(path)
    if "model" in raw and "state_dict" in raw:
        source, what = _load_salprep(raw, path), f"{raw['model']} model.pt"
    else:
        if model.width != 1.0:
            raise SalprepError(
                f"an original SalGAN generator fits only SalBCE(width=1.0), this model has width={model.width:g}",
                path)
        source, what = _load_original(raw, path, inputs), "SalGAN generator"
    return copy_salbce_weights(model, source, what, path)
