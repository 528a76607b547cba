"""The ``depth`` stage (SalBCE recipe): monodepth2 disparity of every N-th frame.

Entry k = frame k for k = 0, N, 2N, ... (``frame_index``; SalBCE: N = 10, the frames in between
hold the last one). The network runs at the checkpoint's height x width; the scale-0 sigmoid
disparity is resized back to the frame and stored as float16: ``disparity`` (K, H, W) in (0, 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from salprep.errors import SalprepError
from salprep.stages.runner import StageRun, run_stage, video_facts
from salprep.stages.samplers import EveryNth, rgb_to_tensor
from salprep.video import iter_frames

#: where the defaults of :func:`build_depth` come from (results/recipe.json)
RECIPE_SOURCE = "SalBCE thesis: monodepth2 disparity of every 10th frame, held in between (MODELS.md, SalBCE)"


def build_depth(video, out, encoder, decoder, *, dataset_name: str, video_id: str | None = None,
                device: str = "auto", dtype: str = "float32", batch_size: int = 4, every: int = 10) -> dict:
    """Disparity shard of one video (see the module docstring); returns the run summary.

    Args:
        encoder, decoder: the original monodepth2 ``encoder.pth`` and ``depth.pth``.
    """
    from salprep.checkpoints import weights_id
    from salprep.device import resolve_device
    from salprep.models.monodepth import load_monodepth2

    if every < 1:
        raise SalprepError(f"every must be >= 1, got {every}")
    info, sha = video_facts(video)
    dev = resolve_device(device)
    net = load_monodepth2(encoder, decoder).to(dev)

    def compute(batch) -> dict[str, np.ndarray]:
        disp = net(rgb_to_tensor(batch.data, dev))
        return {"disparity": disp[:, 0].float().cpu().numpy().astype(np.float16)}

    return run_stage(StageRun(
        stage="depth", out=Path(out), dataset=dataset_name, video=video_id or Path(video).stem,
        n_frames=info.frames, source=str(video), source_sha256=sha,
        params={"network_size": [net.width, net.height], "dtype": dtype},
        frames=iter_frames(video), sampler=EveryNth(every), compute=compute,
        outputs={"disparity": ((info.height, info.width), "float16")},
        weights=weights_id(encoder, decoder), batch_size=batch_size, device=dev, dtype=dtype,
        attrs={"network_size": [net.width, net.height], "scale": 0}, source_video=str(video),
    ))
