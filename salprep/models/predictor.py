"""Trained decoders as :class:`salprep.evaluate.Predictor`: saliency maps from stored features.

:func:`load_model_file` reads a ``model.pt`` written by ``salprep train`` (the registry says how
to rebuild the network); :class:`DecoderPredictor` gives the map of any frame of a video from
that video's feature shards (``store/<ds>/<stage>/<v>.h5`` beside its GT shard), computing each
window once however many frames share it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError


def load_model_file(path: str | os.PathLike, device="cpu"):
    """(spec, model in eval mode on ``device``, the file's record) of a ``model.pt``."""
    from salprep.checkpoints import read_checkpoint
    from salprep.models.registry import get_model

    state = read_checkpoint(path, "model.pt")
    if "model" not in state or "state_dict" not in state:
        raise SalprepError("not a salprep model.pt (no model / state_dict entries)", path)
    spec = get_model(str(state["model"]))
    model = spec.build(dict(state.get("settings") or spec.recipe))
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise SalprepError(f"model.pt does not fit {spec.name}: {str(exc).splitlines()[0]}", path) from None
    return spec, model.to(device).eval(), state


class DecoderPredictor:
    """Maps (K, 360, 640) of a trained decoder for frames of a GT-indexed video."""

    def __init__(self, spec, model, device="cpu", batch_size: int = 8):
        self.spec, self.model, self.device, self.batch_size = spec, model, device, batch_size

    def predict(self, video, frames: np.ndarray) -> np.ndarray:
        import torch

        from salprep.store import open_shard
        from salprep.models.lsts import lsts_frame_features
        from salprep.train.data import check_feature_shard

        frames = np.asarray(frames, dtype=np.int64)
        per_stage = []
        for stage in self.spec.inputs:
            path = Path(video.path).parent.parent / stage / Path(video.path).name
            index = check_feature_shard(path, stage, video.n_frames)
            per_stage.append((path, stage, lsts_frame_features(index, video.n_frames)[frames]))
        keys = np.stack([e for _, _, e in per_stage], axis=1)  # (K, stages): the windows each frame uses
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        maps = np.empty((len(unique), 360, 640), dtype=np.float32)
        handles = [open_shard(path, stage) for path, stage, _ in per_stage]
        try:
            with torch.inference_mode():
                for lo in range(0, len(unique), self.batch_size):
                    rows = unique[lo: lo + self.batch_size]
                    feats = np.stack([np.concatenate([h["features"][int(k)] for h, k in zip(handles, row)])
                                      for row in rows]).astype(np.float32)
                    out = self.model(torch.from_numpy(feats).to(self.device))
                    maps[lo: lo + len(rows)] = out[:, 0].float().cpu().numpy()
        finally:
            for h in handles:
                h.close()
        return maps[inverse.reshape(-1)]
