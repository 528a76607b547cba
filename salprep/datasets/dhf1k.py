"""DHF1K layout (Wang et al., CVPR 2018): ``video/NNN.AVI`` + ``annotation/NNNN/``.

```
video/001.AVI ... 1000.AVI          3-digit names (1000 is the only 4-digit one); re-encoded
                                    copies as .mp4 / .mkv / .mov / .webm are read the same
annotation/0001/fixation/0001.png   binary fixation map per frame, fixated pixels > 0
annotation/0001/maps/0001.png       published continuous map per frame (8-bit)
```
Videos are 3-digit and folders 4-digit: map the number, never the string; sort numerically.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import logging

from salprep.datasets.base import FrameInfo, VideoDataset, VideoFixations, points_of_binary_map
from salprep.errors import SalprepError
from salprep.image_frames import read_gray_image

log = logging.getLogger(__name__)

#: containers a DHF1K-layout folder may hold (the release ships AVI; MP4/MKV copies are common)
VIDEO_SUFFIXES = (".AVI", ".avi", ".mp4", ".MP4", ".mkv", ".MKV", ".mov", ".webm")
_VIDEO_RE = re.compile(r"^(\d+)\.(avi|mp4|mkv|mov|webm)$", re.IGNORECASE)
_FRAME_RE = re.compile(r"^(\d+)\.png$", re.IGNORECASE)

DHF1K_SPLITS = {"train": "1-600", "val": "601-700", "test": "701-1000"}


def parse_video_spec(spec) -> list[int]:
    """Video numbers from a config split: a list of ints/ranges or a string like "1-600,605".

    >>> parse_video_spec("1-3,7")
    [1, 2, 3, 7]
    >>> parse_video_spec([1, "601-602"])
    [1, 601, 602]
    """
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[int] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise SalprepError(f"empty video range {part!r} in split definition")
                out.extend(range(lo, hi + 1))
            elif part.isdigit():
                out.append(int(part))
            else:
                raise SalprepError(f"bad video number or range {part!r} in split definition")
    return out


def video_number(video: str) -> int:
    """The number of a DHF1K video id ("001" -> 1); anything but digits is refused."""
    text = str(video)
    if not text.isdigit():
        raise SalprepError(f"DHF1K video id {text!r} is not a number (e.g. 001)")
    return int(text)


def video_id(number: int) -> str:
    """DHF1K's file stem of video ``number``: 3 digits, 1000 stays 4."""
    return f"{int(number):03d}"


def check_numbering(folder: Path, files: list[Path], kind: str) -> None:
    """One line unless ``files`` (sorted by number) are numbered 0001..T without gaps, saying
    what is off: numbering from 0000 (DHF1K's starts at 0001), or the numbers missing below the
    highest one."""
    numbers = [int(_FRAME_RE.match(p.name).group(1)) for p in files]
    n = len(files)
    if numbers == list(range(1, n + 1)):
        return
    head = f"{kind} frames are not numbered 1..{n}"
    if numbers == list(range(n)):
        raise SalprepError(f"{head}: they start at 0000.png where DHF1K starts at 0001.png (0001.png is the first "
                           f"frame); rename each to its number + 1 (0000.png -> 0001.png, ..., {n - 1:04d}.png -> "
                           f"{n:04d}.png)", folder)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    shown = ", ".join(f"{v:04d}.png" for v in missing[:5])
    shown += f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    parts = [f"missing {shown}"] if missing else []
    if numbers[0] == 0:
        parts.append("0000.png is not a DHF1K frame (numbering starts at 0001.png)")
    twice = sorted({v for v in numbers if numbers.count(v) > 1})
    if twice:
        parts.append("several files numbered " + ", ".join(f"{v:04d}" for v in twice[:5]))
    raise SalprepError(f"{head} ({'; '.join(parts)})", folder)


def _numbered(folder: Path, pattern: re.Pattern) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_file() and (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


class DHF1K(VideoDataset):
    layout = "dhf1k"
    gt_preset = "dhf1k"
    fixation_sources = ("png", "gaze")
    expected_layout = "video/NNN.AVI (or .mp4, .mkv) and annotation/NNNN/fixation/NNNN.png"

    def __init__(self, root, splits=None):
        super().__init__(root, DHF1K_SPLITS if splits is None else splits)  # the release's, parsed once

    def parse_splits(self, spec):
        """Video numbers and ranges ("1-600", "601-700,705") as 3-digit ids."""
        return {str(k): [video_id(n) for n in parse_video_spec(v)] for k, v in spec.items()}

    def missing_from_root(self):
        if not (self.root / "video").is_dir():
            return "the video/ folder"
        if not _numbered(self.root / "video", _VIDEO_RE):
            return "numbered videos in video/ (001.AVI, ...)"
        return None

    def videos(self, split=None):
        if split is not None:
            return self.split_videos(split)
        return [video_id(int(m.group(1))) for p in _numbered(self.root / "video", _VIDEO_RE)
                if (m := _VIDEO_RE.match(p.name))]

    def video_path(self, video):
        video = video_id(video_number(video))
        folder = self.root / "video"
        for suffix in VIDEO_SUFFIXES:
            candidate = folder / f"{video}{suffix}"
            if candidate.exists():
                return candidate
        return folder / f"{video}.AVI"

    def annotation_dir(self, video: str) -> Path:
        return self.root / "annotation" / f"{video_number(video):04d}"

    def annotation_files(self, video):
        folder = self.annotation_dir(video)
        return _numbered(folder / "fixation", _FRAME_RE) + _numbered(folder / "maps", _FRAME_RE)

    def has_annotations(self, video):
        return (self.annotation_dir(video) / "fixation").is_dir()

    def fixation_files(self, video):
        """The per-frame fixation PNGs, numbered 1..T without gaps."""
        folder = self.annotation_dir(video) / "fixation"
        if not folder.is_dir():
            raise SalprepError("annotation folder missing (expected fixation/*.png)", folder)
        files = _numbered(folder, _FRAME_RE)
        if not files:
            raise SalprepError("annotation folder has no fixation PNGs", folder)
        check_numbering(folder, files, "fixation")
        return files

    def shipped_map_files(self, video):
        """The published maps ``maps/NNNN.png``, numbered 1..T like the fixation maps ([] when
        there are none)."""
        folder = self.annotation_dir(video) / "maps"
        files = _numbered(folder, _FRAME_RE)
        if files:
            check_numbering(folder, files, "published map")
        return files

    def fixations(self, video, info: FrameInfo, source=None, cartesian: bool = False, **options):
        """``png``: the fixated pixels of each ``fixation/NNNN.png``; ``gaze``: the raw records
        ``gaze_record/`` mapped as record_mapping.m does (``cartesian``: its (y_i, x_j) quirk)."""
        source = self.check_source(source)
        shape = (info.height, info.width)
        if source == "gaze":
            from salprep.datasets.dhf1k_gaze import read_video_gaze

            gaze = read_video_gaze(self.root, video, info.frames, shape, fps=info.fps or 30.0, cartesian=cartesian)
            if gaze.n_dropped:
                log.warning("%s: %d fixation samples outside the %dx%d frame dropped (of %d observers' records)",
                            video, gaze.n_dropped, shape[1], shape[0], len(gaze.observers))
            return VideoFixations(list(gaze.points), list(gaze.files), gaze.n_dropped, "union")
        files = self.fixation_files(video)
        if len(files) != info.frames:
            raise SalprepError(f"{len(files)} fixation frames but the video decodes to {info.frames}",
                               files[0].parent)
        points = [points_of_binary_map(self.read_fixation_file(f, shape, info.size_text())) for f in files]
        return VideoFixations(points, files, 0, "union")

    @staticmethod
    def read_fixation_file(path: Path, shape: tuple[int, int], video_size: str | None = None) -> np.ndarray:
        """Binary (H, W) map of one fixation PNG (fixated pixels > 0); one line for another size
        (``video_size``: how the message states the video's size, :meth:`FrameInfo.size_text`)."""
        arr = read_gray_image(path)
        if arr.shape != tuple(shape):
            video_size = video_size or f"{shape[1]}x{shape[0]}"
            raise SalprepError(f"fixation map is {arr.shape[1]}x{arr.shape[0]}, the video is {video_size}", path)
        return arr > 0
