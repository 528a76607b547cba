"""``salprep flow``: optical flow of one video into ``store/<ds>/flow_{tvl1,spynet}/<v>.h5``.

TV-L1 (LSTS recipe): frames resized to --size (112x112) in grey, flow of every consecutive pair
(T-1 entries, entry t = frame t -> t+1), upsampled to --out-size (224x224) with the vectors
rescaled, clipped to +-bound px, scaled to [-1, 1] and stored as int8 (``flow`` (T-1, 2, H, W),
value = q * attrs["flow_scale"]; pixels = value * attrs["bound"]).

SpyNet (SalBCE recipe): the flow from frame k to k+1 for every --every-th frame k, RGB resized to
--size, stored as float16 pixels at that size (``flow`` (K, 2, H, W), ``frame_index`` (K,)).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from salprep.progress import progress

from salprep.errors import SalprepError
from salprep.store import sha256_file, stage_version, write_shard
from salprep.video import iter_frames, probe_video

DEVICE_CHOICES = ("auto", "cpu", "cuda")  # torch is imported only when the command runs

#: OpenCV DualTVL1 parameter -> its type on the command line
TVL1_PARAMS = {"tau": float, "lambda_": float, "theta": float, "nscales": int, "warps": int, "epsilon": float,
               "inner_iterations": int, "outer_iterations": int, "scale_step": float, "gamma": float,
               "median_filtering": int}


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SalprepError(f"bad size {text!r}: expected WIDTHxHEIGHT, e.g. 112x112") from None
    if w < 8 or h < 8:
        raise SalprepError(f"size {text!r} is too small (at least 8x8)")
    return w, h


def register_parser(sub) -> None:
    p = sub.add_parser(
        "flow",
        help="optical flow of one video (TV-L1 or SpyNet) into a flow shard",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--method", required=True, choices=("tvl1", "spynet"))
    p.add_argument("--video", required=True, help="video file")
    p.add_argument("--out", required=True, help="output shard (.h5)")
    p.add_argument("--dataset-name", default="unknown", help="dataset name recorded in the shard")
    p.add_argument("--video-id", default=None, help="video id recorded in the shard (default: file stem)")
    p.add_argument("--device", default="auto", help=f"one of {DEVICE_CHOICES} or cuda:N")
    p.add_argument("--batch-size", type=int, default=16, help="frame pairs per batch")
    p.add_argument("--size", default=None, help="compute size WIDTHxHEIGHT (tvl1: 112x112, spynet: 256x192)")
    t = p.add_argument_group("tvl1")
    t.add_argument("--out-size", default="224x224", help="stored size WIDTHxHEIGHT (LSTS: 224x224)")
    t.add_argument("--bound", type=float, default=20.0, help="clip bound in px at the stored size")
    t.add_argument("--backend", choices=("torch", "opencv"), default="torch",
                   help="torch (batched, CPU/CUDA) or opencv (DualTVL1, one pair at a time)")
    for name, kind in TVL1_PARAMS.items():
        t.add_argument(f"--{name.rstrip('_').replace('_', '-')}", dest=name, type=kind, default=None,
                       help=f"OpenCV DualTVL1 {name} (default: OpenCV's)")
    s = p.add_argument_group("spynet")
    s.add_argument("--checkpoint", help="SpyNet checkpoint (network-*.pytorch)")
    s.add_argument("--every", type=int, default=11, help="flow of every N-th frame (SalBCE: 11)")
    p.set_defaults(func=run)


def _tvl1_kwargs(args) -> dict:
    return {name: getattr(args, name) for name in TVL1_PARAMS if getattr(args, name) is not None}


def _pairs(frames, step: int = 1):
    """(k, frame k, frame k+1) for k = 0, step, 2*step, ... (streaming)."""
    prev = None
    for k, frame in enumerate(frames):
        if prev is not None and (k - 1) % step == 0:
            yield k - 1, prev, frame
        prev = frame


def _batches(iterable, n: int):
    it = iter(iterable)
    while batch := list(itertools.islice(it, n)):
        yield batch


def run(args) -> int:
    from salprep.device import resolve_device

    if args.batch_size < 1:
        raise SalprepError(f"--batch-size must be >= 1, got {args.batch_size}")
    info = probe_video(args.video)
    if info.frames < 2:
        raise SalprepError(f"video has {info.frames} frame(s); flow needs at least 2", args.video)
    device = resolve_device(args.device)
    video_id = args.video_id or Path(args.video).stem
    common = dict(dataset=args.dataset_name, video=video_id, n_frames=info.frames,
                  source_sha256=sha256_file(args.video))
    if args.method == "tvl1":
        _run_tvl1(args, info, device, common)
    else:
        _run_spynet(args, info, device, common)
    print(f"{args.out}: {args.method} flow of {info.frames} frames")
    return 0


def _run_tvl1(args, info, device, common) -> None:
    import torch

    from salprep.flow.encode import encode_flow_lsts
    from salprep.flow.tvl1 import check_params, tvl1_opencv, tvl1_torch

    size = _size(args.size or "112x112")
    out_w, out_h = _size(args.out_size)
    kwargs = _tvl1_kwargs(args)
    try:
        check_params(**kwargs)
    except ValueError as exc:
        raise SalprepError(f"bad TV-L1 parameter: {exc}") from None
    n = info.frames - 1
    upsample = out_h / size[1]
    if abs(out_w / size[0] - upsample) > 1e-9:
        raise SalprepError(f"--out-size {args.out_size} is not a uniform scaling of --size {size[0]}x{size[1]}")
    params = {"method": "tvl1", "backend": args.backend, "size": list(size), "out_size": [out_w, out_h],
              "bound": args.bound, "tvl1": kwargs, "stage_version": stage_version("flow_tvl1")}
    with write_shard(args.out, stage="flow_tvl1", params=params, weights="none", **common) as shard:
        shard.attrs["source_video"] = str(Path(args.video).resolve())
        shard.attrs["n_entries"] = n
        shard.attrs["bound"] = args.bound
        shard.attrs["device"] = str(device) if args.backend == "torch" else "cpu"
        ds = shard.create_frames("flow", (n, 2, out_h, out_w), np.int8)
        pairs = _pairs(iter_frames(args.video, size=size, gray=True))
        done = 0
        with progress(total=n, desc=f"tvl1 {common['video']}", unit="pair") as bar, torch.inference_mode():
            for batch in _batches(pairs, args.batch_size):
                first = np.stack([b[1] for b in batch])[:, None]
                second = np.stack([b[2] for b in batch])[:, None]
                if args.backend == "torch":
                    flow = tvl1_torch(torch.from_numpy(first).to(device), torch.from_numpy(second).to(device),
                                      **kwargs)
                else:
                    flow = torch.from_numpy(np.stack([
                        tvl1_opencv(a[0], b[0], **kwargs).transpose(2, 0, 1) for a, b in zip(first, second)
                    ]))
                q, scale = encode_flow_lsts(flow, bound=args.bound, upsample=upsample)
                ds[done: done + len(batch)] = q.cpu().numpy()
                done += len(batch)
                bar.update(len(batch))
        if done != n:  # inside the shard's block: no shard is left
            raise SalprepError(f"decoded {done + 1} frames, expected {info.frames}", args.video)
        shard.attrs["flow_scale"] = scale


def _rgb_batch(frames: list[np.ndarray], device):
    """(H, W, 3) uint8 frames -> (B, 3, H, W) float32 RGB in [0, 1] tensor on ``device``."""
    import torch

    return torch.from_numpy(np.stack(frames)).to(device).permute(0, 3, 1, 2).float().div_(255)


def _run_spynet(args, info, device, common) -> None:
    import torch

    from salprep.checkpoints import weights_id
    from salprep.flow.spynet import load_spynet

    if not args.checkpoint:
        raise SalprepError("--method spynet needs --checkpoint (a network-*.pytorch file)")
    if args.every < 1:
        raise SalprepError(f"--every must be >= 1, got {args.every}")
    size = _size(args.size or "256x192")
    net = load_spynet(args.checkpoint).to(device)
    starts = list(range(0, info.frames - 1, args.every))
    params = {"method": "spynet", "size": list(size), "every": args.every,
              "stage_version": stage_version("flow_spynet")}
    with write_shard(args.out, stage="flow_spynet", params=params, weights=weights_id(args.checkpoint),
                     **common) as shard:
        shard.attrs["source_video"] = str(Path(args.video).resolve())
        shard.attrs["n_entries"] = len(starts)
        shard.attrs["device"] = str(device)
        shard.put("frame_index", np.asarray(starts, dtype=np.int32))
        ds = shard.create_frames("flow", (len(starts), 2, size[1], size[0]), np.float16)
        pairs = _pairs(iter_frames(args.video, size=size), step=args.every)
        done = 0
        with progress(total=len(starts), desc=f"spynet {common['video']}", unit="pair") as bar, torch.inference_mode():
            for batch in _batches(pairs, args.batch_size):
                flow = net(_rgb_batch([b[1] for b in batch], device), _rgb_batch([b[2] for b in batch], device))
                ds[done: done + len(batch)] = flow.cpu().numpy().astype(np.float16)
                done += len(batch)
                bar.update(len(batch))
        if done != len(starts):
            raise SalprepError(f"decoded fewer frames than the {info.frames} probed", args.video)
