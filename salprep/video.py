"""Video decoding and encoding with PyAV, streaming (frames are never all held in memory).

Frames are RGB ``uint8`` arrays of shape (H, W, 3) unless stated otherwise. Frame indices are
0-based inside salprep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from salprep.atomic import atomic_output
from salprep.errors import SalprepError


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video; ``frames`` is the number of frames actually decoded."""

    path: str
    frames: int
    width: int
    height: int
    fps: float
    codec: str
    declared_frames: int  # what the container says (0 when it does not say)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "codec": self.codec,
            "declared_frames": self.declared_frames,
        }


def _reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or exc.__class__.__name__


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise SalprepError("video file not found", path)
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise SalprepError(f"not a readable video ({_reason(exc)})", path) from None
    if not container.streams.video:
        container.close()
        raise SalprepError("has no video stream", path)
    return container


def iter_frames(
    path: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    gray: bool = False,
) -> Iterator[np.ndarray]:
    """Decode a video frame by frame.

    Args:
        path: any container PyAV reads (AVI, MP4, MKV, ...).
        size: optional (width, height) to rescale to (bilinear, via libswscale).
        gray: return (H, W) uint8 luma instead of (H, W, 3) uint8 RGB.

    Yields:
        uint8 arrays, (H, W, 3) RGB in 0-255, or (H, W) gray.

    Raises:
        SalprepError: the file is missing, not a video, or a packet cannot be decoded
        (corrupt or truncated data).
    """
    container = _open(path)
    fmt = "gray" if gray else "rgb24"
    width, height = (None, None) if size is None else size
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format=fmt, width=width, height=height)
    except av.FFmpegError as exc:
        raise SalprepError(f"cannot decode video data ({_reason(exc)})", path) from None
    finally:
        container.close()


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Decode the whole video (without converting pixels) and report its facts.

    Raises:
        SalprepError: unreadable video, no frames, or fewer frames decoded than the
        container declares (truncated file).
    """
    container = _open(path)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        declared = int(stream.frames or 0)
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        n = 0
        width = height = 0
        for frame in container.decode(stream):
            if n == 0:
                width, height = frame.width, frame.height
            n += 1
        codec = ctx.name
    except av.FFmpegError as exc:
        raise SalprepError(f"cannot decode video data ({_reason(exc)})", path) from None
    finally:
        container.close()
    if n == 0:
        raise SalprepError("no frame could be decoded (empty or corrupt video)", path)
    if declared and n < declared:
        raise SalprepError(f"truncated video: decoded {n} of {declared} declared frames", path)
    return VideoInfo(str(path), n, width, height, fps, codec, declared)


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    *,
    fps: int | Fraction = 30,
    codec: str = "mjpeg",
    quality: int = 3,
) -> int:
    """Encode RGB frames into a video file (written to a temporary name, then renamed).

    Args:
        frames: iterable of (H, W, 3) uint8 RGB arrays, all the same size.
        fps: constant frame rate.
        codec: an FFmpeg encoder name; "mjpeg" (the default) is decoded by PyAV and OpenCV alike.
        quality: MJPEG qscale (2 = best, 31 = worst).

    Returns:
        the number of frames written.
    """
    n = 0
    with atomic_output(path) as tmp, av.open(str(tmp), mode="w") as container:  # tmp keeps the extension
        stream = container.add_stream(codec, rate=Fraction(fps))
        if codec == "mjpeg":
            stream.pix_fmt = "yuvj420p"
            stream.codec_context.qscale = quality
            stream.options = {"qmin": str(quality), "qmax": str(quality)}
        for arr in frames:
            arr = np.ascontiguousarray(arr, dtype=np.uint8)
            if n == 0:
                stream.height, stream.width = arr.shape[:2]
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        for packet in stream.encode():
            container.mux(packet)
    return n
