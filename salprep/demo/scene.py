"""The demo's synthetic scene: a textured, slowly panning background and moving textured objects.

:func:`make_background` draws the background (smoothed multi-scale noise plus low-contrast
static structure), :func:`make_objects` the 2–4 brightly coloured objects (:class:`DemoObject`)
with smooth curved trajectories (bounces, varying speeds; some leave and re-enter the frame).
Both are pure functions of their random generator; :mod:`salprep.demo.video` renders them.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import cv2
import numpy as np

FPS = 30
DEFAULT_SIZE = (640, 360)  # (W, H)
DEFAULT_FRAMES = 120


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


def make_background(rng: np.random.Generator, w: int, h: int, margin: int) -> np.ndarray:
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


def make_objects(rng: np.random.Generator, frames: int, w: int, h: int) -> list[DemoObject]:
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
