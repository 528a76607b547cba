"""Frame samplers: which entries a stage computes, and the frames each entry needs, streamed.

A sampler turns a stream of per-frame arrays (decoded video frames, fixation maps, stored flow
fields; any numpy arrays of one shape) into batches of entries. It never holds more frames than
its batches need, so memory does not grow with the video's length:

* :class:`EveryNth` -- entry k = frame k for k = 0, n, 2n, ... (GT: n = 1; depth: n = 10);
* :class:`Pairs` -- entry k = (frame k, frame k+1) for k = 0, n, 2n, ... <= T-2 (flow);
* :class:`SlidingWindows` -- entry t = frames t-L+1 .. t for t = L-1, L-1+s, ... (I3D, L = 79;
  or t = 0, s, 2s, ... with the missing past padded by frame 0), through a ring buffer of
  ``L + (batch-1)*s`` frames: every frame is decoded and preprocessed once however many
  windows share it.

``frame_index(n_frames)`` gives the entries' frame numbers (stored as the shard's
``frame_index``) before any frame is read; ``batches(frames, n_frames, batch_size)`` yields
:class:`Batch` objects in that order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """Entries computed together.

    Attributes:
        index: the entries' frame numbers (len B).
        data: sampler-specific payload -- EveryNth: (B, ...) stacked frames; Pairs: a tuple of
            two (B, ...) stacks (first, second); SlidingWindows: a :class:`WindowChunk`.
    """

    index: list[int]
    data: Any

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class WindowChunk:
    """Consecutive frames holding a batch of windows, without copying frames per window.

    Attributes:
        frames: (F, ...) the frames of the chunk (a copy, safe to keep).
        starts: offset into ``frames`` of each window's first frame (len B).
        length: window length L.
    """

    frames: np.ndarray
    starts: list[int]
    length: int

    def windows(self) -> np.ndarray:
        """(B, L, ...) view of the windows (no copy)."""
        view = np.lib.stride_tricks.sliding_window_view(self.frames, self.length, axis=0)
        view = np.moveaxis(view, -1, 1)  # (F-L+1, L, ...)
        return view[self.starts]


class _Counter:
    """Wraps the frame stream and counts what was consumed (the runner checks the count)."""

    def __init__(self, frames: Iterable[np.ndarray]):
        self._it = iter(frames)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        frame = next(self._it)
        self.count += 1
        return frame


class _Strided:
    """A sampler of every ``n``-th frame (``n`` = 1: every frame)."""

    kind = ""

    def __init__(self, n: int = 1):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n

    def params(self) -> dict:
        return {"sampler": self.kind, "every": self.n}


class EveryNth(_Strided):
    """Entry k = frame k, for every ``n``-th frame (``n`` = 1: every frame)."""

    kind = "every"

    def frame_index(self, n_frames: int) -> np.ndarray:
        return np.arange(0, n_frames, self.n, dtype=np.int32)

    def batches(self, frames: Iterable[np.ndarray], n_frames: int, batch_size: int) -> Iterator[Batch]:
        index, held = [], []
        for k, frame in enumerate(frames):
            if k % self.n:
                continue
            index.append(k)
            held.append(frame)
            if len(held) == batch_size:
                yield Batch(index, np.stack(held))
                index, held = [], []
        if held:
            yield Batch(index, np.stack(held))


class Pairs(_Strided):
    """Entry k = (frame k, frame k+1), for every ``n``-th k up to T-2."""

    kind = "pairs"

    def frame_index(self, n_frames: int) -> np.ndarray:
        return np.arange(0, max(0, n_frames - 1), self.n, dtype=np.int32)

    def batches(self, frames: Iterable[np.ndarray], n_frames: int, batch_size: int) -> Iterator[Batch]:
        index, first, second = [], [], []
        prev = None
        for k, frame in enumerate(frames):
            if prev is not None and (k - 1) % self.n == 0:
                index.append(k - 1)
                first.append(prev)
                second.append(frame)
                if len(index) == batch_size:
                    yield Batch(index, (np.stack(first), np.stack(second)))
                    index, first, second = [], [], []
            prev = frame
        if index:
            yield Batch(index, (np.stack(first), np.stack(second)))


class SlidingWindows:
    """Entry t = the ``length`` frames ending at frame t, for t = L-1, L-1+stride, ... <= T-1.

    A video shorter than ``length`` gets one window (entry T-1): its frames centred in the
    window, padded by repeating the first frame before and the last frame after (logged as a
    warning). Frames before L-1 have no window of their own; consumers reuse entry L-1.

    With ``pad_start=True`` windows end at t = 0, stride, 2*stride, ... <= T-1 instead, and the
    frames a window lacks before frame 0 repeat frame 0 (the window ending at 0 is L copies of
    frame 0): every frame then has a window ending at most stride-1 frames before it, however
    short the video (the short-video centring above does not apply).
    """

    def __init__(self, length: int, stride: int = 1, pad_start: bool = False):
        if length < 1 or stride < 1:
            raise ValueError(f"length and stride must be >= 1, got {length}, {stride}")
        self.length = length
        self.stride = stride
        self.pad_start = bool(pad_start)

    def params(self) -> dict:
        return {"sampler": "windows", "window": self.length, "stride": self.stride, "pad_start": self.pad_start}

    def frame_index(self, n_frames: int) -> np.ndarray:
        if self.pad_start:
            return np.arange(0, n_frames, self.stride, dtype=np.int32)
        if n_frames < self.length:
            return np.asarray([n_frames - 1], dtype=np.int32)
        return np.arange(self.length - 1, n_frames, self.stride, dtype=np.int32)

    def capacity(self, batch_size: int) -> int:
        """Frames the ring buffer holds: the union of one batch of windows (frames between
        windows that are further apart than their length are never kept)."""
        return min(self.length + (batch_size - 1) * self.stride, batch_size * self.length)

    def batches(self, frames: Iterable[np.ndarray], n_frames: int, batch_size: int) -> Iterator[Batch]:
        if self.pad_start:
            # the stream with L-1 copies of frame 0 in front: window ends shift by L-1
            shift = self.length - 1
            ends = [e + shift for e in self.frame_index(n_frames).tolist()]
            for batch in self._ring_batches(_repeat_first(frames, shift), batch_size, ends):
                yield Batch([e - shift for e in batch.index], batch.data)
            return
        if n_frames < self.length:
            yield self._padded(list(frames))
            return
        yield from self._ring_batches(frames, batch_size, self.frame_index(n_frames).tolist())

    def _ring_batches(self, frames: Iterable[np.ndarray], batch_size: int, ends: list[int]) -> Iterator[Batch]:
        """Batches of the windows ending at ``ends`` (each >= L-1) of the stream ``frames``."""
        length = self.length
        ring: np.ndarray | None = None
        numbers: list[int] = []  # video frame number held in each ring slot
        first = 0                # position in ends of the current batch's first window
        for t, frame in enumerate(frames):
            if first == len(ends):
                continue  # past the last window: consumed (and counted), not kept
            current = ends[first: first + batch_size]
            if not any(e - length + 1 <= t <= e for e in current):
                continue  # between windows (stride > length)
            if ring is None:
                ring = np.empty((self.capacity(batch_size), *frame.shape), dtype=frame.dtype)
            ring[len(numbers)] = frame
            numbers.append(t)
            if t != current[-1]:
                continue
            starts = [numbers.index(e - length + 1) for e in current]
            chunk = ring[starts[0]: len(numbers)].copy()
            yield Batch(list(current), WindowChunk(chunk, [s - starts[0] for s in starts], length))
            first += len(current)
            # keep what the next batch's first window needs
            keep = len(numbers)
            if first < len(ends):
                keep = next((i for i, n in enumerate(numbers) if n >= ends[first] - length + 1), len(numbers))
            ring[: len(numbers) - keep] = ring[keep: len(numbers)]
            numbers = numbers[keep:]

    def _padded(self, held: list[np.ndarray]) -> Batch:
        n = len(held)
        if n == 0:
            raise ValueError("no frames")
        front = (self.length - n) // 2
        back = self.length - n - front
        log.warning("video has %d frames, fewer than the %d-frame window: padded by repeating the first "
                    "frame %d times and the last %d times", n, self.length, front, back)
        frames = np.stack([held[0]] * front + held + [held[-1]] * back)
        return Batch([n - 1], WindowChunk(frames, [0], self.length))


def _repeat_first(frames: Iterable[np.ndarray], extra: int) -> Iterator[np.ndarray]:
    """The stream with its first frame repeated ``extra`` more times in front."""
    it = iter(frames)
    for first in it:
        for _ in range(extra + 1):
            yield first
        break
    yield from it


def counted(frames: Iterable[np.ndarray]) -> _Counter:
    """The frame stream, counting consumed frames in ``.count``."""
    return _Counter(frames)


def rgb_to_tensor(frames: np.ndarray, device):
    """A batch of sampled RGB frames for a network: (B, H, W, 3) uint8 -> (B, 3, H, W) float32 in
    [0, 1] on ``device`` (SpyNet and monodepth2 stages; numpy and torch only)."""
    import torch

    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float().div_(255)
