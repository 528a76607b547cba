"""The demo's simulated observers and their raw DHF1K gaze records.

12–17 observers watch a video (gaze sampled at 60 Hz, i.e. two samples per frame): each follows a
target with smooth pursuit for a while, then saccades to the next one. Targets are mostly the
visible objects, weighted towards the fastest; the rest are points near the centre (centre bias,
and the fixation cross at the start) or elsewhere (exploration). The samples are mapped to a
1440x900 screen (video scaled to the screen width and letterboxed; events Fixation/Saccade/Blink,
some fixations in the letterbox) exactly as :mod:`salprep.datasets.dhf1k_gaze` reads them back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from salprep.datasets import dhf1k_gaze as gz
from salprep.demo.scene import FPS, DemoObject

SAMPLES_PER_FRAME = 2  # 60 Hz gaze
N_PARTICIPANTS = 17  # observers P001..P017; each video is watched by 12-17 of them
EVENT_NAMES = {"F": "Fixation", "S": "Saccade", "B": "Blink", "M": "Message"}


class WatchedVideo(Protocol):
    """What the observers see of a video (:class:`salprep.demo.video.DemoVideo` is one)."""

    width: int
    height: int
    frames: int
    objects: list[DemoObject]
    empty_frame: int | None  # 0-based frame left without fixations


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


def simulate_gaze(rng, video: WatchedVideo) -> list[ObserverGaze]:
    """The observers of ``video`` (12-17 of P001..P017) with their raw gaze rows."""
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
