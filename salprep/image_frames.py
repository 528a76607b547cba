"""Frames stored as images: a folder of frame images (Hollywood-2, UCF-Sports, frame-extracted
DHF1K copies) or one image (SALICON: a one-frame "video").

:mod:`salprep.video` hands such paths here, so every stage reads them like a video. A folder's
frames are its image files in the order of the last number in their names (``..._00003.png``,
``0001.png``: numeric, never lexicographic); every frame must have the first one's size.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from salprep.errors import SalprepError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def is_image_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder (of frame images) or a single image file."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def frame_number(path: Path) -> int:
    """The frame number in an image name: its last run of digits (``clip_00003.png`` -> 3)."""
    m = _LAST_NUMBER.search(path.stem)
    if m is None:
        raise SalprepError("frame image name has no frame number", path)
    return int(m.group(1))


def image_files(path: str | os.PathLike) -> list[Path]:
    """The frame images of a folder in frame order, or ``[path]`` for one image.

    Raises:
        SalprepError: no such path, a folder without images, two images of one frame number.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SalprepError("frame folder or image not found", path)
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise SalprepError(f"frame folder has no images ({', '.join(IMAGE_SUFFIXES)})", path)
    numbered = sorted((frame_number(p), p.name, p) for p in files)
    numbers = [n for n, _, _ in numbered]
    if len(set(numbers)) != len(numbers):
        dup = next(n for n in numbers if numbers.count(n) > 1)
        raise SalprepError(f"two frame images are numbered {dup}", path)
    return [p for _, _, p in numbered]


def _same_size(path: Path, got: tuple[int, int], first: tuple[int, int], of: str = "") -> None:
    if got != first:
        raise SalprepError(f"frame image is {got[0]}x{got[1]}, the first frame{of} is {first[0]}x{first[1]}", path)


def read_image(path: Path, *, size: tuple[int, int] | None = None, gray: bool = False,
               expect: tuple[int, int] | None = None, of: str = "") -> np.ndarray:
    """One image as uint8 (H, W, 3) RGB or (H, W) gray, resized (bilinear) to ``size`` (W, H);
    ``expect``: the (W, H) it must have (the first frame's; ``of`` names that frame's folder)."""
    try:
        with Image.open(path) as img:
            if expect is not None:
                _same_size(path, img.size, expect, of)
            img = img.convert("L" if gray else "RGB")
            if size is not None and img.size != tuple(size):
                img = img.resize(tuple(size), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise SalprepError("frame image not found", path) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SalprepError(f"unreadable frame image ({exc.__class__.__name__})", path) from None


def image_size(path: Path) -> tuple[int, int]:
    """(W, H) from the image header (no decoding)."""
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise SalprepError(f"unreadable frame image ({exc.__class__.__name__})", path) from None


def iter_image_frames(path, *, size=None, gray=False) -> Iterator[np.ndarray]:
    """The frames of an image source, checking that each has the first one's size."""
    files = image_files(path)
    first = image_size(files[0])
    for p in files:
        yield read_image(p, size=size, gray=gray, expect=first, of=f" of {Path(path).name}")


def probe_images(path) -> tuple[int, int, int, str]:
    """(frames, width, height, codec) of an image source; every image's header is read and
    checked to have the first one's size, and each must open."""
    files = image_files(path)
    width, height = image_size(files[0])
    for p in files[1:]:
        _same_size(p, image_size(p), (width, height))
    kind = files[0].suffix.lower().lstrip(".")
    return len(files), width, height, f"{kind} image" if Path(path).is_file() else f"{kind} frames"


def read_gray_image(path: str | os.PathLike) -> np.ndarray:
    """First channel of an image file as uint8 (H, W) (8-bit, 16-bit, palette or RGB images:
    annotation maps); one line when it is missing or unreadable."""
    path = Path(path)
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
