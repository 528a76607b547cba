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


def image_size(path: Path, unreadable: str = "unreadable frame image") -> tuple[int, int]:
    """(W, H) from the image header (PIL decodes no pixels until asked); a file that does not
    open as an image is one line beginning with ``unreadable``."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SalprepError(f"{unreadable} ({exc.__class__.__name__})", path) from None


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
    """First channel of an image file as uint8 (H, W) (8-bit, 16-bit, palette or RGB images),
    for *binary* fixation maps: only whether a pixel is > 0 is kept faithfully (16-bit and
    integer values above 255 are clipped to 255). Published continuous maps are read with
    :func:`read_map_image`. One line when the file is missing or unreadable."""
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


#: gray modes PIL opens 16-bit integer images as (PNG, TIFF, PGM; byte orders)
_MODES_16 = ("I;16", "I;16L", "I;16B", "I;16N")
#: channels of a colour image may differ by this much and it still counts as gray (JPEG rounding)
GRAY_TOLERANCE = 16


def _integer_bits(img: Image.Image, path: Path) -> int:
    """Bit depth of a 32-bit-integer (mode ``I``) image: 16 for PNG (PNG has no deeper gray;
    older PIL opened 16-bit PNGs as ``I``) and for a TIFF whose BitsPerSample is 16; a 32-bit
    integer image is refused (signed or not, nothing says which range is "full")."""
    bits = 16 if img.format == "PNG" else None
    if img.format == "TIFF":
        tag = getattr(img, "tag_v2", {}).get(258)
        bits = tag[0] if isinstance(tag, (tuple, list)) and tag else tag
    if bits == 16:
        return 16
    raise SalprepError(f"published map is a {f'{bits}-bit ' if bits else ''}integer {img.format or ''} image: "
                       "its scale is unknown; save it as an 8- or 16-bit PNG", path)


def read_map_image(path: str | os.PathLike) -> np.ndarray:
    """A published (shipped) continuous saliency map as uint8 (H, W) on the 0..255 scale.

    Each map is read on its own *bit depth's* scale, never rescaled by its own maximum, so a
    map round-trips to what an 8-bit export of it would be:

    * 8-bit gray (``L``, ``LA``: the alpha is ignored): as stored.
    * 16-bit gray PNG/TIFF/PGM (``I;16``, PNG ``I``): ``round(value * 255 / 65535)``; a 32-bit
      integer image is refused.
    * 1-bit (``1``): 0 or 255.
    * palette (``P``, ``PA``) and colour (``RGB``, ``RGBA``, ...; 16-bit RGB PNGs are read by PIL
      at 8 bits): the gray level, when the channels agree (within :data:`GRAY_TOLERANCE`
      levels); a map in colour (a heat-map rendering) is refused, since its colours are not
      saliency values.
    * float (``F``, e.g. a 32-bit float TIFF): values on 0..1 (-> ``round(value * 255)``);
      values outside [0, 1] or NaN are refused (their scale is unknown).

    Raises:
        SalprepError: a missing or unreadable file, a colour map, a float map outside [0, 1],
        a 32-bit integer image.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("L", "LA"):
                return np.asarray(img.getchannel(0), dtype=np.uint8)
            if mode == "1":
                return np.asarray(img.convert("L"), dtype=np.uint8)
            if mode in _MODES_16 or mode == "I":
                if mode == "I":
                    _integer_bits(img, path)
                arr = np.asarray(img).astype(np.float64)
                return np.clip(np.rint(arr * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
            if mode == "F":
                arr = np.asarray(img, dtype=np.float64)
                bad = ~np.isfinite(arr) | (arr < -1e-6) | (arr > 1 + 1e-6)
                if bad.any():
                    finite = arr[np.isfinite(arr)]
                    span = f"{finite.min():.3g}..{finite.max():.3g}" if finite.size else "no finite values"
                    raise SalprepError(f"published map is a float image with values {span}"
                                       f"{' and NaN/Inf' if not np.isfinite(arr).all() else ''}: salprep reads "
                                       "float maps on 0..1; save it as an 8- or 16-bit PNG", path)
                return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
            rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    except FileNotFoundError:
        raise SalprepError("published map not found", path) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SalprepError(f"unreadable image ({exc.__class__.__name__})", path) from None
    spread = int((rgb.max(axis=2) - rgb.min(axis=2)).max()) if rgb.size else 0
    if spread > GRAY_TOLERANCE:
        raise SalprepError(f"published map is in colour (mode {mode}, its channels differ by up to {spread} "
                           "levels): salprep reads a map's gray level; save the map itself, not a heat-map "
                           "rendering", path)
    return rgb[..., 0].astype(np.uint8)
