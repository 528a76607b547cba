"""Trained decoders as :class:`salprep.evaluate.Predictor`: saliency maps from stored features.

:func:`load_model_file` reads a ``model.pt`` written by ``salprep train`` (the registry says how
to rebuild the network); :class:`DecoderPredictor` gives the map of any frame of a video from
that video's feature shards (``store/<ds>/<stage>/<v>.h5`` beside its GT shard), computing each
window once however many frames share it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError


class PriorPredictor:
    """The same map for every frame (the centre-bias baseline's prior)."""

    def __init__(self, prior: np.ndarray):
        self.prior = np.asarray(prior, dtype=np.float64)

    def predict(self, video, frames):
        return np.broadcast_to(self.prior, (len(frames), *self.prior.shape))


def load_predictor(model: str, path: str | os.PathLike, device: str = "cpu"):
    """(predictor, training record) of a registered model's ``model.pt``
    (:mod:`salprep.models.artifacts` reads it): a :class:`DecoderPredictor` for a decoder, a
    :class:`PriorPredictor` for the prior; the record has ``weights`` (the extractors behind the
    inputs) and ``settings``."""
    from salprep.models import artifacts
    from salprep.models.registry import get_model

    path = Path(path)  # a missing file: one line from the checkpoint reader
    spec = get_model(model)
    if not spec.trained:
        prior, meta = artifacts.read_prior(path)
        return PriorPredictor(prior), meta
    from salprep.device import resolve_device

    dev = resolve_device(device)
    found, net, state = artifacts.read_model(path, dev)
    if found.name != model:
        raise SalprepError(f"this model.pt is of model {found.name!r}, not {model!r}", path)
    weights = state.get("features_weights") or ["none"]
    return DecoderPredictor(found, net, dev, source=path), {"model": model, "weights": "+".join(weights),
                                                            "settings": state.get("settings")}


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
    from salprep.models.artifacts import read_model

    spec, model, _ = read_model(path, dev)
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
