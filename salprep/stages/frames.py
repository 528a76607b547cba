"""The ``frames`` stage: RGB frames at the SalBCE input size, so training never decodes video.

Entry k = frame k for k = 0, N, 2N, ... (``frame_index``; N = 1 by default), resized to
``size`` (SalBCE: 256x192) by libswscale: ``frames`` (K, H, W, 3) uint8 RGB.
"""

from __future__ import annotations

from pathlib import Path

from salprep.errors import SalprepError
from salprep.stages.runner import StageRun, parse_size, run_stage, video_facts
from salprep.stages.samplers import EveryNth
from salprep.video import iter_frames

#: where the defaults of :func:`build_frames` come from (results/recipe.json)
RECIPE_SOURCE = "SalBCE thesis / released SalGAN code: every frame at 256x192 (W x H) (MODELS.md, SalBCE)"


def build_frames(video, out, *, dataset_name: str, video_id: str | None = None, size: str = "256x192",
                 every: int = 1) -> dict:
    """Frames shard of one video (see the module docstring); returns the run summary."""
    if every < 1:
        raise SalprepError(f"every must be >= 1, got {every}")
    w, h = parse_size(size)
    info, sha = video_facts(video)
    return run_stage(StageRun(
        stage="frames", out=Path(out), dataset=dataset_name, video=video_id or Path(video).stem,
        n_frames=info.frames, source=str(video), source_sha256=sha, params={"size": [w, h]},
        frames=iter_frames(video, size=(w, h)), sampler=EveryNth(every), compute=lambda b: {"frames": b.data},
        outputs={"frames": ((h, w, 3), "uint8")}, batch_size=16, attrs={"size": [w, h]}, source_video=str(video),
    ))
