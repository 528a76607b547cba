"""The ``flow_tvl1`` stage (LSTS recipe): TV-L1 of every consecutive frame pair.

Frames are decoded in grey at ``size`` (112x112); entry k is the flow from frame k to k+1
(``frame_index`` = 0..T-2), upsampled to ``out_size`` (224x224) with the vectors rescaled,
clipped to +-``bound`` px, scaled to [-1, 1] and stored as int8 codes: ``flow`` (T-1, 2, H, W),
value = code * attrs["flow_scale"], pixels = value * attrs["bound"].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from salprep.errors import SalprepError
from salprep.flow.tvl1_params import PARAMS, check_params
from salprep.stages.runner import StageRun, parse_size, run_stage, video_facts
from salprep.stages.samplers import Pairs
from salprep.video import iter_frames

#: OpenCV DualTVL1 parameter -> its type on the command line, from the one table
#: (:data:`salprep.flow.tvl1_params.PARAMS`); all but ``use_initial_flow`` (no initial flow here)
TVL1_PARAMS = {name: p.type for name, p in PARAMS.items() if name != "use_initial_flow"}


#: where the defaults of :func:`build_flow_tvl1` come from (results/recipe.json)
RECIPE_SOURCE = ("LSTS paper: TV-L1 flow at 112x112, upsampled to the I3D input 224x224, clipped to +-20 px "
                 "and scaled to [-1, 1] (MODELS.md, LSTS decoder); TV-L1 parameters: OpenCV DualTVL1 defaults")


def tvl1_compute(kwargs: dict, backend: str, device, bound: float, upsample: float):
    """``compute(batch)`` of the stage: (first, second) grey stacks -> {"flow": int8 codes}."""
    import torch

    from salprep.flow.encode import encode_flow_lsts
    from salprep.flow.tvl1 import tvl1_opencv, tvl1_torch

    def compute(batch) -> dict[str, np.ndarray]:
        first, second = batch.data
        if backend == "torch":
            flow = tvl1_torch(torch.from_numpy(first[:, None]).to(device),
                              torch.from_numpy(second[:, None]).to(device), **kwargs)
        else:
            flow = torch.from_numpy(np.stack([tvl1_opencv(a, b, **kwargs).transpose(2, 0, 1)
                                              for a, b in zip(first, second)]))
        q, _ = encode_flow_lsts(flow, bound=bound, upsample=upsample)
        return {"flow": q.cpu().numpy()}

    return compute


def build_flow_tvl1(video, out, *, dataset_name: str, video_id: str | None = None, device: str = "auto",
                    batch_size: int = 8, size: str = "112x112", out_size: str = "224x224", bound: float = 20.0,
                    backend: str = "torch", tvl1: dict | None = None) -> dict:
    """TV-L1 flow shard of one video (see the module docstring); returns the run summary."""
    from salprep.device import resolve_device
    from salprep.flow.encode import LSTS_SCALE

    kwargs = {k: v for k, v in (tvl1 or {}).items() if v is not None}
    try:
        check_params(**kwargs)
    except ValueError as exc:
        raise SalprepError(f"bad TV-L1 parameter: {exc}") from None
    w, h = parse_size(size)
    out_w, out_h = parse_size(out_size)
    upsample = out_h / h
    if abs(out_w / w - upsample) > 1e-9:
        raise SalprepError(f"out size {out_size} is not a uniform scaling of size {size}")
    info, sha = video_facts(video)
    if info.frames < 2:
        raise SalprepError(f"video has {info.frames} frame(s); flow needs at least 2", video)
    dev = resolve_device(device) if backend == "torch" else None
    return run_stage(StageRun(
        stage="flow_tvl1", out=Path(out), dataset=dataset_name, video=video_id or Path(video).stem,
        n_frames=info.frames, source=str(video), source_sha256=sha,
        params={"method": "tvl1", "backend": backend, "size": [w, h], "out_size": [out_w, out_h],
                "bound": bound, "tvl1": kwargs},
        frames=iter_frames(video, size=(w, h), gray=True), sampler=Pairs(1),
        compute=tvl1_compute(kwargs, backend, dev, bound, upsample),
        outputs={"flow": ((2, out_h, out_w), "int8")}, batch_size=batch_size, device=dev,
        attrs={"bound": float(bound), "flow_scale": LSTS_SCALE}, source_video=str(video),
    ))
