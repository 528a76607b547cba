"""A synthetic, learnable eye-tracking video dataset in the exact DHF1K layout (DATASETS.md §8).

Generation is pure and deterministic: :func:`make_video` builds one :class:`DemoVideo` from
``(seed, number)`` alone. A video is a textured, slowly panning background (smoothed multi-scale
noise plus low-contrast static structure) with 2–4 moving, textured, brightly coloured objects
(smooth curved trajectories with bounces and varying speeds; some leave and re-enter the frame).
12–17 simulated observers watch it (gaze sampled at 60 Hz, i.e. two samples per frame): each
follows a target with smooth pursuit for a while, then saccades to the next one. Targets are
mostly the visible objects, weighted towards the fastest; the rest are points near the centre
(centre bias, and the fixation cross at the start) or elsewhere (exploration). So a model that
looks at motion and appearance beats the centre-bias baseline, which still beats chance.

The gaze is written as DHF1K raw records (1440x900 screen, video scaled to the screen width and
letterboxed, events Fixation/Saccade/Blink, some fixations in the letterbox), and the fixation
maps are *exactly* what :mod:`salprep.datasets.dhf1k_gaze` (``record_mapping.m``, pairwise
points) makes of those records; the continuous maps are ``round(255·saliency_map(fix))`` with the
``dhf1k`` preset. Every frame has at least one fixation, except one designated empty frame in
the first validation video (for the NaN paths of metrics).

:func:`write_demo` writes a whole dataset; nothing is ever visible under its final name before
it is complete (videos and gaze files: temporary name + rename; each annotation folder is built
under a hidden name and renamed; ``demo.json`` is written last).
"""

from __future__ import annotations

import colorsys
import io
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from PIL import Image
from salprep.progress import progress as _progress

from salprep import __version__
from salprep import gt as gtlib
from salprep.datasets import dhf1k_gaze as gz
from salprep.errors import SalprepError
from salprep.video import write_video

FPS = 30
DEFAULT_SIZE = (640, 360)  # (W, H)
DEFAULT_FRAMES = 120
SAMPLES_PER_FRAME = 2  # 60 Hz gaze
N_PARTICIPANTS = 17  # observers P001..P017; each video is watched by 12-17 of them
SPLIT_FIRST = {"train": 1, "val": 601, "test": 701}
SPLIT_MAX = {"train": 600, "val": 100, "test": 300}
MANIFEST = "demo.json"
MARKER = ".salprep-demo"  # marks a folder as written by demo-data (safe to overwrite)
EVENT_NAMES = {"F": "Fixation", "S": "Saccade", "B": "Blink", "M": "Message"}

_GT = gtlib.GT_PRESETS["dhf1k"]


# ============================================================================================
# scene
# ============================================================================================
@dataclass
class DemoObject:
    """One moving object; ``pos``/``vel`` are per frame, 0-based pixel coordinates."""

    pos: np.ndarray  # float64 (T, 2) centre (x, y)
    vel: np.ndarray  # float64 (T, 2) px/frame
    angle: np.ndarray  # float64 (T,) rotation in radians
    ax: float  # semi-axes in px
    ay: float
    power: float  # 2 = ellipse, 4 = rounded rectangle
    texture: str  # checker | stripes | rings | dots
    period: float  # texture period in px
    colors: tuple[np.ndarray, np.ndarray]  # two RGB colours in [0, 1]
    wanderer: bool  # may leave the frame

    @property
    def speed(self) -> np.ndarray:
        return np.hypot(self.vel[:, 0], self.vel[:, 1])

    def visible(self, w: int, h: int) -> np.ndarray:
        """bool (T,): the centre is well inside the frame (an observer can look at it)."""
        r = 0.3 * min(self.ax, self.ay)
        x, y = self.pos[:, 0], self.pos[:, 1]
        return (x >= r) & (x <= w - 1 - r) & (y >= r) & (y <= h - 1 - r)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def _background(rng: np.random.Generator, w: int, h: int, margin: int) -> np.ndarray:
    """float32 (h + 2m, w + 2m, 3) RGB in [0, 1]: multi-scale noise + low-contrast structure."""
    bh, bw = h + 2 * margin, w + 2 * margin
    lum = np.zeros((bh, bw), np.float32)
    chroma = np.zeros((bh, bw, 2), np.float32)
    for octave in range(6):
        gw = 3 * 2**octave
        gh = max(2, int(math.ceil(gw * bh / bw)))
        amp = 0.62**octave
        grid = rng.standard_normal((gh + 1, gw + 1, 3)).astype(np.float32)
        up = cv2.resize(grid, (bw, bh), interpolation=cv2.INTER_CUBIC)
        lum += amp * up[..., 0]
        chroma += 0.5 * amp * up[..., 1:]
    lum /= lum.std() + 1e-6
    chroma /= chroma.std() + 1e-6
    base = _hsv(rng.random(), rng.uniform(0.1, 0.35), rng.uniform(0.38, 0.55))
    tint = _hsv(rng.random(), rng.uniform(0.2, 0.5), 1.0)
    img = base[None, None, :] + 0.075 * lum[..., None] * tint[None, None, :]
    img[..., 0] += 0.025 * chroma[..., 0]
    img[..., 2] += 0.025 * chroma[..., 1]
    # low-contrast static structure: a soft horizon and a few soft-edged slabs
    yy = np.linspace(-1.0, 1.0, bh, dtype=np.float32)[:, None, None]
    img += rng.uniform(-0.06, 0.06) * np.tanh(3.0 * (yy - rng.uniform(-0.3, 0.3)))
    xx = np.arange(bw, dtype=np.float32)[None, :]
    yv = np.arange(bh, dtype=np.float32)[:, None]
    soft = max(2.0, 0.01 * w)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, bw), rng.uniform(0, bh)
        hw, hh = rng.uniform(0.04, 0.18) * w, rng.uniform(0.05, 0.3) * h
        box = (0.5 - 0.5 * np.tanh((np.abs(xx - cx) - hw) / (2 * soft))) * (0.5 - 0.5 * np.tanh((np.abs(yv - cy) - hh) / (2 * soft)))
        img += (rng.uniform(-0.07, 0.07) * _hsv(rng.random(), 0.3, 1.0))[None, None, :] * box[..., None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _trajectory(rng, frames: int, w: int, h: int, r: float, scale: float, wanderer: bool):
    speed0 = math.exp(rng.uniform(math.log(0.7), math.log(7.0))) * scale
    mod_amp = rng.uniform(0.0, 0.55)
    mod_period = rng.uniform(40, 160)
    mod_phase = rng.uniform(0, 2 * math.pi)
    turn = rng.uniform(-0.025, 0.025)
    if wanderer:
        lo_x, hi_x, lo_y, hi_y = -2.5 * r, w - 1 + 2.5 * r, -2.5 * r, h - 1 + 2.5 * r
    else:
        inset = r + 0.03 * w
        lo_x, hi_x, lo_y, hi_y = inset, w - 1 - inset, inset, h - 1 - inset
        if lo_x >= hi_x:
            lo_x = hi_x = (w - 1) / 2
        if lo_y >= hi_y:
            lo_y = hi_y = (h - 1) / 2
    if wanderer and rng.random() < 0.6:  # enters from outside, heading inwards
        side = int(rng.integers(4))
        x = [lo_x, hi_x, rng.uniform(0, w - 1), rng.uniform(0, w - 1)][side]
        y = [rng.uniform(0, h - 1), rng.uniform(0, h - 1), lo_y, hi_y][side]
        ang = math.atan2((h - 1) / 2 - y, (w - 1) / 2 - x) + rng.uniform(-0.6, 0.6)
    else:
        x, y = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
        ang = rng.uniform(0, 2 * math.pi)
    pos = np.empty((frames, 2))
    vel = np.empty((frames, 2))
    for t in range(frames):
        sp = speed0 * (1.0 + mod_amp * math.sin(2 * math.pi * t / mod_period + mod_phase))
        vx, vy = sp * math.cos(ang), sp * math.sin(ang)
        pos[t] = (x, y)
        vel[t] = (vx, vy)
        x, y = x + vx, y + vy
        if x < lo_x or x > hi_x:
            x = 2 * lo_x - x if x < lo_x else 2 * hi_x - x
            x = min(max(x, lo_x), hi_x)
            ang = math.pi - ang
        if y < lo_y or y > hi_y:
            y = 2 * lo_y - y if y < lo_y else 2 * hi_y - y
            y = min(max(y, lo_y), hi_y)
            ang = -ang
        ang += turn + rng.normal(0, 0.01)
    return pos, vel


def _objects(rng: np.random.Generator, frames: int, w: int, h: int) -> list[DemoObject]:
    scale = w / 640.0
    n = int(rng.integers(2, 5))
    hue0 = rng.random()
    objs = []
    for i in range(n):
        ax = rng.uniform(0.04, 0.075) * w
        ay = ax * rng.uniform(0.6, 1.0)
        if rng.random() < 0.5:
            ax, ay = ay, ax
        wanderer = i >= 2 and rng.random() < 0.6
        pos, vel = _trajectory(rng, frames, w, h, max(ax, ay), scale, wanderer)
        angle = rng.uniform(0, 2 * math.pi) + rng.uniform(-0.05, 0.05) * np.arange(frames)
        hue = hue0 + i / n + rng.uniform(-0.05, 0.05)
        c1 = _hsv(hue, rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.0))
        second = rng.random()
        if second < 0.4:
            c2 = _hsv(hue, 0.9, rng.uniform(0.08, 0.2))  # dark
        elif second < 0.7:
            c2 = _hsv(hue, 0.05, 1.0)  # near white
        else:
            c2 = _hsv(hue + 0.5, 0.9, 0.9)  # complementary
        objs.append(
            DemoObject(
                pos=pos, vel=vel, angle=angle, ax=float(ax), ay=float(ay),
                power=float(rng.choice([2.0, 2.0, 4.0])),
                texture=str(rng.choice(["checker", "stripes", "rings", "dots"])),
                period=float(max(2.0, rng.uniform(4.0, 11.0) * scale)),
                colors=(c1, c2), wanderer=wanderer,
            )
        )
    return objs


# ============================================================================================
# gaze simulation
# ============================================================================================
@dataclass
class ObserverGaze:
    """One observer's raw gaze rows (the first row is the video-onset message)."""

    observer: int  # participant number (P%03d)
    time_us: np.ndarray  # int64 (N,)
    x_screen: np.ndarray  # float64 (N,), exactly the values written with 2 decimals
    y_screen: np.ndarray  # float64 (N,)
    event: np.ndarray  # '<U1' (N,): F, S, B, M
    frame: np.ndarray  # int64 (N,): 0-based frame of the sample, -1 for the onset row
    x: np.ndarray  # float64 (N,): simulated gaze in 0-based video pixels (NaN: blink, onset)
    y: np.ndarray

    def record(self) -> gz.GazeRecord:
        return gz.GazeRecord(self.time_us.astype(np.float64), self.x_screen, self.y_screen,
                             [str(e) for e in self.event])

    def text(self) -> str:
        """The file content: header line + ``time_us x_screen y_screen event`` rows (tabs)."""
        rows = [gz.HEADER]
        for t, xs, ys, e in zip(self.time_us.tolist(), self.x_screen.tolist(), self.y_screen.tolist(),
                                self.event.tolist()):
            rows.append(f"{t}\t{xs:.2f}\t{ys:.2f}\t{EVENT_NAMES[e]}")
        return "\n".join(rows) + "\n"


def _two_decimals(values: np.ndarray) -> np.ndarray:
    """The doubles a reader gets back from ``'%.2f'`` text."""
    return np.char.mod("%.2f", np.asarray(values, dtype=np.float64)).astype(np.float64)


def _simulate_observer(rng, objs, visible, speed_ref, frames, w, h, empty_frame):
    """Per frame: two (x, y, event) samples in 0-based video coordinates."""
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    scale = w / 640.0
    xs = np.full((frames, SAMPLES_PER_FRAME), np.nan)
    ys = np.full((frames, SAMPLES_PER_FRAME), np.nan)
    ev = np.full((frames, SAMPLES_PER_FRAME), "F", dtype="<U1")
    # start on the fixation cross
    gx, gy = cx + rng.normal(0, 0.015 * w), cy + rng.normal(0, 0.015 * h)
    mode, target, px, py = "point", -1, gx, gy
    ox = oy = 0.0
    dwell = int(rng.integers(3, 12))
    lag = rng.uniform(0.1, 0.4)
    noise = 0.8 * scale
    for t in range(frames):
        saccade_from = None
        if dwell <= 0 or (mode == "object" and not visible[target, t]):
            cands = np.nonzero(visible[:, t])[0]
            wts = [1.6 * (0.35 + objs[j].speed[t] / speed_ref) ** 2 for j in cands]
            choices = [("object", int(j)) for j in cands] + [("centre", -1), ("explore", -1)]
            wts = np.array(wts + [1.0, 0.6], dtype=np.float64)
            kind, j = choices[int(rng.choice(len(choices), p=wts / wts.sum()))]
            saccade_from = (gx, gy)
            if kind == "object":
                mode, target = "object", j
                rr = 0.4 * min(objs[j].ax, objs[j].ay) * math.sqrt(rng.random())
                phi = rng.uniform(0, 2 * math.pi)
                ox, oy = rr * math.cos(phi), rr * math.sin(phi)
                dwell = int(10 + rng.gamma(2.0, 9.0))
            else:
                mode, target = "point", -1
                sd = (0.06, 0.07) if kind == "centre" else (0.22, 0.22)
                px = float(np.clip(cx + rng.normal(0, sd[0] * w), 0.04 * w, 0.96 * w))
                py = float(np.clip(cy + rng.normal(0, sd[1] * h), 0.04 * h, 0.96 * h))
                dwell = int(6 + rng.gamma(2.0, 5.0))
        if mode == "object":
            o = objs[target]
            vx, vy = o.vel[t]
            tx, ty = o.pos[t, 0] + ox - lag * vx, o.pos[t, 1] + oy - lag * vy
        else:
            vx = vy = 0.0
            tx, ty = px, py
        gx, gy = tx + rng.normal(0, noise), ty + rng.normal(0, noise)
        fracs = (np.arange(SAMPLES_PER_FRAME) + 0.5) / SAMPLES_PER_FRAME - 0.5
        xs[t] = gx + vx * fracs + rng.normal(0, 0.5 * scale, SAMPLES_PER_FRAME)
        ys[t] = gy + vy * fracs + rng.normal(0, 0.5 * scale, SAMPLES_PER_FRAME)
        if saccade_from is not None and t > 0:
            # the saccade takes the first sample, or the whole frame when it is long
            dist = math.hypot(gx - saccade_from[0], gy - saccade_from[1])
            if dist > 0.06 * w:
                n_sacc = SAMPLES_PER_FRAME if dist > 0.3 * w else 1
                for s in range(n_sacc):
                    f = (s + 1) / (n_sacc + 1)
                    xs[t, s] = saccade_from[0] + f * (gx - saccade_from[0])
                    ys[t, s] = saccade_from[1] + f * (gy - saccade_from[1])
                    ev[t, s] = "S"
        u = rng.random()
        if u < 0.008:  # blink
            ev[t] = "B"
            xs[t] = ys[t] = np.nan
        elif u < 0.014:  # a glance into the letterbox (or just off the frame): recorded, dropped
            ev[t] = "L"
        if t == empty_frame:
            ev[t] = np.where(ev[t] == "B", "B", "S")
        dwell -= 1
    return xs, ys, ev


def _to_screen(rng, xs, ys, ev, w, h):
    """Screen coordinates (2 decimals) of the samples; 'L' samples become letterbox fixations."""
    a, b = gz.screen_mapping((h, w))
    sw, sh = gz.SCREEN_SIZE
    x_s = (xs + 1.0) / a  # 1-based pixel x1 <- a * xs
    y_s = (ys + 1.0) / a + b
    lb = ev == "L"
    n = int(lb.sum())
    if n:
        if b >= 4:  # into the black bars above or below the video
            top = rng.random(n) < 0.5
            y_s[lb] = np.where(top, rng.uniform(1, b - 1, n), rng.uniform(sh - b + 1, sh - 1, n))
            x_s[lb] = rng.uniform(0.05 * sw, 0.95 * sw, n)
        else:  # no bars: onto the last column, which record_mapping.m drops (0 < x < W)
            x_s[lb] = (w - 0.25) / a
        ev = np.where(lb, "F", ev)
    blink = ev == "B"
    x_s[blink] = 0.0
    y_s[blink] = 0.0
    return _two_decimals(x_s), _two_decimals(y_s), ev


def _sample_times(rng, t0: int, frames: int) -> np.ndarray:
    """int64 (frames, S) µs: each sample strictly inside its frame interval (k < 30 t < k + 1)."""
    base = np.arange(frames)[:, None] + (np.arange(SAMPLES_PER_FRAME)[None, :] + 0.5) / SAMPLES_PER_FRAME
    jitter = rng.uniform(-0.1, 0.1, base.shape) / SAMPLES_PER_FRAME
    return t0 + np.round((base + jitter) * 1e6 / FPS).astype(np.int64)


# ============================================================================================
# one video
# ============================================================================================
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
    background = _background(rng_bg, w, h, margin)
    objs = _objects(rng_obj, frames, w, h)
    video = DemoVideo(number, split, w, h, frames, objs, background, margin, pan, empty_frame=empty_frame)
    if gaze:
        video.gaze = _simulate_gaze(rng_gaze, video)
    return video


def _simulate_gaze(rng, video: DemoVideo) -> list[ObserverGaze]:
    w, h, frames = video.width, video.height, video.frames
    objs = video.objects
    visible = np.stack([o.visible(w, h) for o in objs])
    speed_ref = max(float(np.mean([o.speed.mean() for o in objs])), 1e-3)
    n_obs = int(rng.integers(12, N_PARTICIPANTS + 1))
    ids = sorted(int(i) + 1 for i in rng.choice(N_PARTICIPANTS, n_obs, replace=False))
    t0s = rng.integers(10**9, 4 * 10**9, n_obs)
    # at least one recorded fixation outside the frame per video (exercises the drop path)
    forced_obs = int(rng.integers(n_obs))
    forced_frame = int(rng.integers(frames))
    if forced_frame == video.empty_frame:
        forced_frame = (forced_frame + 1) % frames
    sims = []
    for k, obs in enumerate(ids):
        xs, ys, ev = _simulate_observer(rng, objs, visible, speed_ref, frames, w, h, video.empty_frame)
        if k == forced_obs:
            ev[forced_frame, 0] = "L"
        x_s, y_s, ev = _to_screen(rng, xs, ys, ev, w, h)
        times = _sample_times(rng, int(t0s[k]), frames)
        sims.append([obs, int(t0s[k]), times, x_s, y_s, ev, xs, ys])
    # every frame but the designated one needs >= 1 in-frame fixation: promote the sample nearest
    # to the centre of the first observer who has one there
    out = [_observer_gaze(*s) for s in sims]
    points, _ = gz.map_records([g.record() for g in out], frames, (h, w))
    for t in range(frames):
        if t == video.empty_frame or len(points[t]):
            continue
        s = sims[t % len(sims)]
        xs = np.clip(np.nan_to_num(s[6][t], nan=w / 2), 1, w - 2)
        ys = np.clip(np.nan_to_num(s[7][t], nan=h / 2), 1, h - 2)
        s[6][t], s[7][t] = xs, ys
        a, b = gz.screen_mapping((h, w))
        s[3][t] = _two_decimals((np.round(xs) + 1.0) / a)
        s[4][t] = _two_decimals((np.round(ys) + 1.0) / a + b)
        s[5][t] = "F"
    return [_observer_gaze(*s) for s in sims]


def _observer_gaze(obs, t0, times, x_s, y_s, ev, xs, ys) -> ObserverGaze:
    """Rows: the video-onset message at ``t0`` (t = 0 belongs to no frame), then the samples."""
    frames = times.shape[0]
    a = np.concatenate
    return ObserverGaze(
        observer=obs,
        time_us=a([[t0], times.ravel()]).astype(np.int64),
        x_screen=a([[0.0], x_s.ravel()]),
        y_screen=a([[0.0], y_s.ravel()]),
        event=a([np.array(["M"]), ev.ravel()]),
        frame=a([[-1], np.repeat(np.arange(frames), SAMPLES_PER_FRAME)]).astype(np.int64),
        x=a([[np.nan], xs.ravel()]),
        y=a([[np.nan], ys.ravel()]),
    )


# ============================================================================================
# the whole dataset
# ============================================================================================
@dataclass(frozen=True)
class DemoSpec:
    """What :func:`write_demo` builds."""

    seed: int = 0
    train: int = 4
    val: int = 2
    test: int = 1
    frames: int = DEFAULT_FRAMES
    size: tuple[int, int] = DEFAULT_SIZE  # (W, H)
    gaze: bool = True

    def check(self) -> None:
        for split in ("train", "val", "test"):
            n = getattr(self, split)
            if not 0 <= n <= SPLIT_MAX[split]:
                raise SalprepError(f"--{split} must be between 0 and {SPLIT_MAX[split]}, got {n}")
        if self.train + self.val + self.test == 0:
            raise SalprepError("nothing to generate: --train, --val and --test are all 0")
        if self.frames < 2:
            raise SalprepError(f"--frames must be at least 2, got {self.frames}")
        w, h = self.size
        if w < 32 or h < 18 or w % 2 or h % 2:
            raise SalprepError(f"--size {w}x{h}: width and height must be even and at least 32x18")
        if w * gz.SCREEN_SIZE[1] < h * gz.SCREEN_SIZE[0]:
            raise SalprepError(f"--size {w}x{h}: width/height must be at least 1.6 (the video is "
                               "letterboxed on a 1440x900 screen, as in DHF1K)")

    def videos(self) -> list[tuple[int, str]]:
        """(number, split) of every video: train 1.., val 601.., test 701.."""
        return [(SPLIT_FIRST[s] + i, s) for s in ("train", "val", "test") for i in range(getattr(self, s))]

    @property
    def empty_frame(self) -> tuple[int, int] | None:
        """(video number, 0-based frame) of the one frame without fixations: first val video."""
        if self.val == 0:
            return None
        return SPLIT_FIRST["val"], self.frames // 2

    def make(self, number: int, split: str) -> DemoVideo:
        empty = self.empty_frame
        return make_video(
            self.seed, number, split, frames=self.frames, size=self.size,
            empty_frame=empty[1] if empty and empty[0] == number else None,
            gaze=split != "test",
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"640x360"`` -> (640, 360)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m:
        raise SalprepError(f"--size must look like 640x360, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _write_png(path: Path, arr: np.ndarray) -> None:
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(path, format="PNG")


def _write_mat(path: Path, fix: np.ndarray) -> None:
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"I": fix.astype(np.uint8)}, format="5", do_compression=True)
    path.write_bytes(buf.getvalue())


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_annotation(video: DemoVideo, folder: Path) -> dict:
    """``folder/{maps,fixation,fixation/maps}/NNNN.png|.mat``, built under a hidden name first."""
    folder = Path(folder)
    stage = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    if stage.exists():
        shutil.rmtree(stage)
    try:
        (stage / "maps").mkdir(parents=True)
        (stage / "fixation" / "maps").mkdir(parents=True)
        n_points = empty = 0
        for t in range(video.frames):
            name = f"{t + 1:04d}"
            fix = video.fixation_map(t)
            n_points += int(fix.sum())
            empty += not fix.any()
            _write_png(stage / "fixation" / f"{name}.png", fix.astype(np.uint8) * 255)
            _write_png(stage / "maps" / f"{name}.png", saliency_to_uint8(fix))
            _write_mat(stage / "fixation" / "maps" / f"{name}.mat", fix)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(stage, folder)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    return {"fixated_pixels": n_points, "empty_frames": empty}


def write_gaze(video: DemoVideo, gaze_dir: Path) -> list[Path]:
    """``gaze_dir/P%03d/P%03d_Trail%04d.txt`` of every observer of ``video``."""
    paths = []
    for g in video.gaze:
        path = gz.gaze_file(gaze_dir, g.observer, video.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(path, g.text())
        paths.append(path)
    return paths


_VIDEO_FILE = re.compile(r"^(\d+)\.avi$", re.IGNORECASE)
_ANN_DIR = re.compile(r"^\d{4}$")
_TRAIL = re.compile(r"^P(\d+)_Trail(\d+)\.txt$")
_LEFTOVER = re.compile(r"^\..*(\.partial-\d+|\.tmp(\.\w+)?)$")


def _clean_stale(out: Path, keep_videos: set[int], keep_gaze: set[tuple[int, int]]) -> None:
    """In a demo folder, remove what an earlier run left that the new dataset does not have."""
    video_dir, ann_dir, gaze_dir = out / "video", out / "annotation", out / gz.GAZE_DIR
    for p in out.iterdir():
        if _LEFTOVER.match(p.name) and p.is_file():
            p.unlink()
    if video_dir.is_dir():
        for p in video_dir.iterdir():
            m = _VIDEO_FILE.match(p.name)
            if (m and int(m.group(1)) not in keep_videos and p.is_file()) or (_LEFTOVER.match(p.name) and p.is_file()):
                p.unlink()
    if ann_dir.is_dir():
        for p in ann_dir.iterdir():
            if p.is_dir() and ((_ANN_DIR.match(p.name) and int(p.name) not in keep_videos) or _LEFTOVER.match(p.name)):
                shutil.rmtree(p)
    if gaze_dir.is_dir():
        for pdir in gaze_dir.iterdir():
            if not pdir.is_dir():
                continue
            for p in pdir.iterdir():
                m = _TRAIL.match(p.name)
                if (m and (int(m.group(1)), int(m.group(2))) not in keep_gaze) or _LEFTOVER.match(p.name):
                    p.unlink()


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SalprepError("--out exists and is not a folder", out)
    if (out / MANIFEST).exists() or (out / MARKER).exists():
        return
    video_dir = out / "video"
    if video_dir.is_dir() and any(_VIDEO_FILE.match(p.name) for p in video_dir.iterdir()):
        raise SalprepError("holds videos that salprep demo-data did not write; refusing to overwrite "
                           "(choose another --out or remove them)", out)


def write_demo(out: str | os.PathLike, spec: DemoSpec = DemoSpec(), *, progress: bool = True) -> dict:
    """Write the demo dataset to ``out`` in DHF1K layout; returns the manifest (``demo.json``).

    Layout: ``video/NNN.AVI`` (MJPEG, 30 fps), ``annotation/NNNN/{maps,fixation}/NNNN.png`` and
    ``annotation/NNNN/fixation/maps/NNNN.mat`` for train and val videos, ``gaze_record/P%03d/
    P%03d_Trail%04d.txt`` (unless ``spec.gaze`` is False) and ``demo.json``. An earlier demo in
    ``out`` is replaced; a folder with videos not written by demo-data is refused.
    """
    spec.check()
    out = Path(out)
    _check_out(out)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    _atomic_write_text(out / MARKER, json.dumps({"salprep_demo": 1, "note": "written by salprep demo-data"}) + "\n")
    videos = spec.videos()
    entries = []
    keep_gaze: set[tuple[int, int]] = set()
    _clean_stale(out, {n for n, _ in videos}, {(0, 0)})  # old gaze files are rewritten or dropped below
    total_dropped = 0
    empty_files = []
    for number, split in _progress(videos, desc="demo-data", unit="video", enabled=progress):
        video = spec.make(number, split)
        n = write_video(out / "video" / f"{video.video_id}.AVI", video.iter_frames(), fps=FPS, codec="mjpeg")
        entry = {"id": video.video_id, "number": number, "split": split, "frames": n,
                 "objects": len(video.objects)}
        if split != "test":
            stats = write_annotation(video, out / "annotation" / f"{number:04d}")
            entry.update(stats)
            entry["observers"] = video.observers
            entry["dropped_out_of_frame"] = int(video.dropped.sum())
            total_dropped += entry["dropped_out_of_frame"]
            if video.empty_frame is not None:
                empty_files.append(f"annotation/{number:04d}/fixation/{video.empty_frame + 1:04d}.png")
            if spec.gaze:
                write_gaze(video, out / gz.GAZE_DIR)
                keep_gaze |= {(o, number) for o in video.observers}
        entries.append(entry)
    _clean_stale(out, {n for n, _ in videos}, keep_gaze)
    gaze_dir = out / gz.GAZE_DIR
    if gaze_dir.is_dir():
        for pdir in gaze_dir.iterdir():
            if pdir.is_dir() and not any(pdir.iterdir()):
                pdir.rmdir()
        if not any(gaze_dir.iterdir()):
            gaze_dir.rmdir()
    manifest = {
        "salprep_demo": 1,
        "salprep_version": __version__,
        "seed": spec.seed,
        "frames": spec.frames,
        "width": spec.size[0],
        "height": spec.size[1],
        "fps": FPS,
        "codec": "mjpeg",
        "counts": {"train": spec.train, "val": spec.val, "test": spec.test},
        "gaze": spec.gaze,
        "screen": list(gz.SCREEN_SIZE),
        "gt_preset": "dhf1k",
        "empty_frames": empty_files,
        "dropped_out_of_frame": total_dropped,
        "seconds": round(time.perf_counter() - start, 2),
        "videos": entries,
    }
    _atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


__all__ = [
    "DemoObject",
    "DemoSpec",
    "DemoVideo",
    "ObserverGaze",
    "make_video",
    "parse_size",
    "saliency_to_uint8",
    "write_annotation",
    "write_demo",
    "write_gaze",
]
