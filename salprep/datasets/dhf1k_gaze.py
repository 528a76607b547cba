"""DHF1K raw gaze records (``exportdata_train``) -> per-frame fixation points.

Implements ``record_mapping.m`` of wenguanwang/DHF1K (DATASETS.md §1):

```
gaze_record/P001/P001_Trail0001.txt   one file per observer (P%03d) and video (Trail%04d)
    1 header line, then rows: time [µs]  x_screen  y_screen  event
```
- A row is a fixation sample when its event starts with ``F`` (case-sensitive, first character).
- t is taken relative to the file's **first row** (whatever its event).
- Frame k (1-based) gets the fixation samples with ``k − 1 < 30·t[s] < k`` (strict on both sides, so a
  sample exactly on a frame boundary belongs to no frame).
- The video is shown scaled to the screen width (1440) and letterboxed on the 1440x900 screen:
  ``a = W/1440``, ``b = (900 − H/a)/2``, ``x = int32(a·xs)``, ``y = int32(a·(ys − b))`` (int32 rounds half
  away from zero).
- Points are kept when ``0 < x < W`` and ``0 < y < H`` (1-based; this drops column W and row H too);
  the others are counted as dropped (out of frame). Kept points are returned 0-based (x − 1, y − 1).
- The map of a frame is the union over observers. ``record_mapping.m`` indexes the frame volume with
  the whole row vector and column vector of one observer's samples in one frame, which sets every
  (y_i, x_j) combination; ``cartesian=True`` reproduces that quirk, the default keeps the pairs.
- As in the script, observers without a file for the video are skipped when the observers are
  discovered; an observer asked for explicitly must have a file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError

SCREEN_SIZE = (1440, 900)  #: (width, height) of the DHF1K presentation screen in px
RATE = 30  #: frame rate record_mapping.m assumes
GAZE_DIR = "gaze_record"
HEADER = "time_us\tx_screen\ty_screen\tevent"

_OBSERVER_RE = re.compile(r"^P(\d+)$")


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def gaze_root(root: str | os.PathLike) -> Path:
    """The folder holding ``P001/ …``: ``root/gaze_record`` when it exists, else ``root`` itself."""
    root = Path(root)
    sub = root / GAZE_DIR
    return sub if sub.is_dir() else root


def gaze_file(root: str | os.PathLike, observer: int, video: int | str) -> Path:
    """``<gaze_root>/P%03d/P%03d_Trail%04d.txt`` of ``observer`` (1-based) and ``video`` (number)."""
    observer, video = int(observer), int(video)
    return gaze_root(root) / f"P{observer:03d}" / f"P{observer:03d}_Trail{video:04d}.txt"


def gaze_observers(root: str | os.PathLike) -> list[int]:
    """Observer numbers with a ``P%03d`` folder under the gaze root, in numeric order."""
    folder = gaze_root(root)
    if not folder.is_dir():
        raise SalprepError("gaze record folder not found (expected P001/P001_Trail0001.txt ...)", folder)
    found = []
    for p in folder.iterdir():
        m = _OBSERVER_RE.match(p.name)
        if m and p.is_dir():
            found.append(int(m.group(1)))
    return sorted(found)


# --------------------------------------------------------------------------------------------
# one record
# --------------------------------------------------------------------------------------------
@dataclass
class GazeRecord:
    """The rows of one gaze file: time in µs, screen coordinates in px, event strings."""

    time_us: np.ndarray  # float64 (N,)
    x_screen: np.ndarray  # float64 (N,)
    y_screen: np.ndarray  # float64 (N,)
    event: list[str] = field(default_factory=list)
    path: str | None = None

    def __len__(self) -> int:
        return len(self.time_us)

    @property
    def is_fixation(self) -> np.ndarray:
        """bool (N,): the event's first character is ``F``."""
        return np.array([e[:1] == "F" for e in self.event], dtype=bool)


def parse_gaze_text(text: str, path: str | os.PathLike | None = None) -> GazeRecord:
    """Parse the text of one gaze file (1 header line, then ``time x y event`` rows).

    Fields are separated by any whitespace; blank lines are skipped; columns after the fourth are
    ignored. A row with fewer than 4 fields or a non-numeric number raises :class:`SalprepError`
    naming the file and line.
    """
    lines = text.splitlines()
    times, xs, ys, events = [], [], [], []
    for lineno, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            raise SalprepError(f"line {lineno}: expected 'time x y event', got {line.strip()!r}", path)
        try:
            times.append(float(parts[0]))
            xs.append(float(parts[1]))
            ys.append(float(parts[2]))
        except ValueError:
            raise SalprepError(f"line {lineno}: non-numeric time or coordinate in {line.strip()!r}", path) from None
        events.append(parts[3])
    return GazeRecord(
        np.asarray(times, dtype=np.float64),
        np.asarray(xs, dtype=np.float64),
        np.asarray(ys, dtype=np.float64),
        events,
        None if path is None else os.fspath(path),
    )


def read_gaze_record(path: str | os.PathLike) -> GazeRecord:
    """Read one ``P%03d_Trail%04d.txt`` file; a missing or unreadable file raises SalprepError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise SalprepError("gaze record file not found", path) from None
    except OSError as exc:
        raise SalprepError(f"cannot read gaze record ({exc.strerror or exc.__class__.__name__})", path) from None
    return parse_gaze_text(text, path)


def screen_mapping(shape: tuple[int, int], screen: tuple[int, int] = SCREEN_SIZE) -> tuple[float, float]:
    """(a, b) of record_mapping.m for a frame of ``shape`` (H, W): a = W/sw, b = (sh − H/a)/2."""
    h, w = int(shape[0]), int(shape[1])
    a = w / float(screen[0])
    b = (float(screen[1]) - h / a) / 2.0
    return a, b


def _int32(values: np.ndarray) -> np.ndarray:
    """MATLAB ``int32(double)``: round half away from zero, saturate, NaN -> 0."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r, np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int64)


@dataclass
class RecordFixations:
    """One record mapped onto the frames of a video (0-based pixel points)."""

    points: list[np.ndarray]  # per frame: int64 (N, 2) (x, y), 0-based, pairs (duplicates kept)
    dropped: np.ndarray  # int64 (T,): fixation samples in the frame's window but outside the frame

    @property
    def n_dropped(self) -> int:
        return int(self.dropped.sum())


def map_record(
    record: GazeRecord,
    n_frames: int,
    shape: tuple[int, int],
    *,
    fps: float = RATE,
    screen: tuple[int, int] = SCREEN_SIZE,
    cartesian: bool = False,
) -> RecordFixations:
    """Map one observer's record onto ``n_frames`` frames of a ``shape`` (H, W) video.

    Returns the in-frame points of each frame (0-based (x, y)), and per frame the number of fixation
    samples that fell inside the frame's time window but outside the frame (letterbox, edge, NaN).
    With ``cartesian=True`` every (y_i, x_j) combination of the frame's kept samples is returned.
    """
    h, w = int(shape[0]), int(shape[1])
    points: list[np.ndarray] = [np.zeros((0, 2), dtype=np.int64) for _ in range(n_frames)]
    dropped = np.zeros(n_frames, dtype=np.int64)
    if len(record) == 0 or n_frames <= 0:
        return RecordFixations(points, dropped)
    t = record.time_us - record.time_us[0]
    ft = fps * t / 1000000.0  # same operation order as the script: rate*time/1000000
    fix = record.is_fixation
    # frame k (1-based) takes k-1 < ft < k: k = ceil(ft) where ft is not an integer
    k = np.ceil(ft)
    sel = fix & (ft > 0) & (k != ft) & (k <= n_frames)
    sel &= np.isfinite(ft)
    idx = np.nonzero(sel)[0]
    if len(idx) == 0:
        return RecordFixations(points, dropped)
    a, b = screen_mapping((h, w), screen)
    x1 = _int32(a * record.x_screen[idx])
    y1 = _int32(a * (record.y_screen[idx] - b))
    frame = k[idx].astype(np.int64) - 1
    inside = (x1 > 0) & (x1 < w) & (y1 > 0) & (y1 < h)
    np.add.at(dropped, frame[~inside], 1)
    frame, x0, y0 = frame[inside], x1[inside] - 1, y1[inside] - 1
    order = np.argsort(frame, kind="stable")
    frame, x0, y0 = frame[order], x0[order], y0[order]
    bounds = np.searchsorted(frame, np.arange(n_frames + 1))
    for f in np.unique(frame):
        xs, ys = x0[bounds[f]:bounds[f + 1]], y0[bounds[f]:bounds[f + 1]]
        if cartesian:
            gx, gy = np.meshgrid(xs, ys)
            points[f] = np.stack([gx.ravel(), gy.ravel()], axis=1)
        else:
            points[f] = np.stack([xs, ys], axis=1)
    return RecordFixations(points, dropped)


# --------------------------------------------------------------------------------------------
# one video, all observers
# --------------------------------------------------------------------------------------------
@dataclass
class VideoGaze:
    """Per-frame fixation points of one video, union over observers."""

    points: list[np.ndarray]  # per frame: int64 (N, 2) unique (x, y), 0-based, sorted by (y, x)
    dropped: np.ndarray  # int64 (T,): out-of-frame fixation samples per frame, all observers
    observers: list[int]  # observers whose file was read
    files: list[Path]
    shape: tuple[int, int]

    @property
    def n_dropped(self) -> int:
        return int(self.dropped.sum())

    def fixation_map(self, frame: int) -> np.ndarray:
        """bool (H, W) map of 0-based ``frame``."""
        out = np.zeros(self.shape, dtype=bool)
        p = self.points[frame]
        out[p[:, 1], p[:, 0]] = True
        return out

    def fixation_maps(self) -> np.ndarray:
        """bool (T, H, W) maps of all frames."""
        return np.stack([self.fixation_map(t) for t in range(len(self.points))]) if self.points else \
            np.zeros((0, *self.shape), dtype=bool)


def _union(per_observer: list[list[np.ndarray]], n_frames: int, w: int) -> list[np.ndarray]:
    out = []
    for t in range(n_frames):
        pts = [obs[t] for obs in per_observer if len(obs[t])]
        if not pts:
            out.append(np.zeros((0, 2), dtype=np.int64))
            continue
        allp = np.concatenate(pts)
        keys = np.unique(allp[:, 1] * w + allp[:, 0])
        out.append(np.stack([keys % w, keys // w], axis=1).astype(np.int64))
    return out


def map_records(
    records: list[GazeRecord],
    n_frames: int,
    shape: tuple[int, int],
    *,
    fps: float = RATE,
    screen: tuple[int, int] = SCREEN_SIZE,
    cartesian: bool = False,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Union of :func:`map_record` over ``records``: (unique points per frame, dropped per frame)."""
    mapped = [map_record(r, n_frames, shape, fps=fps, screen=screen, cartesian=cartesian) for r in records]
    dropped = np.zeros(n_frames, dtype=np.int64)
    for m in mapped:
        dropped += m.dropped
    return _union([m.points for m in mapped], n_frames, int(shape[1])), dropped


def read_video_gaze(
    root: str | os.PathLike,
    video: int | str,
    n_frames: int,
    shape: tuple[int, int],
    *,
    observers: list[int] | None = None,
    fps: float = RATE,
    screen: tuple[int, int] = SCREEN_SIZE,
    cartesian: bool = False,
) -> VideoGaze:
    """Fixation points of every frame of ``video`` from the raw gaze records under ``root``.

    Args:
        root: the dataset root (holding ``gaze_record/``) or the gaze record folder itself.
        video: video number (``1`` or ``"001"``); the files are ``P%03d_Trail%04d.txt``.
        n_frames: number of frames of the video (the decoded count / number of GT files).
        shape: (H, W) of the video.
        observers: observer numbers to read; each must have a file. None = every ``P%03d``
            folder, skipping observers without a file for this video (as record_mapping.m does).
        cartesian: reproduce record_mapping.m's Cartesian-product indexing quirk.

    Raises:
        SalprepError: no gaze folder, a requested file missing, no observer has a file for the
            video, or a malformed file.
    """
    if observers is None:
        found = gaze_observers(root)
        files = [(o, gaze_file(root, o, video)) for o in found]
        files = [(o, p) for o, p in files if p.is_file()]
        if not files:
            raise SalprepError(f"no observer has a gaze record for video {int(video)}",
                               gaze_file(root, found[0] if found else 1, video))
    else:
        files = [(int(o), gaze_file(root, o, video)) for o in observers]
    records = [read_gaze_record(p) for _, p in files]
    points, dropped = map_records(records, n_frames, shape, fps=fps, screen=screen, cartesian=cartesian)
    return VideoGaze(points, dropped, [o for o, _ in files], [p for _, p in files], (int(shape[0]), int(shape[1])))


__all__ = [
    "GAZE_DIR",
    "HEADER",
    "RATE",
    "SCREEN_SIZE",
    "GazeRecord",
    "RecordFixations",
    "VideoGaze",
    "gaze_file",
    "gaze_observers",
    "gaze_root",
    "map_record",
    "map_records",
    "parse_gaze_text",
    "read_gaze_record",
    "read_video_gaze",
    "screen_mapping",
]
