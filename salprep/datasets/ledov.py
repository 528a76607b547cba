"""LEDOV layout (Jiang et al., ECCV 2018 "DeepVS"): one folder per video.

```
<root>/<name>/<name>.mp4         the video (names like animal_alpaca01, human_*, manmade_*)
<root>/<name>/Data.mat           struct Data: VideoName, VideoFrameRate, VideoFrames, VideoSize = [W H],
                                 fixdata (N x 5: subject, start ms, duration ms, x, y; 1-based, top-left)
<root>/namelist.mat              MAT v5: trainlist, vaildlist (sic), testlist = 1-based indices into ...
<root>/VideoNameList.mat         MAT v7.3 (HDF5): cell array of the video names
```
Fixations become per-frame points as ``demo.m`` / ``metrics/TestLEDOV.m`` do (DATASETS.md §2): frame k
(1-based) covers ((k-1)*fd, k*fd] with fd = 1000/fps ms; the fixation-cross start of every subject is
skipped; points are 0-based ``floor(x) - 1`` and duplicates add (``combine = "count"``).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from salprep.datasets.base import FrameInfo, VideoDataset, VideoFixations
from salprep.errors import SalprepError

log = logging.getLogger(__name__)

#: the per-video annotation file
DATA_MAT = "Data.mat"
#: the official split file (v5) and the name list its indices point into (v7.3)
NAMELIST_MAT = "namelist.mat"
VIDEO_NAME_LIST_MAT = "VideoNameList.mat"
#: split name -> variable of namelist.mat ("vaildlist" is the file's spelling)
NAMELIST_KEYS = {"train": "trainlist", "val": "vaildlist", "test": "testlist"}
#: video file suffixes looked for in ``<root>/<name>/``, in order
VIDEO_SUFFIXES = (".mp4", ".MP4", ".mkv", ".MKV", ".avi", ".AVI")
DATA_FIELDS = ("VideoName", "VideoFrameRate", "VideoFrames", "VideoSize", "fixdata")


def _plain(video) -> str:
    from salprep.store import check_plain_name

    return check_plain_name("LEDOV video id", video)


# -- MAT files (v5 via scipy, v7.3 via h5py) ------------------------------------------------------
def _h5_value(f, obj):
    """A MATLAB v7.3 value as Python: str for char arrays, list for cell arrays, dict for
    structs (groups), numpy arrays (back in MATLAB's axis order) for numbers."""
    import h5py

    if isinstance(obj, h5py.Group):
        return {key: _h5_value(f, obj[key]) for key in obj if not key.startswith("#")}
    mclass = obj.attrs.get("MATLAB_class", b"")
    mclass = mclass.decode() if isinstance(mclass, bytes) else str(mclass)
    if obj.attrs.get("MATLAB_empty", 0):
        return "" if mclass == "char" else ([] if mclass == "cell" else np.zeros((0, 0)))
    data = obj[()]
    if h5py.check_ref_dtype(obj.dtype) is not None:
        # a cell array: HDF5's C order of the (transposed) array is MATLAB's linear order
        return [_h5_value(f, f[ref]) for ref in np.asarray(data).ravel()]
    if obj.dtype.kind in ("S", "U") or h5py.check_string_dtype(obj.dtype) is not None:  # strings written as strings (not how MATLAB does it)
        items = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(data, dtype=object).ravel()]
        return items[0] if np.ndim(data) == 0 else items
    if mclass == "char":
        return "".join(chr(int(c)) for c in np.asarray(data).ravel())
    return np.asarray(data).T


def _scipy_value(value):
    """A scipy.io.loadmat (squeeze_me, struct_as_record=False) value, with cell arrays as lists."""
    from scipy.io.matlab import mat_struct

    if isinstance(value, mat_struct):
        return {name: _scipy_value(getattr(value, name)) for name in value._fieldnames}
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return [_scipy_value(v) for v in value.ravel(order="F")]
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return [str(v) for v in value.ravel(order="F")] if value.ndim else str(value)
    return value


def load_mat(path: str | os.PathLike) -> dict:
    """The variables of a MAT file, v5 (scipy) or v7.3 (HDF5, h5py): structs as dicts, cell
    arrays as lists, char arrays as str, numbers as numpy arrays in MATLAB's shape (squeezed for v5).

    Raises:
        SalprepError: missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise SalprepError("file not found", path)
    import h5py

    try:
        is_h5 = h5py.is_hdf5(str(path))
    except OSError:
        is_h5 = False
    if not is_h5:
        import scipy.io

        try:
            raw = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False, chars_as_strings=True)
        except NotImplementedError:  # v7.3 header but no HDF5 signature h5py finds
            raise SalprepError("unreadable MAT file (v7.3 but not HDF5)", path) from None
        except Exception as exc:  # scipy raises ValueError, TypeError, OSError... on garbage
            raise SalprepError(f"unreadable MAT file ({exc.__class__.__name__}: {exc})", path) from None
        return {k: _scipy_value(v) for k, v in raw.items() if not k.startswith("__")}
    try:
        with h5py.File(str(path), "r") as f:
            return {key: _h5_value(f, f[key]) for key in f if not key.startswith("#")}
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise SalprepError(f"unreadable MAT v7.3 file ({exc.__class__.__name__}: {exc})", path) from None


def _scalar(value, what: str, path: Path) -> float:
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise SalprepError(f"{what} is not a number ({value!r})", path) from None
    if arr.size != 1 or not np.isfinite(arr[0]):
        raise SalprepError(f"{what} is not one finite number (got {arr.size} values)", path)
    return float(arr[0])


def read_data_mat(path: str | os.PathLike) -> dict:
    """LEDOV's ``Data.mat``: {"VideoName": str, "VideoFrameRate": float, "VideoFrames": int,
    "VideoSize": (W, H), "fixdata": float64 (N, 5)}.

    Raises:
        SalprepError: unreadable file, no ``Data`` struct, missing fields, bad values.
    """
    path = Path(path)
    variables = load_mat(path)
    data = variables.get("Data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise SalprepError(f"no struct 'Data' (variables: {sorted(variables)})", path)
    missing = [k for k in DATA_FIELDS if k not in data]
    if missing:
        raise SalprepError(f"struct Data lacks {missing} (fields: {sorted(data)})", path)
    fps = _scalar(data["VideoFrameRate"], "Data.VideoFrameRate", path)
    if fps <= 0:
        raise SalprepError(f"Data.VideoFrameRate is {fps:g}, not > 0", path)
    frames = _scalar(data["VideoFrames"], "Data.VideoFrames", path)
    try:
        size = np.asarray(data["VideoSize"], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        size = np.zeros(0)
    if size.size != 2:
        raise SalprepError(f"Data.VideoSize is not [W H] ({data['VideoSize']!r})", path)
    try:
        fix = np.asarray(data["fixdata"], dtype=np.float64)
    except (TypeError, ValueError):
        raise SalprepError("Data.fixdata is not numeric", path) from None
    if fix.size == 0:
        fix = np.zeros((0, 5))
    elif fix.ndim == 1 and fix.size == 5:  # one row, squeezed
        fix = fix.reshape(1, 5)
    elif fix.ndim == 2 and fix.shape[1] != 5 and fix.shape[0] == 5:
        fix = fix.T
    if fix.ndim != 2 or fix.shape[1] != 5:
        raise SalprepError(f"Data.fixdata is {'x'.join(map(str, fix.shape))}, not N x 5 "
                           "(subject, start ms, duration ms, x, y)", path)
    name = data["VideoName"]
    name = name[0] if isinstance(name, list) and len(name) == 1 else name
    return {"VideoName": str(name), "VideoFrameRate": fps, "VideoFrames": int(round(frames)),
            "VideoSize": (int(round(size[0])), int(round(size[1]))), "fixdata": fix}


def read_video_name_list(path: str | os.PathLike) -> list[str]:
    """The names in ``VideoNameList.mat``: MATLAB v7.3 (a cell array, i.e. object references to
    uint16 char arrays; or a dataset of plain strings) or v5. The variable ``VideoNameList`` is
    read when present, else the only variable."""
    path = Path(path)
    variables = load_mat(path)
    if "VideoNameList" in variables:
        value = variables["VideoNameList"]
    elif len(variables) == 1:
        value = next(iter(variables.values()))
    else:
        raise SalprepError(f"no variable 'VideoNameList' (variables: {sorted(variables)})", path)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SalprepError("VideoNameList is not a cell array of names", path)
    return [v.strip() for v in value]


def _indices(value, key: str, path: Path) -> list:
    """A namelist.mat entry as a list: ints (1-based indices) or names."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        flat = []
        for v in value:
            flat.extend(_indices(v, key, path))
        return flat
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    except (TypeError, ValueError):
        raise SalprepError(f"{key} is neither indices nor names", path) from None
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise SalprepError(f"{key} holds non-integer indices", path)
    return [int(v) for v in arr]


def _dedupe(names) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)


def read_namelist_splits(root: str | os.PathLike) -> dict[str, list[str]]:
    """The official splits: ``namelist.mat``'s trainlist / vaildlist / testlist (1-based
    indices, resolved through ``VideoNameList.mat``) as {"train", "val", "test"} -> names,
    duplicates removed (trainlist repeats manmade_yacht03), order kept."""
    root = Path(root)
    path = root / NAMELIST_MAT
    variables = load_mat(path)
    found = {split: key for split, key in NAMELIST_KEYS.items() if key in variables}
    if not found:
        raise SalprepError(f"none of {list(NAMELIST_KEYS.values())} in it (variables: {sorted(variables)})", path)
    names = None
    splits = {}
    for split, key in found.items():
        entries = _indices(variables[key], key, path)
        out = []
        for e in entries:
            if isinstance(e, str):
                out.append(e.strip())
                continue
            if names is None:
                names = read_video_name_list(root / VIDEO_NAME_LIST_MAT)
            if not 1 <= e <= len(names):
                raise SalprepError(f"{key} index {e} is outside VideoNameList (1..{len(names)})", path)
            out.append(names[e - 1])
        splits[split] = _dedupe(_plain(n) for n in out)
    return splits


def parse_name_splits(spec: dict) -> dict[str, list[str]]:
    """A config split definition: split -> list of names or a comma-separated string of names."""
    out = {}
    for split, value in spec.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        names = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        out[str(split)] = _dedupe(_plain(n) for n in names)
    return out


# -- fixations ------------------------------------------------------------------------------------
def frame_intervals(start_ms: np.ndarray, duration_ms: np.ndarray, fps: float, n_frames: int):
    """1-based inclusive frame ranges [s, e] of fixations (demo.m): fd = 1000/fps, s = ceil(t/fd)
    clamped >= 1, e = ceil((t+d)/fd) clamped <= N. ``s > e`` means no frame (beyond the video)."""
    fd = 1000.0 / float(fps)  # the same double operations as MATLAB, so ceil ties agree
    t = np.asarray(start_ms, np.float64)
    d = np.asarray(duration_ms, np.float64)
    s = np.maximum(np.ceil(t / fd), 1).astype(np.int64)
    e = np.minimum(np.ceil((t + d) / fd), n_frames).astype(np.int64)
    return s, e


def centre_start_mask(fixdata: np.ndarray, width: int, height: int) -> np.ndarray:
    """True for the rows skipped as a subject's fixation-cross start (demo.m's ``beginflag``).

    A subject starts at row 0, where start times decrease, or where the subject id changes.
    From there rows are skipped until one lies outside both central bands -- |x - W/2| > c and
    |y - H/2| > c, c = round(H/20) (MATLAB round) -- and inside the frame (0 < x < W, 0 < y < H);
    that row and every later row of the subject are kept."""
    subj, t, x, y = fixdata[:, 0], fixdata[:, 1], fixdata[:, 3], fixdata[:, 4]
    c = math.floor(height / 20 + 0.5)
    ok = ((np.abs(x - width / 2) > c) & (np.abs(y - height / 2) > c)
          & (x > 0) & (x < width) & (y > 0) & (y < height))
    new = np.ones(len(t), bool)
    if len(t) > 1:
        new[1:] = (t[1:] < t[:-1]) | (subj[1:] != subj[:-1])
    skip = np.zeros(len(t), bool)
    started = False
    for k in range(len(t)):
        if new[k]:
            started = False
        if not started:
            if ok[k]:
                started = True
            else:
                skip[k] = True
    return skip


def fixations_per_frame(fixdata: np.ndarray, fps: float, n_frames: int, width: int, height: int) -> dict:
    """Per-frame 0-based points of LEDOV fixdata, as demo.m builds ``fixationPerFrame``.

    Returns:
        {"points": list of (N_t, 2) int64 (x, y) per frame (row order within a frame; duplicates
        kept), "out_of_frame": rows outside the frame, "beyond": in-frame rows with no frame of
        the video (start after its end, or no valid time), "skipped": centre-start rows (in-frame)}.
    """
    fix = np.asarray(fixdata, np.float64).reshape(-1, 5)
    x, y = fix[:, 3], fix[:, 4]
    timed = np.isfinite(fix[:, 1]) & np.isfinite(fix[:, 2])
    skip = centre_start_mask(fix, width, height)
    # 0 < x < W and 0 < y < H (1-based); floor(x) - 1 must also be a pixel (0 < x < 1 is not)
    inside = (x >= 1) & (x < width) & (y >= 1) & (y < height)
    out_of_frame = ~inside
    never = (n_frames + 1) * 1000.0 / float(fps)  # NaN times: no frame
    s, e = frame_intervals(np.where(timed, fix[:, 1], never), np.where(timed, fix[:, 2], 0.0), fps, n_frames)
    use = ~skip & inside
    beyond = use & (s > e)
    use &= s <= e
    rows = np.nonzero(use)[0]
    lengths = (e[rows] - s[rows] + 1).astype(np.int64)
    row_of = np.repeat(rows, lengths)
    first = np.repeat(s[rows] - 1, lengths)
    offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    frame = first + offset
    order = np.argsort(frame, kind="stable")
    frame, row_of = frame[order], row_of[order]
    px = np.stack([np.floor(x[row_of]), np.floor(y[row_of])], axis=1).astype(np.int64) - 1
    bounds = np.searchsorted(frame, np.arange(n_frames + 1))
    points = [px[bounds[k]:bounds[k + 1]] for k in range(n_frames)]
    return {"points": points, "out_of_frame": int(out_of_frame.sum()), "beyond": int(beyond.sum()),
            "skipped": int((skip & inside).sum())}


class LEDOV(VideoDataset):
    """``<root>/<name>/<name>.mp4`` + ``<name>/Data.mat``; splits from ``namelist.mat``
    (overridden by a config ``splits``: split -> list of names or "a,b,c")."""

    layout = "ledov"
    gt_preset = "ledov"
    fixation_sources = ("datamat",)
    expected_layout = "'<name>/<name>.mp4 + <name>/Data.mat' folders (with namelist.mat, VideoNameList.mat)"

    def __init__(self, root, splits=None):
        self._configured = splits is not None
        self._namelist = None
        super().__init__(root, parse_name_splits(splits) if splits is not None else None)
        self._cache: dict = {}

    # -- splits: the config's, else namelist.mat's (read when first needed) ---------------------
    @property
    def splits(self) -> dict[str, list[str]]:
        if self._configured:
            return self._config_splits
        if self._namelist is None:
            if not (self.root / NAMELIST_MAT).is_file():
                return {}
            self._namelist = read_namelist_splits(self.root)
        return self._namelist

    @splits.setter
    def splits(self, value) -> None:
        self._config_splits = {k: list(v) for k, v in (value or {}).items()}

    # -- the root -------------------------------------------------------------------------------
    def missing_from_root(self):
        if not self.root.is_dir():
            return "the root folder itself"
        if (self.root / NAMELIST_MAT).is_file():
            return None
        if any((p / DATA_MAT).is_file() for p in self.root.iterdir() if p.is_dir()):
            return None
        return f"<name>/{DATA_MAT} video folders (or {NAMELIST_MAT})"

    # -- videos -----------------------------------------------------------------------------------
    def videos(self, split=None):
        if split is None:
            if not self.root.is_dir():
                return []
            found = []
            for p in self.root.iterdir():
                if not p.is_dir():
                    continue
                try:
                    _plain(p.name)
                except SalprepError:
                    continue
                if (p / DATA_MAT).is_file() or any((p / f"{p.name}{sfx}").is_file() for sfx in VIDEO_SUFFIXES):
                    found.append(p.name)
            return sorted(found)
        splits = self.splits
        if split not in splits:
            if not splits and not self._configured:
                raise SalprepError(f"no split {split!r}: no {NAMELIST_MAT} and no splits configured", self.root)
            raise SalprepError(f"unknown split {split!r}; configured: {sorted(splits)}")
        return list(splits[split])

    def video_path(self, video):
        folder = self.root / _plain(video)
        for suffix in VIDEO_SUFFIXES:
            candidate = folder / f"{video}{suffix}"
            if candidate.is_file():
                return candidate
        return folder / f"{video}.mp4"

    def frame_rate(self, video):
        path = self._data_path(video)
        if not path.is_file():
            return None
        return self._data(video)["VideoFrameRate"]

    # -- annotations ------------------------------------------------------------------------------
    def _data_path(self, video) -> Path:
        return self.root / _plain(video) / DATA_MAT

    def _data(self, video) -> dict:
        path = self._data_path(video)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise SalprepError(f"annotation file not found (expected <name>/{DATA_MAT})", path) from None
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._cache:
            self._cache = {key: read_data_mat(path)}  # one video at a time
        return self._cache[key]

    def has_annotations(self, video):
        return self._data_path(video).is_file()

    def annotation_dir(self, video):
        return self.root / _plain(video)

    def annotation_files(self, video):
        path = self._data_path(video)
        return [path] if path.is_file() else []

    def shipped_map_files(self, video):
        return []

    def fixations(self, video, info: FrameInfo, source=None, **options) -> VideoFixations:
        self.check_source(source)
        unknown = sorted(k for k, v in options.items() if v)
        if unknown:
            raise SalprepError(f"the {self.layout} layout takes no fixation options (got {unknown})", self.root)
        path = self._data_path(video)
        data = self._data(video)
        w, h = data["VideoSize"]
        if (w, h) != (int(info.width), int(info.height)):
            raise SalprepError(f"Data.VideoSize is {w}x{h} but the video is {info.width}x{info.height}", path)
        if data["VideoFrames"] != int(info.frames):
            raise SalprepError(f"Data.VideoFrames is {data['VideoFrames']} but the video decodes to "
                               f"{info.frames} frames", path)
        res = fixations_per_frame(data["fixdata"], data["VideoFrameRate"], int(info.frames), w, h)
        dropped = res["out_of_frame"] + res["beyond"]
        if dropped:
            log.warning("%s: %d of %d fixations dropped (%d outside the %dx%d frame, %d beyond the %d-frame video); "
                        "%d skipped as fixation-cross starts", video, dropped, len(data["fixdata"]),
                        res["out_of_frame"], w, h, res["beyond"], info.frames, res["skipped"])
        return VideoFixations(points=res["points"], sources=[path], dropped=dropped, combine="count")


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
