"""The one atomic-write helper: every file salprep writes appears complete or not at all.

:func:`atomic_output` yields a hidden temporary path in the destination's own folder
(``.<stem>.<random>.tmp<suffix>``, so ``001.h5`` is written as ``.001.<random>.tmp.h5``); the
caller writes it, and on a clean exit it is fsynced and renamed over the destination. On any
exception (or KeyboardInterrupt) the temporary file or folder is removed and an existing
destination is left untouched. A killed writer leaves at most the hidden temporary, which no
reader opens (``salprep verify`` lists such leftovers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

TMP_MARK = ".tmp"


def temp_name(path: str | os.PathLike) -> Path:
    """The hidden temporary name :func:`atomic_output` writes ``path`` under."""
    path = Path(path)
    suffix = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f".{stem}.{uuid.uuid4().hex[:12]}{TMP_MARK}{suffix}")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`temp_name`'s hidden temporaries."""
    return name.startswith(".") and f"{TMP_MARK}" in name


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Write ``path`` atomically: yield a temporary path, rename it into place on success.

    Args:
        path: the destination file (or folder with ``directory=True``; the temporary folder is
            created, and an existing destination folder is replaced whole).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if directory:
            if path.exists():
                shutil.rmtree(path)
        else:
            _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
