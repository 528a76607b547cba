"""The model registry: model name -> builder, input stages, target, loss, optimiser, schedule.

``salprep train``, ``salprep evaluate`` and the workflow rules read this one table; a model's
recipe (:attr:`ModelSpec.recipe`) is the single place its training defaults are stated, and the
workflow's ``models.<name>`` config section overrides keys of it. What each key accepts is its
default's type and :data:`SETTING_LIMITS`; :func:`models_schema` makes the config schema of it.

Families share one backbone each and vary by configuration, never by copies of a network:

* ``lsts_rgb`` / ``lsts_flow`` / ``lsts_rgbflow`` -- :class:`~salprep.models.lsts.LSTSDecoder` on
  the pooled I3D features of one stream (1024 channels) or both concatenated (2048), trained
  with MSE against the GT map at 360x640, RMSProp (momentum 0), lr 1e-4, weight decay 5e-5, lr
  halved every 50 iterations (LSTS paper; epochs 10 / 2 / 1). Options beyond the paper (off by
  default, on in the CPU demo): Adam, per-channel feature standardisation, prior output bias.
* ``salbce_rgb`` / ``salbce_coord`` / ``salbce_depth`` / ``salbce_depth_coord`` / ``salbce_flow`` --
  :class:`~salprep.models.salbce.SalBCE` (one VGG16 encoder-decoder) on the stored RGB frames
  (``frames`` stage, 256x192), plus the monodepth2 disparity (every 10th frame, held between),
  CoordConv channels, or the SpyNet flow (every 11th frame, held); BCE on 4x4-pooled maps, Adam
  lr 1e-5 (or SGD Nesterov lr 1e-3), ReduceLROnPlateau (factor 0.1, patience 2) on the validation
  loss (``val_loss``: training reads the val split too); one of hflip / vflip / small rotation /
  none per sample (``augment``, ``rotate``; :mod:`salprep.train.augment`); BatchNorm after each 3x3
  conv (``batchnorm``); ``init`` starts from an original generator file or a SalBCE model.pt.
* ``center_bias`` -- the mean training GT map (no network; :mod:`salprep.baselines`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from salprep.errors import SalprepError

#: the LSTS decoder's output and training target size: DHF1K's frames (salprep.models.lsts.OUTPUT_SIZE,
#: which its layer sizes give; tests/test_decoders.py checks the two agree)
LSTS_SIZE = (360, 640)
#: channels each input stage gives a model (salprep.train.data.read_input): pooled I3D Mixed_5c,
#: RGB frames, monodepth2 disparity, SpyNet flow (dx, dy); a model's input channels are their sum
INPUT_CHANNELS = {"i3d_rgb": 1024, "i3d_flow": 1024, "frames": 3, "depth": 1, "flow_spynet": 2}
#: where LSTS_RECIPE's paper values come from
LSTS_SOURCE = ("LSTS paper, training: MSE, RMSProp (momentum 0), lr 1e-4, weight decay 5e-5, batch 128, lr halved "
               "every 50 iterations; 10 / 2 / 1 epochs for RGB / Flow / RGB&Flow (MODELS.md, LSTS decoder)")
LSTS_RECIPE = {
    "epochs": 2,
    "batch_size": 128,          # the paper's (with halving every 50 iterations the lr is < 1e-15 within LSTS-Flow's first epoch: README)
    "optimizer": "rmsprop",     # rmsprop (momentum 0, the paper's) | adam
    "lr": 1e-4,
    "weight_decay": 5e-5,
    "lr_halving_iterations": 50,
    "frames_per_video": 0,      # 0: every annotated frame each epoch; N: N random frames per video
    "standardize": False,       # standardise the I3D features per channel (training-set mean/std, kept in the model)
    "prior_bias": False,        # start the output bias at logit(mean training GT) instead of PyTorch's init
    "seed": 0,
}


#: where SALBCE_RECIPE's paper values come from
SALBCE_SOURCE = ("SalBCE thesis: the SalGAN generator with BatchNorm, BCE on 4x4-pooled maps, Adam lr 1e-5, batch 12, "
                 "10 epochs (weight decay 1e-6: the released train_bce.py), ReduceLROnPlateau (factor 0.1, patience 2) on the validation loss, one of hflip / vflip / "
                 "small rotation / none per sample (MODELS.md, SalBCE; juanjo3ns/SalBCE)")
SALBCE_RECIPE = {
    "epochs": 10,
    "batch_size": 12,
    "optimizer": "adam",        # adam (lr 1e-5) | sgd (Nesterov, momentum 0.9; the thesis used lr 1e-3)
    "lr": 1e-5,
    "weight_decay": 1e-6,       # the released code's Adam (src/salgan_dhf1k/train_bce.py)
    "plateau_factor": 0.1,
    "plateau_patience": 2,
    "width": 1.0,               # channel multiplier; 1.0 = SalGAN's VGG16 (ImageNet weights fit only then)
    "batchnorm": True,          # BatchNorm between each 3x3 conv and its ReLU (the thesis's DHF1K models)
    "vgg16": "",                # optional local torchvision vgg16 state_dict for the encoder
    "frames_per_video": 0,
    "prior_bias": False,        # start the output bias at logit(mean training GT) instead of 0
    "augment": "thesis",        # thesis: one of hflip / vflip / rotation / none per sample | none
    "rotate": 5.0,              # max rotation in degrees (the released code's Augmentor pipeline: 5)
    "init": "",                 # start from an original SalGAN/SalBCE generator file or a salprep SalBCE
                                # model.pt (the thesis: SalGAN trained on SALICON); "": random / vgg16
    "seed": 0,
}


#: recipe keys naming weight files that only start training (a trained model.pt's state_dict
#: replaces them; the Snakemake train rule takes them as inputs)
WEIGHT_KEYS = ("vgg16", "init")

#: what the thesis started SalBCE training from (``init`` empty is a deviation from it)
SALBCE_PAPER_INIT = "an original SalGAN generator trained on SALICON (the thesis fine-tunes it)"

#: The values a recipe key accepts beyond its default's type (JSON-schema keywords), stated once:
#: the workflow's config schema (``models.<name>``: :func:`models_schema`, checked at plan time)
#: and :meth:`ModelSpec.settings` (``salprep train --settings-json``) both check them. A number
#: key must also be finite. What the training loop needs: at least one epoch and one sample per
#: batch, a positive lr, StepLR's positive step, ReduceLROnPlateau's factor below 1.
SETTING_LIMITS = {
    "epochs": {"minimum": 1},
    "batch_size": {"minimum": 1},
    "lr": {"exclusiveMinimum": 0},
    "weight_decay": {"minimum": 0},
    "lr_halving_iterations": {"minimum": 1},
    "frames_per_video": {"minimum": 0},                                 # 0: every annotated frame
    "plateau_factor": {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "plateau_patience": {"minimum": 0},
    # above 1 no paper's network, and no weight file fits; a typo (25 for 0.25) would build a
    # network of 625 times the parameters
    "width": {"exclusiveMinimum": 0, "maximum": 1},
    "rotate": {"minimum": 0, "maximum": 180},                           # degrees either way
    "augment": {"enum": ["thesis", "none"]},                            # salprep.train.loop._augmented
    "seed": {"minimum": 0},
}
#: the optimisers each family's factory builds (salprep.models.lsts.make_optimizer,
#: salprep.models.salbce.training.make_optimizer)
OPTIMIZERS = {"lsts": ["rmsprop", "adam"], "salbce": ["adam", "sgd"]}
#: the JSON-schema type of a recipe key, from its default's Python type (bool before int)
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


class Lazy:
    """A function named ``"module:name"``, imported when first called: the registry names the
    networks' losses and optimiser factories without importing torch (every ``salprep`` command
    reads the registry to parse its arguments)."""

    def __init__(self, target: str):
        self.target = target

    def __call__(self, *args, **kwargs):
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    def __repr__(self) -> str:
        return self.target


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One registered model: everything the training loop and the commands need to know of it.

    Attributes:
        name: results/<name>.
        family: ``"lsts"``, ``"salbce"`` or ``"prior"``: the paper's network (labels, the
            optimisers its factory knows); nothing dispatches on it.
        inputs: store stages the model reads per frame (besides ``gt``), in channel order; its
            input channels follow (:attr:`in_channels`, :data:`INPUT_CHANNELS`).
        recipe: training defaults (config ``models.<name>`` overrides them).
        network: ``f(in_channels, settings) -> nn.Module``; None for a model without one (the
            centre-bias prior, :mod:`salprep.baselines`).
        loss: ``f(pred, target) -> scalar`` of (B, 1, H, W) maps in [0, 1] (LSTS: MSE at 360x640;
            SalBCE: BCE on 4x4-pooled maps at the frames size).
        optimizer: ``f(model, settings) -> (optimiser, schedule, "iteration" | "epoch")``: when
            the schedule steps; an "epoch" schedule is given the epoch's validation loss.
        val_loss: the schedule watches the validation loss (SalBCE's ReduceLROnPlateau), so
            training reads the val split's shards too; LSTS's fixed schedule does not.
        target_size: (H, W) of the training targets; None = the input frames' size.
        paper: the published DHF1K val numbers of the seed paper (MODELS.md), for comparison.
        source: where the recipe's values come from (results/recipe.json).
        paper_init: the weights the paper's training started from, where a recipe key (``init``)
            names them: without a file there, results/recipe.json lists ``init`` as a deviation.
    """

    name: str
    family: str
    inputs: tuple[str, ...] = ()
    recipe: dict = field(default_factory=dict)
    network: Callable[[int, dict], Any] | None = None
    loss: Callable | None = None
    optimizer: Callable | None = None
    val_loss: bool = False
    target_size: tuple[int, int] | None = None
    paper: dict = field(default_factory=dict)
    source: str = ""
    paper_init: str = ""

    @property
    def trained(self) -> bool:
        """Whether the one training loop trains it (it has a network); else a prior."""
        return self.network is not None

    @property
    def in_channels(self) -> int:
        """Input channels: the sum of its input stages' (:data:`INPUT_CHANNELS`)."""
        return sum(INPUT_CHANNELS[stage] for stage in self.inputs)

    def build(self, settings: dict):
        """The untrained network for ``settings`` (a recipe with overrides)."""
        if self.network is None:
            raise SalprepError(f"model {self.name} has no network (a prior)")
        return self.network(self.in_channels, settings)

    def settings(self, overrides: dict | None = None) -> dict:
        """The recipe with ``overrides`` applied. Unknown keys, and values of another type or
        outside the key's range (:func:`settings_schema`, as the workflow's config schema checks
        them), are refused with one line naming ``models.<name>.<key>``, the value and what is
        allowed."""
        from salprep.schema_lines import and_more, schema_errors

        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.recipe))
        if unknown:
            raise SalprepError(f"models.{self.name}: unknown settings {unknown} (known: {sorted(self.recipe)})")
        problems = schema_errors(overrides, settings_schema(self), f"models.{self.name}")
        if problems:
            raise SalprepError(problems[0] + and_more(len(problems) - 1))
        return {**self.recipe, **overrides}

    def limits(self, key: str) -> dict:
        """What ``key`` accepts beyond its default's type (:data:`SETTING_LIMITS`; the optimiser
        by family)."""
        if key == "optimizer":
            return {"enum": list(OPTIMIZERS[self.family])}
        return dict(SETTING_LIMITS.get(key, {}))


def _lsts(in_channels: int, settings: dict):
    from salprep.models.lsts import LSTSDecoder

    return LSTSDecoder(in_channels=in_channels)


def _salbce(coordconv: bool) -> Callable[[int, dict], Any]:
    def build(in_channels: int, settings: dict):
        from salprep.models.salbce import SalBCE, init_salbce, load_vgg16_features

        # a model.pt written before the batchnorm / init keys existed has neither (and no BatchNorm)
        model = SalBCE(in_channels=in_channels, coordconv=coordconv, width=settings["width"],
                       batchnorm=settings.get("batchnorm", False))
        if settings.get("init"):  # the whole generator: replaces the VGG16 encoder, if both are given
            init_salbce(model, settings["init"])
        elif settings.get("vgg16"):
            load_vgg16_features(model, settings["vgg16"])
        return model

    return build


def _lsts_spec(name: str, inputs: tuple[str, ...], epochs: int, paper: dict) -> ModelSpec:
    return ModelSpec(name=name, family="lsts", inputs=inputs, recipe={**LSTS_RECIPE, "epochs": epochs},
                     network=_lsts, loss=Lazy("salprep.models.lsts:mse_loss"),
                     optimizer=Lazy("salprep.models.lsts:make_optimizer"), target_size=LSTS_SIZE, paper=paper,
                     source=LSTS_SOURCE)


def _salbce_spec(name: str, inputs: tuple[str, ...], coordconv: bool, paper: dict | None = None) -> ModelSpec:
    return ModelSpec(name=name, family="salbce", inputs=inputs, recipe=SALBCE_RECIPE, network=_salbce(coordconv),
                     loss=Lazy("salprep.models.salbce.loss:bce_loss"),
                     optimizer=Lazy("salprep.models.salbce.training:make_optimizer"), val_loss=True,
                     paper=paper or {}, source=SALBCE_SOURCE, paper_init=SALBCE_PAPER_INIT)


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(name="center_bias", family="prior", source="the mean training GT map (a baseline: no recipe keys)"),
    _lsts_spec("lsts_rgb", ("i3d_rgb",), 10, {"auc_judd": 0.8280, "auc_shuffled": 0.6415, "nss": 1.441, "cc": 0.3868}),
    _lsts_spec("lsts_flow", ("i3d_flow",), 2, {"auc_judd": 0.8616, "auc_shuffled": 0.6983, "nss": 1.2561, "cc": 0.3370}),
    _lsts_spec("lsts_rgbflow", ("i3d_rgb", "i3d_flow"), 1,
               {"auc_judd": 0.8306, "auc_shuffled": 0.6218, "nss": 1.3803, "cc": 0.3715}),
    _salbce_spec("salbce_rgb", ("frames",), False,
                 {"auc_judd": 0.880, "auc_shuffled": 0.632, "nss": 2.285, "cc": 0.420, "sim": 0.339}),
    _salbce_spec("salbce_coord", ("frames",), True,
                 {"auc_judd": 0.866, "auc_shuffled": 0.629, "nss": 2.072, "cc": 0.389, "sim": 0.304}),
    _salbce_spec("salbce_depth", ("frames", "depth"), False,
                 {"auc_judd": 0.895, "auc_shuffled": 0.648, "nss": 2.524, "cc": 0.463, "sim": 0.351}),
    _salbce_spec("salbce_depth_coord", ("frames", "depth"), True),
    _salbce_spec("salbce_flow", ("frames", "flow_spynet"), False),
)}


def settings_schema(spec: ModelSpec) -> dict:
    """The JSON schema of ``models.<name>``: every recipe key, typed as its default, with its
    limits (:meth:`ModelSpec.limits`); no other key."""
    properties = {}
    for key, default in spec.recipe.items():
        kind = next(name for cls, name in _JSON_TYPES if isinstance(default, cls))
        properties[key] = {"type": kind, **({"finite": True} if kind == "number" else {}), **spec.limits(key)}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def models_schema() -> dict:
    """The JSON schema of a config's ``models:`` section (top level and ``datasets.<name>.models``):
    one :func:`settings_schema` per registered model, no other name. The workflow puts it in
    place of the placeholder in workflow/schemas/config.schema.yaml, so the config schema and the
    registry cannot drift."""
    return {"type": "object", "additionalProperties": False,
            "description": "per-model overrides of the registry recipe (salprep.models.registry)",
            "properties": {name: settings_schema(spec) for name, spec in MODELS.items()}}


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise SalprepError(f"unknown model {name!r}; registered: {sorted(MODELS)}")
    return MODELS[name]


def decoder_models() -> list[str]:
    """Models trained by the one training loop (every family but the prior)."""
    return [name for name, spec in MODELS.items() if spec.trained]
