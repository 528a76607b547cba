"""SALICON, LSUN 2017 release (DATASETS.md §4): each image is a one-frame "video".

```
images/{train,val,test}/COCO_train2014_000000000009.jpg   (a flat images/ is accepted too)
maps/{train,val}/<stem>.png                               published 8-bit maps
fixations/{train,val}/<stem>.mat                          image, resolution = [H W], gaze(observer)
```
``gaze`` is a struct array, one element per observer (1xN or Nx1), with fields ``location`` (raw
mouse samples, N x 2), ``timestamp`` and ``fixations`` (M x 2); coordinates are [x y], MATLAB
1-based, mapped to 0-based pixels as ``floor(x + 0.5) - 1`` (§7). ``--fixations fixations`` (the
default) drops and counts points outside the image; ``--fixations location`` clips the mouse
samples into the image, as pysaliency does. Video ids are image stems; images may differ in
size, each is checked against its own ``resolution``.

Not read: the 2015 release's COCO-style JSON annotations (``fixations_train2014.json``; 2015 and
2017 fixations and maps differ, DATASETS.md §4), nor MATLAB v7.3 .mat files.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from salprep.datasets.base import VideoDataset, VideoFixations, natural_key
from salprep.errors import SalprepError
from salprep.image_frames import IMAGE_SUFFIXES
from salprep.store import check_plain_name

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_COCO_SPLIT = re.compile(r"^COCO_(train|val|test)\d{4}_", re.IGNORECASE)
GAZE_FIELDS = ("location", "timestamp", "fixations")


def split_of_name(stem: str) -> str | None:
    """The split a COCO file name states (``COCO_val2014_...`` -> "val"), else None."""
    m = _COCO_SPLIT.match(stem)
    return m.group(1).lower() if m else None


def matlab_to_pixels(xy1: np.ndarray) -> np.ndarray:
    """(N, 2) MATLAB 1-based [x y] -> int64 0-based pixels, ``floor(x + 0.5) - 1`` (§7)."""
    return (np.floor(np.asarray(xy1, np.float64) + 0.5) - 1).astype(np.int64)


def _xy(value, field: str, path: Path) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64) if np.size(value) else np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise SalprepError(f"gaze.{field} is {'x'.join(map(str, arr.shape))}, expected N x 2 [x y]", path)
    return arr


def read_salicon_mat(path: Path) -> tuple[tuple[int, int], list[dict[str, np.ndarray]]]:
    """The ``resolution`` (H, W) and, per observer, the (N, 2) float [x y] 1-based ``location``
    and ``fixations`` of a SALICON 2017 .mat file.

    Raises:
        SalprepError: unreadable file, missing ``resolution`` / ``gaze`` or gaze fields.
    """
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), squeeze_me=False, struct_as_record=True)
    except FileNotFoundError:
        raise SalprepError("fixation .mat not found", path) from None
    except NotImplementedError:
        raise SalprepError("MATLAB v7.3 .mat files are not read; save it as -v7", path) from None
    except Exception as exc:  # scipy raises ValueError, MatReadError, TypeError... on bad files
        raise SalprepError(f"unreadable .mat file ({exc.__class__.__name__})", path) from None
    for key in ("resolution", "gaze"):
        if key not in mat:
            raise SalprepError(f"no variable {key!r} (a SALICON 2017 fixation file has image, resolution, gaze)",
                               path)
    res = np.asarray(mat["resolution"]).ravel()
    if res.size != 2:
        raise SalprepError(f"resolution has {res.size} values, expected [H W]", path)
    gaze = np.asarray(mat["gaze"]).ravel()
    names = gaze.dtype.names or ()
    missing = [f for f in ("location", "fixations") if f not in names]
    if missing:
        raise SalprepError(f"gaze is not a struct array with fields {list(GAZE_FIELDS)} (missing {missing})", path)
    observers = [{f: _xy(element[f], f, path) for f in ("location", "fixations")} for element in gaze]
    return (int(res[0]), int(res[1])), observers


class SALICON(VideoDataset):
    layout = "salicon"
    gt_preset = "salicon"
    fixation_sources = ("fixations", "location")
    default_fps: float | None = None
    expected_layout = ("images/{train,val,test}/COCO_*.jpg (or a flat images/), fixations/{train,val}/<stem>.mat, "
                       "maps/{train,val}/<stem>.png")

    def __init__(self, root, splits=None):
        super().__init__(root, splits or None)

    # -- images -------------------------------------------------------------------------------
    def _images(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        return sorted(found, key=lambda p: natural_key(p.stem))

    def _found(self) -> dict[str | None, list[str]]:
        """Stems per split: the subfolders of images/, plus a flat images/ split by file name."""
        out: dict[str | None, list[str]] = {s: [] for s in SPLITS}
        for split in SPLITS:
            out[split] += [p.stem for p in self._images(self.root / "images" / split)]
        for p in self._images(self.root / "images"):
            out.setdefault(split_of_name(p.stem), []).append(p.stem)
        return {k: [check_plain_name("video", v, self.root / "images") for v in vs] for k, vs in out.items()}

    def default_splits(self) -> dict[str, list[str]]:
        """images/{train,val,test}/ (a flat images/: by file name), read from disk each time."""
        return {k: v for k, v in self._found().items() if k is not None}

    def missing_from_root(self):
        if any(self._found().values()):
            return None
        return "images/{train,val,test}/*.jpg (no images under images/)"

    def videos(self, split=None):
        if split is not None:
            return self.split_videos(split)
        seen: dict[str, None] = {}
        for stems in self._found().values():
            seen.update(dict.fromkeys(stems))
        return list(seen)

    def _locate(self, video: str) -> tuple[str | None, Path]:
        """(split folder or None for a flat images/, path) of the image; a guess when absent."""
        video = check_plain_name("video", video, self.root)
        named = split_of_name(video)
        order = [named] + [s for s in SPLITS if s != named] if named else list(SPLITS)
        suffixes = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
        for split in order:
            for suffix in suffixes:
                if (candidate := self.root / "images" / split / f"{video}{suffix}").is_file():
                    return split, candidate
        for suffix in suffixes:
            if (candidate := self.root / "images" / f"{video}{suffix}").is_file():
                return None, candidate
        return named, self.root / "images" / (named or "train") / f"{video}.jpg"

    def video_path(self, video):
        return self._locate(video)[1]

    # -- annotations --------------------------------------------------------------------------
    def _annotation(self, kind: str, video: str, suffix: str) -> Path | None:
        split, _ = self._locate(video)
        split = split or split_of_name(video)
        candidates = ([self.root / kind / split / f"{video}{suffix}"] if split else []) + [
            self.root / kind / f"{video}{suffix}"]
        return next((p for p in candidates if p.is_file()), None)

    def fixation_file(self, video: str) -> Path | None:
        """fixations/<split>/<stem>.mat (or fixations/<stem>.mat), None when absent."""
        return self._annotation("fixations", video, ".mat")

    def map_file(self, video: str) -> Path | None:
        """maps/<split>/<stem>.png (or maps/<stem>.png), None when absent."""
        return self._annotation("maps", video, ".png")

    def annotation_dir(self, video):
        # fixations/ and maps/ of one image lie in different trees: their common folder is the
        # root, and the annotation digest names files relative to it
        return self.root

    def annotation_files(self, video):
        return [p for p in (self.fixation_file(video), self.map_file(video)) if p is not None]

    def has_annotations(self, video):
        return self.fixation_file(video) is not None

    def shipped_map_files(self, video):
        found = self.map_file(video)
        return [found] if found is not None else []

    def fixations(self, video, info, source=None, **options):
        source = self.check_source(source)
        path = self.fixation_file(video)
        if path is None:
            split = self._locate(video)[0] or split_of_name(video) or "<split>"
            raise SalprepError("no fixation .mat for this image (SALICON ships none for test images)",
                               self.root / "fixations" / split / f"{video}.mat")
        if info.frames != 1:
            raise SalprepError(f"a SALICON image is one frame, this one decodes to {info.frames}",
                               self.video_path(video))
        (h, w), observers = read_salicon_mat(path)
        if (h, w) != (info.height, info.width):
            raise SalprepError(f"resolution [{h} {w}] (H W) does not match the {info.width}x{info.height} image "
                               f"{self.video_path(video).name}", path)
        xy = np.concatenate([o[source] for o in observers]) if observers else np.zeros((0, 2))
        finite = np.isfinite(xy).all(axis=1)
        pix = matlab_to_pixels(xy[finite])
        dropped = int((~finite).sum())
        if source == "location":
            clipped = int(((pix < 0) | (pix >= (w, h))).any(axis=1).sum())
            pix = np.clip(pix, 0, (w - 1, h - 1))
            if clipped:
                log.info("%s: %d of %d mouse samples outside the %dx%d image clipped", video, clipped, len(pix), w, h)
        else:
            inside = (pix >= 0).all(axis=1) & (pix < (w, h)).all(axis=1)
            dropped += int((~inside).sum())
            pix = pix[inside]
        return VideoFixations(points=[pix.astype(np.int64)], sources=[path], dropped=dropped, combine="union")

    def frame_rate(self, video):
        return self.default_fps
