"""The one owner of trained-model files: ``model.pt`` (a decoder's weights or the centre-bias
prior) and ``checkpoint.pt`` (a training run to resume), written atomically and read through the
one checkpoint loader (:func:`salprep.checkpoints.read_checkpoint`, ``weights_only=True``;
:func:`salprep.checkpoints.load_checkpoint` for state_dicts: every key, shape, finite values).

``model.pt`` of a decoder: ``{"model": name, "state_dict", "settings", "inputs",
"features_weights"}`` (the registry rebuilds the network from ``model`` and ``settings``); of the
prior: ``{"model": "center_bias", "prior": (H, W) float32, "meta": JSON text}``.
``checkpoint.pt``: ``{"model", "epoch", "state_dict", "optimizer", "scheduler", "history",
"epochs", "settings", "scaler"}`` after every epoch of :func:`salprep.train.fit`.
Commands and the training loop call these functions; none reads or writes the files itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError

MODEL_FILE = "model.pt"
CHECKPOINT = "checkpoint.pt"
#: the entries a checkpoint.pt must have to resume from
TRAINING_ENTRIES = ("model", "epoch", "state_dict", "optimizer", "scheduler", "history")
#: the model whose model.pt holds a prior instead of a network
PRIOR = "center_bias"


def _save(path: Path, payload: dict) -> Path:
    import torch

    from salprep.atomic import atomic_output

    with atomic_output(path) as tmp:
        torch.save(payload, os.fspath(tmp))
    return path


def write_model(out_dir: str | os.PathLike, spec, model, settings: dict, features_weights: list[str]) -> Path:
    """``out_dir/model.pt`` of a trained decoder; returns its path."""
    return _save(Path(out_dir) / MODEL_FILE, {"model": spec.name, "state_dict": model.state_dict(),
                                              "settings": settings, "inputs": list(spec.inputs),
                                              "features_weights": features_weights})


def write_prior(out_dir: str | os.PathLike, prior: np.ndarray, meta: dict) -> Path:
    """``out_dir/model.pt`` of the centre-bias prior: (H, W) float map, ``meta`` its training record."""
    import torch

    return _save(Path(out_dir) / MODEL_FILE, {"model": PRIOR, "prior": torch.from_numpy(prior.astype(np.float32)),
                                              "meta": json.dumps(meta)})


def read_model(path: str | os.PathLike, device="cpu"):
    """(spec, model in eval mode on ``device``, the file's record) of a decoder's ``model.pt``.

    Raises:
        SalprepError: one line naming the file: unreadable, not a model.pt, an unknown model,
            settings that do not build it, missing / unexpected keys, wrong shapes, NaN/Inf.
    """
    from salprep.checkpoints import read_checkpoint

    return model_from_record(read_checkpoint(path, MODEL_FILE), path, device)


def model_from_record(state, path: str | os.PathLike, device="cpu"):
    """:func:`read_model` on a ``model.pt`` already read (``state``; ``path`` names it in
    errors): the same checks, the same (spec, model in eval mode on ``device``, ``state``)."""
    from salprep.checkpoints import CheckpointSpec, load_checkpoint, short_list
    from salprep.models.registry import MODELS, WEIGHT_KEYS

    if "model" not in state or "state_dict" not in state:
        raise SalprepError(f"not a salprep model.pt (no model / state_dict entries; it has "
                           f"{short_list(sorted(str(k) for k in state), 3)})", path)
    name = state["model"]
    spec = MODELS.get(name) if isinstance(name, str) else None
    if spec is None or not spec.trained:
        raise SalprepError(f"model.pt is of model {name!r}, not a registered decoder "
                           f"({', '.join(n for n, s in MODELS.items() if s.trained)})", path)
    settings = state.get("settings") or spec.recipe
    if not isinstance(settings, Mapping) or not isinstance(state["state_dict"], Mapping):
        raise SalprepError("not a salprep model.pt: settings / state_dict are not mappings", path)
    settings = dict(settings)
    for key in WEIGHT_KEYS:  # files that only started training: the state_dict replaces them
        if settings.get(key):
            settings[key] = ""
    try:
        model = spec.build(settings)
    except SalprepError as exc:
        raise SalprepError(f"model.pt settings do not build {spec.name}: {exc.message}", path) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SalprepError(f"model.pt settings do not build {spec.name}: {type(exc).__name__}: {exc}", path) from None
    load_checkpoint(model, state["state_dict"], CheckpointSpec(name=f"{spec.name} model.pt"), source=path)
    return spec, model.to(device).eval(), state


def read_prior(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """(prior (H, W) float32, its training record) of a centre-bias ``model.pt``."""
    import torch

    from salprep.checkpoints import read_checkpoint, require_finite

    state = read_checkpoint(path, f"{PRIOR} {MODEL_FILE}")
    if state.get("model") != PRIOR or "prior" not in state:
        raise SalprepError(f"not a {PRIOR} model.pt (model {state.get('model')!r})", path)
    prior = state["prior"]
    if not isinstance(prior, torch.Tensor) or prior.ndim != 2 or not prior.is_floating_point() or min(prior.shape) < 1:
        found = f"{tuple(prior.shape)} {prior.dtype}" if isinstance(prior, torch.Tensor) else type(prior).__name__
        raise SalprepError(f"unusable {PRIOR} model.pt: prior must be a float (H, W) map, found {found}", path)
    require_finite({"prior": prior}, f"{PRIOR} {MODEL_FILE}", path)
    try:
        meta = json.loads(str(state.get("meta", "{}")))
    except ValueError as exc:
        raise SalprepError(f"unusable {PRIOR} model.pt: meta is not JSON ({exc})", path) from None
    if not isinstance(meta, dict):
        raise SalprepError(f"unusable {PRIOR} model.pt: meta is not a JSON object", path)
    return prior.float().numpy(), meta


def write_training_checkpoint(out_dir: str | os.PathLike, state: dict) -> Path:
    """``out_dir/checkpoint.pt`` (the entries of the module docstring)."""
    return _save(Path(out_dir) / CHECKPOINT, state)


def read_training_checkpoint(path: str | os.PathLike, model_name: str) -> dict:
    """A ``checkpoint.pt`` to resume from; refuses a file that is not one, or one of another model."""
    from salprep.checkpoints import read_checkpoint

    state = read_checkpoint(path, "training checkpoint")
    if "model" not in state or "state_dict" not in state:
        raise SalprepError("not a salprep training checkpoint (no model / state_dict entries)", path)
    found = state.get("model")
    if found != model_name:
        raise SalprepError(f"this checkpoint is of model {found!r}, not {model_name!r}", path)
    missing = [k for k in TRAINING_ENTRIES if k not in state]
    if missing:
        raise SalprepError(f"not a training checkpoint: no {' / '.join(missing)} entries (a model.pt? resume "
                           f"from the {CHECKPOINT} written beside it)", path)
    epoch, history = state["epoch"], state["history"]
    if (not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0
            or not isinstance(history, (list, tuple)) or not all(isinstance(v, (int, float)) for v in history)
            or not all(isinstance(state[k], Mapping) for k in ("state_dict", "optimizer", "scheduler"))):
        raise SalprepError("unusable training checkpoint: epoch / history / state entries of the wrong type", path)
    return state
