"""A tiny LEDOV-layout dataset written from scratch (tests, ``salprep demo-data --layout ledov``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


from salprep.datasets.ledov.matfiles import DATA_MAT, NAMELIST_KEYS, NAMELIST_MAT, VIDEO_NAME_LIST_MAT, _plain

# -- a tiny LEDOV-layout dataset (tests, ``salprep demo-data --layout ledov``) --------------------
def _mp4_codec() -> str:
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_data_mat(path, name: str, fps: float, frames: int, size_wh: tuple[int, int], fixdata) -> Path:
    """Write a LEDOV ``Data.mat`` (MAT v5, struct ``Data``)."""
    import scipy.io

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
    import h5py

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
    import scipy.io

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
    from salprep.video import write_video

    root = Path(root)
    rng = np.random.default_rng(seed)
    codec = _mp4_codec()
    names = list(videos)
    expected = {}
    for name in names:
        _plain(name)
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
