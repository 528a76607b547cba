"""Baselines that need no features: the centre-bias prior (mean training GT map)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from salprep.progress import progress as _progress

from salprep.errors import SalprepError
from salprep.store import open_shard, read_scaled


def center_bias_prior(gt_paths: list[str | Path], *, progress: bool = True) -> np.ndarray:
    """Mean of the continuous GT maps over every frame of the given GT shards.

    Returns:
        float64 (H, W), max-normalised to [0, 1].
    """
    total = None
    count = 0
    for path in _progress(gt_paths, desc="center bias", unit="video", enabled=progress):
        with open_shard(path, "gt", stored=True) as h5:
            maps = h5["maps"]
            if total is None:
                total = np.zeros(maps.shape[1:], dtype=np.float64)
            elif maps.shape[1:] != total.shape:
                raise SalprepError(
                    f"frame size {maps.shape[2]}x{maps.shape[1]} differs from the other shards' "
                    f"{total.shape[1]}x{total.shape[0]}", path)
            for t in range(maps.shape[0]):
                total += read_scaled(maps, t)
            count += maps.shape[0]
    if total is None or count == 0:
        raise SalprepError("no training frames for the centre-bias prior", gt_paths[0] if gt_paths else "(none)")
    prior = total / count
    peak = prior.max()
    return prior / peak if peak > 0 else prior
