"""Video decoding and encoding with PyAV, streaming (frames are never all held in memory).

Frames are RGB ``uint8`` arrays of shape (H, W, 3) unless stated otherwise. Frame indices are
0-based inside salprep.

Rotation metadata (decision: applied). A phone video is usually stored sideways with a display
matrix (MP4/MOV ``tkhd`` matrix, Matroska projection; ffprobe prints "displaymatrix: rotation of
-90.00 degrees") telling players to turn it. salprep decodes every frame in *display*
orientation, as FFmpeg players and ``ffmpeg`` itself (autorotate) show it: frames, sizes
(:class:`VideoInfo` ``width`` x ``height``) and every stage's output are those of the displayed
video, so annotations drawn on what a player shows match, and a size mismatch with annotations
names the rotation. PyAV 18.1 (pinned) hands FFmpeg's ``DISPLAYMATRIX`` side data to every
decoded frame; it is read from there (:func:`frame_orientation`), applied exactly as FFmpeg's
autorotate does (multiples of 90 degrees, with the mirrorings a matrix can add), and for a
resized decode the frame is scaled to the transposed size first, so the result has the size
asked for. Refused with one line naming it: a matrix that is not a multiple of 90 degrees (or
scales), a matrix that changes within the video, and a ``rotate`` tag without a display matrix
(a Matroska ``ROTATE`` tag from old FFmpeg remuxes: FFmpeg 8 players ignore it while older
tools turned the picture, so which orientation the annotations saw cannot be known). AVI has
no rotation metadata. Frame images (:mod:`salprep.image_frames`) are read as stored.
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
from salprep.image_frames import is_image_source, iter_image_frames, probe_images
from salprep.orientation import IDENTITY as _IDENTITY
from salprep.orientation import Orientation, frame_orientation


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
    #: the display matrix applied to every frame (:class:`Orientation`); width x height are the
    #: displayed size, ``orientation.stored_size(width, height)`` the size stored in the file
    orientation: Orientation | None = None

    @property
    def rotation(self) -> int:
        """Degrees counter-clockwise of the applied display matrix, as ffprobe prints them
        (-90: the stored picture is turned 90 degrees clockwise for display); 0 when none."""
        return self.orientation.degrees if self.orientation else 0

    def size_note(self) -> str:
        """What to append to "the video is WxH" in a size message: empty for a video without
        rotation metadata, else which rotation was applied and the stored size."""
        if not self.orientation:
            return ""
        return self.orientation.note(self.width, self.height)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "codec": self.codec,
            "declared_frames": self.declared_frames,
            "rotation": self.rotation,
            "orientation": (self.orientation or _IDENTITY).describe(),
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
        path: any container PyAV reads (AVI, MP4, MKV, ...), or a folder of frame images or
            one image (:mod:`salprep.image_frames`; resized bilinearly by PIL).
        size: optional (width, height) to rescale to (bilinear, via libswscale).
        gray: return (H, W) uint8 luma instead of (H, W, 3) uint8 RGB.

    Yields:
        uint8 arrays, (H, W, 3) RGB in 0-255, or (H, W) gray, in display orientation: a frame
        with rotation metadata is turned as players show it (module docstring); ``size`` is
        the displayed size.

    Raises:
        SalprepError: the file is missing, not a video, or a packet cannot be decoded
        (corrupt or truncated data); rotation metadata salprep does not apply.
    """
    if is_image_source(path):
        yield from iter_image_frames(path, size=size, gray=gray)
        return
    container = _open(path)
    fmt = "gray" if gray else "rgb24"
    width, height = (None, None) if size is None else size
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            turn = frame_orientation(frame, stream, path)
            if not turn:
                yield frame.to_ndarray(format=fmt, width=width, height=height)
            elif turn.transpose:  # scale to the stored-orientation size, then turn
                yield turn.apply(frame.to_ndarray(format=fmt, width=height, height=width))
            else:
                yield turn.apply(frame.to_ndarray(format=fmt, width=width, height=height))
    except av.FFmpegError as exc:
        raise SalprepError(f"cannot decode video data ({_reason(exc)})", path) from None
    finally:
        container.close()


#: How far the decoded part may fall short of the duration a container declares before the
#: video is called truncated (only for containers that declare no frame count: MKV/WebM, FLV).
#: Complete MKV/WebM/FLV files written by FFmpeg 8 (PyAV 18) at 5-60 fps, 1-30 frames, match to
#: the millisecond (Matroska stores times in 1 ms units, so a frame's end is rounded by < 1 ms).
#: Files from other muxers may be looser: a frame period taken from the frame rate rather than
#: the stored block duration, a decoder that drops a leading or trailing frame (B-frame delay,
#: an open GOP). Two frame periods absorb those; 2 % of the duration absorbs coarser declared
#: durations of long or variable-frame-rate files. A cut file (interrupted copy or download)
#: loses far more than that; losing only the last two frames, or under 2 %, goes unnoticed.
SHORT_FRAMES = 2
SHORT_FRACTION = 0.02


def _hms_seconds(text: str) -> float | None:
    """``"HH:MM:SS.nnnnnnnnn"`` (a Matroska DURATION tag) -> seconds; None if it is not that."""
    try:
        h, m, sec = str(text).strip().split(":")
        value = int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None
    return value if value > 0 else None


def _declared_duration(container, stream) -> tuple[float, bool] | None:
    """(seconds, measured_from_zero_maybe) the container declares for ``stream``, or None.

    In order: the track's own Matroska/WebM ``DURATION`` tag (``DURATION-eng`` from mkvmerge),
    which FFmpeg reserves in the file header and fills in at the end, so a cut file keeps it;
    the stream's duration; the container's duration (``AV_TIME_BASE`` units), only when the
    video is its only audio/video/subtitle stream, since it spans every stream and an audio
    track may well be longer than the picture. The flag is True for the tag and the container
    duration: FFmpeg's Matroska code writes and reads them as the *end* timestamp (a file that
    starts at 1 s and lasts 1.2 s declares 2.2 s) while MPEG-TS/PS report a span, so the caller
    accepts either reading. None when nothing is declared (raw streams, a Matroska file written
    to a pipe).
    """
    for key, value in stream.metadata.items():
        name = key.upper()
        if name == "DURATION" or name.startswith("DURATION-"):
            seconds = _hms_seconds(value)
            if seconds is not None:
                return seconds, True
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), False
    others = [s for s in container.streams if s is not stream and s.type in ("video", "audio", "subtitle")]
    if container.duration and container.duration > 0 and not others:
        return container.duration / av.time_base, True
    return None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Decode the whole video (without converting pixels) and report its facts.

    A video is called truncated when it decodes to fewer frames than the container declares
    or, for containers that declare no frame count (Matroska/WebM, FLV, NUT, MPEG-TS/PS, ...),
    when the decoded frames (first frame's start to last frame's end) fall short of the
    duration the container declares by more than ``max(SHORT_FRAMES frame periods,
    SHORT_FRACTION of the duration)``. A file that declares neither a frame count nor a
    duration (a raw H.264/MJPEG stream, a Matroska file written to a pipe) is accepted as
    decoded. MPEG-TS/PS and NUT declare no duration of their own (FFmpeg estimates it from the
    last timestamps in the file), so a cut file of those kinds still passes.

    A folder of frame images or one image (:mod:`salprep.image_frames`) is probed from its
    image headers: frames = images, fps 0 (unknown: the dataset states it).

    ``width`` x ``height`` are the displayed size: with rotation metadata (module docstring)
    the stored one turned; ``orientation`` says how.

    Raises:
        SalprepError: unreadable video, no frames, fewer frames decoded than the container
        declares, or a decoded duration shorter than the declared one (truncated file);
        rotation metadata salprep does not apply, or that changes within the video.
    """
    if is_image_source(path):
        n, width, height, codec = probe_images(path)
        return VideoInfo(str(path), n, width, height, 0.0, codec, n)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        declared = int(stream.frames or 0)
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        n = 0
        width = height = 0
        first_pts = last_pts = None  # seconds; smallest and largest presentation time decoded
        last_len = 0.0  # duration of the frame at last_pts, seconds (0 when the container omits it)
        turn = _IDENTITY
        for frame in container.decode(stream):
            if n == 0:
                turn = frame_orientation(frame, stream, path)
                width, height = (frame.height, frame.width) if turn.transpose else (frame.width, frame.height)
            elif (other := frame_orientation(frame, stream, path)) != turn:
                raise SalprepError(f"rotation metadata changes within the video (frame {n} is {other.describe()}, "
                                   f"frame 0 {turn.describe()}): re-encode it upright", path)
            n += 1
            tb = frame.time_base or stream.time_base
            if frame.pts is not None and tb:
                t = float(frame.pts * tb)
                first_pts = t if first_pts is None else min(first_pts, t)
                if last_pts is None or t >= last_pts:
                    last_pts = t
                    last_len = float(frame.duration * tb) if frame.duration else 0.0
        codec = ctx.name
        duration = None if declared else _declared_duration(container, stream)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else first_pts
    except av.FFmpegError as exc:
        raise SalprepError(f"cannot decode video data ({_reason(exc)})", path) from None
    finally:
        container.close()
    if n == 0:
        raise SalprepError("no frame could be decoded (empty or corrupt video)", path)
    if declared and n < declared:
        raise SalprepError(f"truncated video: decoded {n} of {declared} declared frames", path)
    if duration is not None:
        period = last_len or (1.0 / fps if fps > 0 else 0.0)
        if last_pts is not None:
            decoded = last_pts + period - (start if start is not None else first_pts)
        else:  # no timestamps at all: count frames
            decoded = n * period
        seconds, maybe_end = duration
        # read as an end timestamp, the declared duration includes the start offset
        expected = seconds - max(start or 0.0, 0.0) if maybe_end else seconds
        if expected - decoded > max(SHORT_FRAMES * period, SHORT_FRACTION * expected):
            raise SalprepError(f"truncated video: decoded {n} frames = {decoded:.2f} s of the {expected:.2f} s "
                               "the container declares", path)
    return VideoInfo(str(path), n, width, height, fps, codec, declared, turn if turn else None)


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
