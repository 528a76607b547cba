"""The one checkpoint loader, and checkpoint identity for provenance.

Every pretrained network salprep runs (SpyNet, I3D, monodepth2) is read from the *original*
release files through :func:`load_checkpoint`:

* ``torch.load(path, map_location="cpu", weights_only=True)`` (legacy and zip serialisation);
* optional key renames (SpyNet's ``moduleBasic.*`` -> ``netBasic.*``);
* every expected key present with the expected shape, every mismatch listed in **one** line;
* extra keys allowed only where the original files carry them (I3D ``logits.*``, monodepth2
  ``encoder.fc.*``), ``*.num_batches_tracked`` optional (old files lack it);
* non-tensor entries (monodepth2 ``height``, ``width``, ``use_stereo``) returned, not loaded;
* NaN/Inf weights refused.

Problems raise :class:`~salprep.errors.SalprepError` naming the file (exit 2 on the command line).

No pretrained weights can be downloaded by the pipeline. The demo writes seeded random weights
in the original file formats (:func:`save_original`) and a sidecar ``<checkpoint>.json`` with
``{"weights": "random-init", "seed": ...}``; every artifact made from such a file records
``random-init`` (:func:`weights_id`).
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salprep.atomic import atomic_output
from salprep.errors import SalprepError

RANDOM_INIT = "random-init"
_OPTIONAL_SUFFIX = ".num_batches_tracked"


@dataclass(frozen=True)
class CheckpointSpec:
    """How to read one original checkpoint file into a module.

    Attributes:
        name: what the file should be, for messages (e.g. ``"I3D rgb"``).
        renames: ``(old, new)`` substring replacements for files that use an older key spelling
            (SpyNet: ``("moduleBasic", "netBasic")``); keys in messages keep the file's spelling.
        allowed_extra: key prefixes the original files carry but the module does not use.
        non_tensors: entries that are plain values (read and returned, not loaded).
        diagnose: optional ``f(state) -> str | None`` giving a more specific reason than the
            key/shape list (e.g. "a flow checkpoint (2 input channels), expected rgb").
    """

    name: str
    renames: tuple[tuple[str, str], ...] = ()
    allowed_extra: tuple[str, ...] = ()
    non_tensors: tuple[str, ...] = ()
    diagnose: Callable[[Mapping[str, Any]], str | None] | None = None


def short_list(names: Sequence[str], limit: int = 5) -> str:
    """``[a, b, c, ... (N more, M in all)]``: key lists that fit one line."""
    names = list(names)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more, {len(names)} in all)"
    return "[" + shown + "]"


#: torch.load(weights_only=True) wraps the unpickler's own reason in paragraphs of advice about
#: ``weights_only=False`` ("This file can still be loaded ..."), which is wrong for garbage bytes
#: and unsafe for a file of unknown origin: only the reason is kept.
_WEIGHTS_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(.*?)\s*(?:\n\s*\n|$)", re.S)
#: a pickled class named by the refused GLOBAL (a module or other object, not random bytes: those
#: give no importable-looking dotted name)
_PICKLED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ((?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*) was not an allowed")


def _load_failure(exc: BaseException) -> str:
    """The reason torch.load gave, one short line, without its weights_only=False advice."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = _WEIGHTS_UNPICKLER.search(text)
    if found and found.group(1).strip():
        reason = " ".join(found.group(1).split())
    else:
        lines = text.strip().splitlines()
        reason = " ".join(lines[0].split()) if lines else ""
    # torch's messages run on with advice after the first sentence ("This is an internal miniz error ...")
    first = re.split(r"(?<=[a-z0-9)])\. (?=[A-Z])", reason, maxsplit=1)[0].rstrip(".")
    if len(first) > 160:
        first = first[:160] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def read_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> Mapping[str, Any]:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Raises:
        SalprepError: missing or empty file, not a PyTorch checkpoint (random bytes, truncated),
            a pickle holding objects other than tensors and plain values (a pickled
            ``nn.Module``: the refused class is named), or not a mapping.
    """
    import torch

    path = Path(path)
    if path.is_dir():
        raise SalprepError(f"{what} is a folder, expected a file", path)
    if not path.is_file():
        raise SalprepError(f"{what} not found", path)
    if path.stat().st_size == 0:
        raise SalprepError(f"not a PyTorch checkpoint: the {what} is an empty file", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - garbage bytes make the unpickler raise anything (IndexError, ...)
        pickled = _PICKLED_GLOBAL.search(str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if pickled:  # a pickled class (nn.Module, ...), not garbage
            name = pickled.group(1)
            hint = "numpy arrays? store torch tensors" if name.startswith("numpy.") else \
                "a pickled model? save its state_dict() instead"
            raise SalprepError(
                f"not a plain {what} state_dict: it holds objects other than tensors ({name}: {hint})", path
            ) from None
        raise SalprepError(f"not a PyTorch checkpoint, or a truncated or corrupt one ({_load_failure(exc)})",
                           path) from None
    if not isinstance(state, Mapping):
        raise SalprepError(f"not a {what}: expected a state_dict, found {type(state).__name__}", path)
    return state


def nonfinite_entries(obj: Any, prefix: str = "") -> list[str]:
    """Names (``a.b.0``) of the floating-point tensors holding NaN/Inf anywhere in ``obj``
    (nested mappings, lists and tuples; other values are ignored)."""
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() or obj.is_complex():
            return [] if bool(torch.isfinite(obj).all()) else [prefix or "tensor"]
        return []
    found: list[str] = []
    if isinstance(obj, Mapping):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return found
    for key, value in items:
        found += nonfinite_entries(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def require_finite(obj: Any, what: str, path: str | os.PathLike | None) -> None:
    """Refuse ``obj`` (a tensor or nested state) if any floating-point tensor in it holds NaN/Inf."""
    bad = nonfinite_entries(obj)
    if bad:
        raise SalprepError(f"unusable {what}: {short_list([f'{k} holds NaN/Inf' for k in bad], 3)}", path)


def load_checkpoint(module, path: str | os.PathLike | Mapping, spec: CheckpointSpec, *,
                    source: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load an original checkpoint file into ``module`` (strict), returning its non-tensor entries.

    The expected keys and shapes are the module's own ``state_dict()``; the module is left on
    the CPU in float32 as built, in eval mode. ``path`` may also be an already loaded state_dict
    (checked the same way; messages then name ``source``, the file it came from, if given).

    Raises:
        SalprepError: see :func:`read_checkpoint`; plus missing/unexpected keys, wrong shapes,
            non-float tensors and NaN/Inf values, all listed in one line naming the file.
    """
    import torch

    if isinstance(path, Mapping):
        state, path = path, (None if source is None else Path(source))
    else:
        path = Path(path)
        state = read_checkpoint(path, f"{spec.name} checkpoint")
    state = {str(k): v for k, v in state.items()}  # keys of a foreign pickle need not be strings
    extras = {k: state[k] for k in spec.non_tensors if k in state}
    keys = [k for k in state if k not in spec.non_tensors]
    renames = [(old, new) for old, new in spec.renames if any(old in k for k in keys)]

    def to_module(key: str) -> str:
        for old, new in renames:
            key = key.replace(old, new)
        return key

    def to_file(key: str) -> str:
        for old, new in renames:
            key = key.replace(new, old)
        return key

    tensors = {to_module(k): state[k] for k in keys}

    reason = spec.diagnose(tensors) if spec.diagnose else None
    if reason:
        raise SalprepError(f"not a {spec.name} checkpoint: {reason}", path)

    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = [to_file(k) for k in expected if k not in tensors and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [to_file(k) for k in tensors if k not in expected and not k.startswith(spec.allowed_extra or ("\0",))]
    wrong_shape, not_tensor = [], []
    for key in expected:
        if key not in tensors:
            continue
        value = tensors[key]
        if not isinstance(value, torch.Tensor):
            not_tensor.append(f"{to_file(key)} ({type(value).__name__})")
        elif tuple(value.shape) != expected[key]:
            wrong_shape.append(f"{to_file(key)} {tuple(value.shape)} (expected {expected[key]})")
    problems = []
    if missing:
        problems.append(f"missing keys {short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {short_list(unexpected)}")
    if wrong_shape:
        problems.append(f"wrong shapes {short_list(wrong_shape, 3)}")
    if not_tensor:
        problems.append(f"not tensors {short_list(not_tensor, 3)}")
    if problems:
        raise SalprepError(
            f"not a {spec.name} checkpoint ({len(tensors)} tensors): " + "; ".join(problems), path
        )
    load = {}
    bad_values = []
    for key in expected:
        if key not in tensors:
            continue
        value = tensors[key]
        if key.endswith(_OPTIONAL_SUFFIX):
            load[key] = value
            continue
        if not value.is_floating_point():
            bad_values.append(f"{to_file(key)} has dtype {value.dtype}")
            continue
        if not bool(torch.isfinite(value).all()):
            bad_values.append(f"{to_file(key)} holds NaN/Inf")
            continue
        load[key] = value.to(torch.float32)
    if bad_values:
        raise SalprepError(f"unusable {spec.name} checkpoint: {short_list(bad_values, 3)}", path)
    module.load_state_dict(load, strict=False)  # every expected key checked above
    module.eval()
    return extras


def save_original(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a state_dict the way the original releases are stored (legacy, non-zip torch.save),
    atomically (hidden temporary name, renamed when complete)."""
    import torch

    with atomic_output(path) as tmp:
        torch.save(dict(state), os.fspath(tmp), _use_new_zipfile_serialization=False)
    return Path(path)


def sidecar_path(checkpoint: str | os.PathLike) -> Path:
    p = Path(checkpoint)
    return p.with_name(p.name + ".json")


def mark_random_init(checkpoint: str | os.PathLike, seed: int, **info) -> None:
    """Write the sidecar that marks ``checkpoint`` as seeded random weights."""
    with atomic_output(sidecar_path(checkpoint)) as tmp:
        tmp.write_text(json.dumps({"weights": RANDOM_INIT, "seed": seed, **info}) + "\n")


def weights_id(*checkpoints: str | os.PathLike) -> str:
    """``"random-init"`` when every file is marked random weights, else ``sha256:<hex>``
    (one file) or ``sha256:<hex>+<hex>`` (several, e.g. monodepth2 encoder + decoder)."""
    from salprep.store import sha256_file

    marks = []
    for checkpoint in checkpoints:
        side = sidecar_path(checkpoint)
        try:
            marks.append(json.loads(side.read_text()).get("weights") == RANDOM_INIT)
        except (OSError, ValueError, AttributeError):
            marks.append(False)
    if marks and all(marks):
        return RANDOM_INIT
    return "sha256:" + "+".join(sha256_file(c) for c in checkpoints)

