"""DHF1K layout (Wang et al., CVPR 2018): ``video/NNN.AVI`` + ``annotation/NNNN/``.

```
video/001.AVI ... 1000.AVI          3-digit names (1000 is the only 4-digit one)
annotation/0001/fixation/0001.png   binary fixation map per frame, fixated pixels > 0
annotation/0001/maps/0001.png       published continuous map per frame (8-bit)
```
Videos are 3-digit and folders 4-digit: map the number, never the string; sort numerically.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from salprep.datasets.base import VideoDataset
from salprep.errors import SalprepError

_VIDEO_RE = re.compile(r"^(\d+)\.avi$", re.IGNORECASE)
_FRAME_RE = re.compile(r"^(\d+)\.png$", re.IGNORECASE)

DHF1K_SPLITS = {"train": "1-600", "val": "601-700", "test": "701-1000"}


def video_number(video: str) -> int:
    """The number of a DHF1K video id ("001" -> 1); anything but digits is refused."""
    text = str(video)
    if not text.isdigit():
        raise SalprepError(f"DHF1K video id {text!r} is not a number (e.g. 001)")
    return int(text)


def video_id(number: int) -> str:
    """DHF1K's file stem of video ``number``: 3 digits, 1000 stays 4."""
    return f"{int(number):03d}"


def _numbered(folder: Path, pattern: re.Pattern) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_file() and (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


def read_gray_png(path: Path) -> np.ndarray:
    """First channel of an image file as uint8 (H, W); SalprepError when unreadable."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("1", "L", "P", "I", "I;16", "F"):
                arr = np.asarray(img.convert("L") if img.mode in ("1", "P") else img)
            else:
                arr = np.asarray(img.convert("RGB"))[..., 0]
    except FileNotFoundError:
        raise SalprepError("annotation file not found", path) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SalprepError(f"unreadable image ({exc.__class__.__name__})", path) from None
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


class DHF1K(VideoDataset):
    gt_preset = "dhf1k"

    def __init__(self, root, splits=None):
        from salprep.datasets import parse_video_spec

        spec = DHF1K_SPLITS if splits is None else splits
        super().__init__(root, {k: [video_id(n) for n in parse_video_spec(v)] for k, v in spec.items()})

    def videos(self, split=None):
        if split is not None:
            if split not in self.splits:
                raise SalprepError(f"unknown split {split!r}; configured: {sorted(self.splits)}")
            return list(self.splits[split])
        return [video_id(int(m.group(1))) for p in _numbered(self.root / "video", _VIDEO_RE)
                if (m := _VIDEO_RE.match(p.name))]

    def video_path(self, video):
        video = video_id(video_number(video))
        folder = self.root / "video"
        for suffix in (".AVI", ".avi"):
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
        folder = self.annotation_dir(video) / "fixation"
        if not folder.is_dir():
            raise SalprepError("annotation folder missing (expected fixation/*.png)", folder)
        files = _numbered(folder, _FRAME_RE)
        if not files:
            raise SalprepError("annotation folder has no fixation PNGs", folder)
        numbers = [int(_FRAME_RE.match(p.name).group(1)) for p in files]
        if numbers != list(range(1, len(files) + 1)):
            gaps = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))[:5]
            raise SalprepError(f"fixation frames are not numbered 1..{len(files)} (missing e.g. {gaps})", folder)
        return files

    def shipped_map_files(self, video):
        return _numbered(self.annotation_dir(video) / "maps", _FRAME_RE)

    def read_fixations(self, video, frame, shape):
        path = self.fixation_files(video)[frame] if isinstance(frame, int) else Path(frame)
        return self.read_fixation_file(path, shape)

    @staticmethod
    def read_fixation_file(path: Path, shape: tuple[int, int]) -> np.ndarray:
        arr = read_gray_png(path)
        if arr.shape != tuple(shape):
            raise SalprepError(
                f"fixation map is {arr.shape[1]}x{arr.shape[0]}, the video is {shape[1]}x{shape[0]}", path
            )
        return arr > 0
