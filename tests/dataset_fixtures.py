"""Fixture writers: tiny copies of the LEDOV, Hollywood-2 / UCF-Sports and SALICON layouts written
from scratch, each returning what the adapter must read back (test code: it was in the package).

``from dataset_fixtures import write_ledov_fixture`` (tests/ is on the path, as for conftest).
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import h5py
import numpy as np
import scipy.io
from PIL import Image

from salprep import gt as gtlib
from salprep.datasets import adapter_class
from salprep.datasets.base import points_of_binary_map
from salprep.datasets.frame_folders import SPLIT_FOLDERS, FrameFolderDataset
from salprep.datasets.ledov.matfiles import (
    DATA_MAT,
    NAMELIST_KEYS,
    NAMELIST_MAT,
    VIDEO_NAME_LIST_MAT,
)
from salprep.datasets.salicon import GAZE_FIELDS, matlab_to_pixels
from salprep.errors import SalprepError
from salprep.store import check_plain_name
from salprep.video import write_video


# -- LEDOV: <name>/<name>.mp4, <name>/Data.mat, namelist.mat, VideoNameList.mat ---------------------
def _mp4_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_data_mat(path, name: str, fps: float, frames: int, size_wh: tuple[int, int], fixdata) -> Path:
    """Write a LEDOV ``Data.mat`` (MAT v5, struct ``Data``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fix = np.asarray(fixdata, np.float64).reshape(-1, 5)
    scipy.io.savemat(str(path), {"Data": {
        "VideoName": str(name), "VideoFrameRate": float(fps), "VideoFrames": float(frames),
        "VideoSize": np.array([[float(size_wh[0]), float(size_wh[1])]]), "fixdata": fix,
    }}, do_compression=True)
    return path


_V73_HEADER = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."


def write_video_name_list(path, names, *, style: str = "cell") -> Path:
    """Write ``VideoNameList.mat`` as MATLAB v7.3 does (HDF5 behind a 512-byte MAT header).

    ``style``: "cell" -- variable ``VideoNameList``, a (N, 1) dataset of object references into
    ``#refs#``, each a uint16 char array (MATLAB_class "char"), as MATLAB stores a 1xN cellstr;
    "strings" -- a plain dataset of variable-length strings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(str(path), "w", userblock_size=512) as f:
        if style == "cell":
            refs = f.create_group("#refs#")
            ds = f.create_dataset("VideoNameList", (len(names), 1), dtype=h5py.ref_dtype)
            for i, name in enumerate(names):
                chars = refs.create_dataset(f"n{i}", data=np.array([[ord(c)] for c in name], np.uint16))
                chars.attrs["MATLAB_class"] = np.bytes_("char")
                chars.attrs["MATLAB_int_decode"] = np.int32(2)
                ds[i, 0] = chars.ref
            ds.attrs["MATLAB_class"] = np.bytes_("cell")
        elif style == "strings":
            f.create_dataset("VideoNameList", data=list(names), dtype=h5py.string_dtype())
        else:
            raise ValueError(f"style must be 'cell' or 'strings', got {style!r}")
    header = _V73_HEADER.ljust(116).encode("ascii") + b"\0" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\0"))
    return path


def write_namelist(path, splits: dict[str, list[int]]) -> Path:
    """Write ``namelist.mat`` (v5): trainlist / vaildlist / testlist as column vectors of 1-based
    indices (``splits``: "train"/"val"/"test" -> indices)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {NAMELIST_KEYS[k]: np.asarray(v, np.float64).reshape(-1, 1)
                                 for k, v in splits.items()})
    return path


def _in_frame_ms(k: int, fd: float) -> float:
    """An integer time (ms) inside frame k's interval ((k-1) fd, k fd]."""
    return float(math.floor((k - 0.5) * fd))


def write_ledov_fixture(root, videos: dict, seed: int = 0, splits: dict | None = None,
                        name_list_style: str = "cell") -> dict:
    """A tiny LEDOV dataset: ``<name>/<name>.mp4`` (real MP4, libx264 or mpeg4), ``<name>/Data.mat``
    (v5), ``namelist.mat`` (v5) and ``VideoNameList.mat`` (v7.3, ``name_list_style``).

    Args:
        videos: name -> (frames, (H, W), fps); H and W even (yuv420p).
        splits: split -> names (default: the names in turn train, val, test, ...); the written
            trainlist repeats its first entry, as the real one repeats manmade_yacht03.

    Returns:
        name -> {"points": per-frame (N_t, 2) int64 0-based (x, y) in row order, "dropped": rows
        outside the frame or beyond the video, "skipped": centre-start rows, "frames", "shape",
        "fps", "fixdata"}. Frames and pixels are chosen first and the rows derived from them, so
        the expectation does not reuse the adapter's arithmetic.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    codec = _mp4_codec()
    names = list(videos)
    expected = {}
    for name in names:
        check_plain_name("LEDOV video id", name)
        n, (h, w), fps = videos[name]
        n, h, w = int(n), int(h), int(w)
        fd = 1000.0 / float(fps)
        c = math.floor(h / 20 + 0.5)
        yy, xx = np.mgrid[0:h, 0:w]
        imgs = []
        for t in range(n):
            base = ((xx * 4 + yy * 2 + t * 16) % 256).astype(np.uint8)
            noise = rng.integers(0, 24, (h, w), dtype=np.uint8)
            imgs.append(np.stack([base, base // 2 + noise, 255 - base], axis=2))
        write_video(root / name / f"{name}.mp4", imgs, fps=fps, codec=codec)

        rows: list[list[float]] = []
        points: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        dropped = skipped = 0

        def add(subject, s, e, x1, y1, clamp_start=False):
            """A kept fixation on 1-based frames s..e (e may exceed n: clamped) at 1-based (x1, y1)."""
            t = 0.0 if clamp_start else _in_frame_ms(s, fd)
            d = _in_frame_ms(e, fd) - t
            rows.append([subject, t, d, x1, y1])
            for k in range(s, min(e, n) + 1):
                points[k - 1].append((int(math.floor(x1)) - 1, int(math.floor(y1)) - 1))

        def outside_cross():
            while True:
                x1, y1 = int(rng.integers(1, w)), int(rng.integers(1, h))
                if abs(x1 - w / 2) > c and abs(y1 - h / 2) > c:
                    return x1, y1

        shared = outside_cross()  # every subject fixates it on frame 2: a count > 1
        for subject in range(1, 5):
            # the fixation-cross start: the centre, then one in only the vertical central band
            first = len(rows)
            rows.append([subject, 0.0, 150.0, w / 2, h / 2])
            rows.append([subject, 0.0, 40.0, w / 2, float(rng.integers(1, h))])
            skipped += 2
            x1, y1 = outside_cross()
            add(subject, 1, 1 + int(rng.integers(0, 3)), x1, y1, clamp_start=subject == 1)
            add(subject, 2, 2, *shared)
            for _ in range(4):
                s = int(rng.integers(1, n + 1))
                e = s + int(rng.integers(0, 4))  # may run past the end: clamped
                add(subject, s, e, float(rng.integers(1, w)) + float(rng.integers(0, 10)) / 10,
                    float(rng.integers(1, h)))
            add(subject, 3, 4, w / 2, h / 2)  # the centre after the start counts
            t = _in_frame_ms(n - 1, fd)
            rows.append([subject, t, 30.0, float(w), 5.0])  # x = W: outside (0 < x < W)
            rows.append([subject, t, 30.0, 5.0, 0.0])  # y = 0: outside
            rows.append([subject, t + 1, 30.0, -3.0, float(h + 7)])
            rows.append([subject, n * fd + 5 * fd, 100.0, 3.0, 3.0])  # after the video's end
            dropped += 4
            # a subject's rows in time order (stable: the cross rows stay first among t = 0)
            mine = rows[first:]
            rows[first:] = [mine[i] for i in np.argsort([r[1] for r in mine], kind="stable")]
        fixdata = np.array(rows, np.float64)
        write_data_mat(root / name / DATA_MAT, name, fps, n, (w, h), fixdata)
        # points per frame sorted (row order within a frame is the adapter's business)
        expected[name] = {"points": [np.array(sorted(p), np.int64).reshape(-1, 2) for p in points],
                          "dropped": dropped, "skipped": skipped, "frames": n, "shape": (h, w),
                          "fps": fps, "fixdata": fixdata}
    if splits is None:
        splits = {"train": [], "val": [], "test": []}
        for i, name in enumerate(names):
            splits[("train", "val", "test")[i % 3]].append(name)
    index = {name: i + 1 for i, name in enumerate(names)}
    lists = {k: [index[v] for v in vs] for k, vs in splits.items()}
    if lists.get("train"):
        lists["train"] = lists["train"] + lists["train"][:1]
    write_namelist(root / NAMELIST_MAT, lists)
    write_video_name_list(root / VIDEO_NAME_LIST_MAT, names, style=name_list_style)
    return expected


# -- Hollywood-2 and UCF-Sports frame folders ----------------------------------------------------
def _default_videos(layout: str) -> dict:
    if layout == "hollywood":
        return {  # shots of one clip: the first starts at 3, three frames missing at the cut
            "actioncliptrain00001_1": {"split": "train", "frames": range(3, 8), "size": (64, 48)},
            "actioncliptrain00001_2": {"split": "train", "frames": range(11, 15), "size": (64, 48)},
            "actioncliptest00001_1": {"split": "test", "frames": range(3, 6), "size": (40, 30)},
        }
    return {
        "Diving-Side-001": {"split": "train", "frames": range(1, 5), "size": (64, 48)},
        "Golf-Swing-Back-002": {"split": "train", "frames": range(1, 4), "size": (40, 30)},
        "Kicking-Front-003": {"split": "test", "frames": range(1, 4), "size": (40, 30)},
    }


def write_frame_folder_fixture(root, layout: str, videos: dict | None = None, seed: int = 0) -> dict:
    """A tiny Hollywood-2 or UCF-Sports copy under ``root`` (``layout``: "hollywood" or "ucf").

    Args:
        videos: name -> ``{"split": "train" | "test", "frames": frame numbers as on disk,
            "size": (W, H)}``; default: two training videos and one test video per layout (the
            Hollywood shots start at frame 3 with a gap at the cut; sizes differ per video).

    Returns:
        name -> ``{"split", "frames" (list of numbers), "size", "dir", "points"}``: ``points`` is
        one (N, 2) int64 array of 0-based (x, y) fixations per frame (as :func:`points_of_binary_map`
        orders them); ``maps/`` holds the layout's GT preset applied to them, so GT round-trips.
    """
    cls = adapter_class(layout)
    if not issubclass(cls, FrameFolderDataset):
        raise SalprepError(f"layout {layout!r} is not a frame-folder layout (hollywood, ucf)")
    recipe = gtlib.GT_PRESETS[cls.gt_preset]
    rng = np.random.default_rng(seed)
    root = Path(root)
    out = {}
    for name, spec in (videos or _default_videos(layout)).items():
        check_plain_name("video", name)
        w, h = spec["size"]
        video_dir = root / SPLIT_FOLDERS[spec["split"]] / name
        for sub in ("images", "fixation", "maps"):
            (video_dir / sub).mkdir(parents=True, exist_ok=True)
        points = []
        for number in spec["frames"]:
            file_name = cls.frame_file_name(name, number)
            frame = (rng.random((h, w, 3)) * 255).astype(np.uint8)
            Image.fromarray(frame, mode="RGB").save(video_dir / "images" / file_name)
            n = int(rng.integers(1, 5))
            xy = np.stack([rng.integers(0, w, n), rng.integers(0, h, n)], axis=1)
            fixated = gtlib.fixation_map(xy, (h, w))
            points.append(points_of_binary_map(fixated))
            Image.fromarray(fixated.astype(np.uint8) * 255, mode="L").save(video_dir / "fixation" / file_name)
            smap = gtlib.saliency_map(fixated, recipe["sigma"], recipe["truncate"], border=recipe["border"],
                                      shift=recipe["shift"])
            Image.fromarray(np.round(smap * 255).astype(np.uint8), mode="L").save(video_dir / "maps" / file_name)
        out[name] = {"split": spec["split"], "frames": list(spec["frames"]), "size": (w, h), "dir": video_dir,
                     "points": points}
    return out


# -- SALICON 2017 ----------------------------------------------------------------------------------
_DEFAULT_IMAGES = {  # two sizes within train; gaze 1xN and Nx1; one test image without GT
    "COCO_train2014_000000000009": {"split": "train", "size": (64, 48), "gaze": "row"},
    "COCO_train2014_000000000025": {"split": "train", "size": (40, 30), "gaze": "column"},
    "COCO_val2014_000000000042": {"split": "val", "size": (64, 48), "gaze": "row"},
    "COCO_test2014_000000000001": {"split": "test", "size": (40, 30)},
}


def _gaze_struct(observers: list[dict], orientation: str) -> np.ndarray:
    """A MATLAB struct array (1xN or Nx1) for savemat: a record array of object fields."""
    shape = (1, len(observers)) if orientation == "row" else (len(observers), 1)
    gaze = np.empty(shape, dtype=[(f, object) for f in GAZE_FIELDS])
    for i, obs in enumerate(observers):
        gaze.flat[i] = tuple(obs[f] for f in GAZE_FIELDS)
    return gaze


def write_salicon_fixture(root, images: dict | None = None, seed: int = 0, flat: bool = False) -> dict:
    """A tiny SALICON 2017 copy under ``root``.

    Args:
        images: stem -> ``{"split", "size": (W, H), "gaze": "row" | "column"}``; ``gaze`` absent:
            no fixations or map (a test image). Default: two train images of different sizes,
            one val image, one test image.
        flat: put every image directly in images/ (UNISAL's layout) instead of images/<split>/.

    Returns:
        stem -> ``{"split", "size", "image", "mat", "map", "fixations", "dropped", "location",
        "clipped"}``: ``fixations`` are the in-image 0-based (x, y) points of all observers in
        file order, ``dropped`` how many fell outside; ``location`` the mouse samples clipped into
        the image, ``clipped`` how many needed it. The map is the salicon preset applied to
        ``fixations`` (the shipped map of a ``gaze`` image; so GT round-trips).
    """
    recipe = gtlib.GT_PRESETS["salicon"]
    rng = np.random.default_rng(seed)
    root = Path(root)
    out = {}
    for stem, spec in (images or _DEFAULT_IMAGES).items():
        check_plain_name("video", stem)
        split, (w, h) = spec["split"], spec["size"]
        image = root / "images" / ("" if flat else split) / f"{stem}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8), mode="RGB").save(image, quality=90)
        entry = {"split": split, "size": (w, h), "image": image, "mat": None, "map": None}
        out[stem] = entry
        if "gaze" not in spec:
            continue
        observers = []
        for _ in range(3):
            m = int(rng.integers(2, 5))
            fix1 = np.stack([rng.integers(1, w + 1, m), rng.integers(1, h + 1, m)], axis=1).astype(np.float64)
            fix1[0] += rng.random(2) * 0.4  # non-integer 1-based coordinates round to the nearest pixel
            n = int(rng.integers(4, 8))
            loc1 = np.stack([rng.uniform(-5, w + 5, n), rng.uniform(-5, h + 5, n)], axis=1)
            observers.append({"location": loc1, "timestamp": np.sort(rng.uniform(0, 5000, (n, 1)), axis=0),
                              "fixations": fix1})
        observers[1]["fixations"] = np.vstack([observers[1]["fixations"], [[w + 3.0, 2.0], [0.2, 5.0]]])
        observers[2]["location"] = np.vstack([observers[2]["location"], [[w + 40.0, h + 40.0], [-30.0, 1.0]]])
        mat = root / "fixations" / split / f"{stem}.mat"
        mat.parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(str(mat), {"image": stem, "resolution": np.array([[h, w]], np.float64),
                           "gaze": _gaze_struct(observers, spec["gaze"])})
        fix = matlab_to_pixels(np.concatenate([o["fixations"] for o in observers]))
        inside = (fix >= 0).all(axis=1) & (fix < (w, h)).all(axis=1)
        loc = matlab_to_pixels(np.concatenate([o["location"] for o in observers]))
        loc_clipped = np.clip(loc, 0, (w - 1, h - 1))
        smap = gtlib.saliency_map(gtlib.fixation_map(fix[inside], (h, w)), recipe["sigma"], recipe["truncate"],
                                  border=recipe["border"], shift=recipe["shift"])
        png = root / "maps" / split / f"{stem}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(smap * 255).astype(np.uint8), mode="L").save(png)
        entry.update(mat=mat, map=png, fixations=fix[inside], dropped=int((~inside).sum()), location=loc_clipped,
                     clipped=int((loc != loc_clipped).any(axis=1).sum()))
    return out
