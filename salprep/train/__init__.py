"""Training: the one loop every decoder uses (:func:`fit`) and the shard-backed data
(:class:`FrameFeatures`); see :mod:`salprep.models.registry` for what each model trains on.

The names load on first use, so ``salprep.train.loop`` (torch only) imports without the shard
reader's h5py (``benchmarks/gpu_check.py`` runs where only torch and numpy are installed).
"""

import importlib

_WHERE = {"FrameFeatures": "data", "VideoShards": "data", "epoch_order": "data", "video_shards": "data",
          "fit": "loop"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"salprep.train.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'salprep.train' has no attribute {name!r}")
