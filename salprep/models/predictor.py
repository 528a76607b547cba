"""Trained decoders as :class:`salprep.evaluate.Predictor`: saliency maps from stored features.

:func:`load_model_file` reads a ``model.pt`` written by ``salprep train`` (the registry says how
to rebuild the network); :class:`DecoderPredictor` gives the map of any frame of a video from
that video's feature shards (``store/<ds>/<stage>/<v>.h5`` beside its GT shard), computing each
window once however many frames share it.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from salprep.errors import SalprepError


def load_model_file(path: str | os.PathLike, device="cpu"):
    """(spec, model in eval mode on ``device``, the file's record) of a ``model.pt``.

    The file is read with ``torch.load(..., weights_only=True)`` and its ``state_dict`` checked
    by the one checkpoint loader (:func:`salprep.checkpoints.load_checkpoint`: every key of the
    rebuilt network with its shape, no extra keys, finite float weights).

    Raises:
        SalprepError: one line naming the file: unreadable, not a model.pt, an unknown model,
            settings that do not build it, missing / unexpected keys, wrong shapes, NaN/Inf.
    """
    from salprep.checkpoints import read_checkpoint

    return model_from_record(read_checkpoint(path, "model.pt"), path, device)


def model_from_record(state, path: str | os.PathLike, device="cpu"):
    """:func:`load_model_file` on a ``model.pt`` already read (``state``; ``path`` names it in
    errors): the same checks, the same (spec, model in eval mode on ``device``, ``state``)."""
    from collections.abc import Mapping

    from salprep.checkpoints import CheckpointSpec, load_checkpoint, short_list
    from salprep.models.registry import MODELS, WEIGHT_KEYS

    if "model" not in state or "state_dict" not in state:
        raise SalprepError(f"not a salprep model.pt (no model / state_dict entries; it has "
                           f"{short_list(sorted(str(k) for k in state), 3)})", path)
    name = state["model"]
    spec = MODELS.get(name) if isinstance(name, str) else None
    if spec is None or spec.build is None:
        raise SalprepError(f"model.pt is of model {name!r}, not a registered decoder "
                           f"({', '.join(n for n, s in MODELS.items() if s.build is not None)})", path)
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


@functools.lru_cache(maxsize=4)
def _worker_predictor(path: str, device: str, batch_size: int) -> "DecoderPredictor":
    """The predictor of ``path`` in a Dask worker process, loaded once per process; one torch
    thread each there, as the workers already run in parallel."""
    import multiprocessing

    import torch

    from salprep.device import resolve_device

    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)
    dev = resolve_device(device)
    spec, model, _ = load_model_file(path, dev)
    return DecoderPredictor(spec, model, dev, batch_size, source=path)


class DecoderPredictor:
    """Maps of a trained decoder for frames of a GT-indexed video (LSTS: (K, 360, 640); SalBCE:
    (K, H, W) at the frames size; the protocol resizes them to the GT frame).

    Made with ``source`` (its model.pt), it pickles as that path and device, so Dask worker
    processes load the file once each instead of receiving the network with every task.
    """

    def __init__(self, spec, model, device="cpu", batch_size: int = 8, source: str | os.PathLike | None = None):
        self.spec, self.model, self.device, self.batch_size = spec, model, device, batch_size
        self.source = None if source is None else os.fspath(source)

    def __reduce_ex__(self, protocol):
        if self.source is None:
            return super().__reduce_ex__(protocol)
        return _worker_predictor, (self.source, str(self.device), self.batch_size)

    def predict(self, video, frames: np.ndarray) -> np.ndarray:
        import torch

        from salprep.train.data import FrameFeatures, video_shards

        data = FrameFeatures(video_shards([video.path], self.spec.inputs), self.spec.inputs, self.spec.target_size)
        if len(data) != video.n_frames:
            raise SalprepError(f"{len(data)} frames in the input shards, {video.n_frames} in the GT", video.path)
        keys = [data.input_key(int(t)) for t in frames]
        unique = sorted(set(keys))  # frames sharing a window / a held input are computed once
        first = {key: int(t) for key, t in zip(reversed(keys), reversed(list(frames)))}
        maps = {}
        with torch.inference_mode():
            for lo in range(0, len(unique), self.batch_size):
                chunk = unique[lo: lo + self.batch_size]
                x = torch.stack([data.inputs(first[key]) for key in chunk]).to(self.device)
                out = self.model(x)[:, 0].float().cpu().numpy()
                maps.update(zip(chunk, out))
        return np.stack([maps[key] for key in keys])
