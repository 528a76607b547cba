"""The ``flow_spynet`` stage (SalBCE recipe): SpyNet flow of every N-th frame.

RGB frames decoded at ``size`` (256x192); entry k is the flow from frame k to k+1 for
k = 0, N, 2N, ... (``frame_index``), stored as float16 pixels at that size:
``flow`` (K, 2, H, W).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from salprep.errors import SalprepError
from salprep.stages.runner import StageRun, parse_size, run_stage, video_facts
from salprep.stages.samplers import Pairs, rgb_to_tensor
from salprep.video import iter_frames

#: where the defaults of :func:`build_flow_spynet` come from (results/recipe.json)
RECIPE_SOURCE = "SalBCE thesis: SpyNet flow of every 11th frame at the 256x192 model input (MODELS.md, SalBCE)"


def build_flow_spynet(video, out, checkpoint, *, dataset_name: str, video_id: str | None = None,
                      device: str = "auto", dtype: str = "float32", batch_size: int = 8,
                      size: str = "256x192", every: int = 11) -> dict:
    """SpyNet flow shard of one video (see the module docstring); returns the run summary."""
    from salprep.checkpoints import weights_id
    from salprep.device import resolve_device
    from salprep.flow.spynet import load_spynet

    if every < 1:
        raise SalprepError(f"every must be >= 1, got {every}")
    w, h = parse_size(size)
    info, sha = video_facts(video)
    if info.frames < 2:
        raise SalprepError(f"video has {info.frames} frame(s); flow needs at least 2", video)
    dev = resolve_device(device)
    net = load_spynet(checkpoint).to(dev)

    def compute(batch) -> dict[str, np.ndarray]:
        first, second = batch.data
        flow = net(rgb_to_tensor(first, dev), rgb_to_tensor(second, dev))
        return {"flow": flow.float().cpu().numpy().astype(np.float16)}

    return run_stage(StageRun(
        stage="flow_spynet", out=Path(out), dataset=dataset_name, video=video_id or Path(video).stem,
        n_frames=info.frames, source=str(video), source_sha256=sha,
        params={"method": "spynet", "size": [w, h], "dtype": dtype},
        frames=iter_frames(video, size=(w, h)), sampler=Pairs(every), compute=compute,
        outputs={"flow": ((2, h, w), "float16")}, weights=weights_id(checkpoint), batch_size=batch_size,
        device=dev, dtype=dtype, source_video=str(video),
    ))
