"""LEDOV's MAT files: Data.mat (v5 or v7.3), namelist.mat (v5) and VideoNameList.mat (v7.3)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salprep.datasets.base import parse_name_spec
from salprep.errors import SalprepError

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
    if obj.dtype.kind in ("S", "U") or h5py.check_string_dtype(obj.dtype) is not None:
        # plain strings (how other tools write names; MATLAB writes uint16 chars)
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
    return {str(split): _dedupe(parse_name_spec(value, "LEDOV video id")) for split, value in spec.items()}


