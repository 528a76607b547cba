"""One demo video: :class:`DemoVideo` (rendering, observers' gaze, fixation maps) and :func:`make_video`.

Generation is pure and deterministic: :func:`make_video` builds one video from ``(seed, number)``
alone. The fixation maps are *exactly* what :mod:`salprep.datasets.dhf1k_gaze`
(``record_mapping.m``, pairwise points) makes of the observers' records; the continuous maps are
``round(255·saliency_map(fix))`` with the ``dhf1k`` preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from salprep import gt as gtlib
from salprep.datasets import dhf1k_gaze as gz
from salprep.demo.observers import ObserverGaze, simulate_gaze
from salprep.demo.scene import DEFAULT_FRAMES, DEFAULT_SIZE, DemoObject, make_background, make_objects

_GT = gtlib.GT_PRESETS["dhf1k"]


@dataclass
class DemoVideo:
    """One generated video: scene, rendering, observers' gaze and the resulting fixations."""

    number: int
    split: str
    width: int
    height: int
    frames: int
    objects: list[DemoObject]
    background: np.ndarray  # float32 (H + 2m, W + 2m, 3)
    margin: int
    pan: np.ndarray  # float64 (T, 2) background offset (x, y) in px
    gaze: list[ObserverGaze] = field(default_factory=list)
    empty_frame: int | None = None  # 0-based frame deliberately without fixations
    _points: list[np.ndarray] | None = field(default=None, repr=False)
    _dropped: np.ndarray | None = field(default=None, repr=False)

    @property
    def video_id(self) -> str:
        return f"{self.number:03d}"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def observers(self) -> list[int]:
        return [g.observer for g in self.gaze]

    # ---- rendering -----------------------------------------------------------------------
    def _render(self, t: int, want_frame: bool = True, want_labels: bool = False):
        w, h = self.width, self.height
        frame = labels = None
        if want_frame:
            m = np.float32([[1, 0, -(self.margin + self.pan[t, 0])], [0, 1, -(self.margin + self.pan[t, 1])]])
            frame = cv2.warpAffine(self.background, m, (w, h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
        if want_labels:
            labels = np.zeros((h, w), np.uint8)
        for i, o in enumerate(self.objects):
            cx, cy = o.pos[t]
            rad = max(o.ax, o.ay) + 2.0
            x0, x1 = max(int(math.floor(cx - rad)), 0), min(int(math.ceil(cx + rad)) + 1, w)
            y0, y1 = max(int(math.floor(cy - rad)), 0), min(int(math.ceil(cy + rad)) + 1, h)
            if x0 >= x1 or y0 >= y1:
                continue
            dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
            dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
            c, s = np.float32(math.cos(o.angle[t])), np.float32(math.sin(o.angle[t]))
            u = c * dx + s * dy
            v = c * dy - s * dx
            if o.power == 2.0:
                d = np.sqrt((u / o.ax) ** 2 + (v / o.ay) ** 2)
            else:
                d = (np.abs(u / o.ax) ** o.power + np.abs(v / o.ay) ** o.power) ** (1.0 / o.power)
            inside = d <= 1.0
            if labels is not None:
                labels[y0:y1, x0:x1][inside] = i + 1
            if frame is None:
                continue
            alpha = np.clip((1.0 - d) * min(o.ax, o.ay) + 0.5, 0.0, 1.0)[..., None]
            k = o.period
            if o.texture == "checker":
                tex = (np.floor(u / k) + np.floor(v / k)) % 2
            elif o.texture == "stripes":
                tex = np.floor(u / k) % 2
            elif o.texture == "rings":
                tex = np.floor(np.sqrt(u * u + v * v) / k) % 2
            else:
                tex = (((u % k) - k / 2) ** 2 + ((v % k) - k / 2) ** 2 < (k / 3) ** 2).astype(np.float32)
            tex = tex.astype(np.float32)[..., None]
            col = o.colors[0] * tex + o.colors[1] * (1.0 - tex)
            col = col * (1.0 - 0.25 * np.minimum(d, 1.0) ** 2)[..., None]
            patch = frame[y0:y1, x0:x1]
            frame[y0:y1, x0:x1] = patch * (1.0 - alpha) + col * alpha
        if frame is not None:
            frame = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return frame, labels

    def frame(self, t: int) -> np.ndarray:
        """uint8 (H, W, 3) RGB of 0-based frame ``t``."""
        return self._render(t, True, False)[0]

    def iter_frames(self):
        for t in range(self.frames):
            yield self.frame(t)

    def object_labels(self, t: int) -> np.ndarray:
        """uint8 (H, W): 0 = background, i + 1 = object i (objects drawn later win)."""
        return self._render(t, False, True)[1]

    def object_masks(self) -> np.ndarray:
        """bool (T, H, W): pixels covered by any object."""
        return np.stack([self.object_labels(t) > 0 for t in range(self.frames)])

    # ---- fixations -----------------------------------------------------------------------
    def _map(self):
        if self._points is None:
            self._points, self._dropped = gz.map_records([g.record() for g in self.gaze], self.frames, self.shape)
        return self._points, self._dropped

    def fixation_points(self, t: int) -> np.ndarray:
        """float64 (N, 2) 0-based (x, y) fixated pixels of frame ``t`` (DHF1K mapping, pairwise)."""
        return self._map()[0][t].astype(np.float64)

    def fixation_map(self, t: int) -> np.ndarray:
        """bool (H, W) binary fixation map of frame ``t``."""
        return gtlib.fixation_map(self.fixation_points(t), self.shape)

    def saliency_png(self, t: int) -> np.ndarray:
        """uint8 (H, W): round(255 · saliency_map(fixation map, dhf1k preset))."""
        return saliency_to_uint8(self.fixation_map(t))

    @property
    def dropped(self) -> np.ndarray:
        """int64 (T,): fixation samples recorded outside the frame (letterbox), per frame."""
        return self._map()[1]


def saliency_to_uint8(fix: np.ndarray) -> np.ndarray:
    """DHF1K continuous map PNG of a binary map: round(255 · saliency_map), dhf1k preset."""
    smap = gtlib.saliency_map(fix, _GT["sigma"], _GT["truncate"], border=_GT["border"], shift=_GT["shift"])
    return gtlib.round_half_away(255.0 * smap.astype(np.float64)).astype(np.uint8)


def make_video(
    seed: int,
    number: int,
    split: str = "train",
    *,
    frames: int = DEFAULT_FRAMES,
    size: tuple[int, int] = DEFAULT_SIZE,
    empty_frame: int | None = None,
    gaze: bool = True,
) -> DemoVideo:
    """Generate video ``number`` of the demo with ``seed`` (deterministic).

    Args:
        size: (W, H).
        empty_frame: 0-based frame in which no observer fixates (all saccades/blinks).
        gaze: simulate observers (False for test videos: no annotations). The scene does not
            depend on it.
    """
    w, h = int(size[0]), int(size[1])
    ss = np.random.SeedSequence([int(seed) % (1 << 64), int(number), 0x5A1]).spawn(3)
    rng_bg, rng_obj, rng_gaze = (np.random.default_rng(s) for s in ss)
    amp = rng_bg.uniform(0.0, 0.05, 2) * np.array([w, h])
    period = rng_bg.uniform(150, 600, 2)
    phase = rng_bg.uniform(0, 2 * math.pi, 2)
    tt = np.arange(frames)[:, None]
    pan = amp * (np.sin(2 * math.pi * tt / period + phase) - np.sin(phase))
    margin = int(math.ceil(2 * amp.max())) + 2
    background = make_background(rng_bg, w, h, margin)
    objs = make_objects(rng_obj, frames, w, h)
    video = DemoVideo(number, split, w, h, frames, objs, background, margin, pan, empty_frame=empty_frame)
    if gaze:
        video.gaze = simulate_gaze(rng_gaze, video)
    return video
