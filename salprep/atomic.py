"""The one atomic-write helper: every file salprep writes appears complete or not at all.

:func:`atomic_output` yields a hidden temporary path in the destination's own folder
(``.<stem>.<key>.tmp<suffix>``, so ``001.h5`` is written as ``.001.<key>.tmp.h5``); the
caller writes it, and on a clean exit it is fsynced and renamed over the destination. On any
exception (or KeyboardInterrupt) the temporary file or folder is removed and an existing
destination is left untouched.

Writers of one destination know of each other through their temporaries: each writer holds an
exclusive ``flock`` on its own temporary for as long as it writes (the kernel drops it when
the process dies, however it dies). So when a writer starts,

* a temporary of the same destination that nobody holds was left by a dead writer (kill -9,
  power loss) and is removed;
* one that is held belongs to a live writer: the newcomer fails at once with one line
  (:class:`~salprep.errors.SalprepError`), and the first writer finishes undisturbed. The
  same check runs again just before the rename, so of two writers that start at the same
  instant exactly one (the one whose temporary name sorts first) completes.

A full disk, a file-size limit or an exceeded quota (ENOSPC, EFBIG, EDQUOT) while writing
becomes one line naming the destination; the temporary is removed. A destination that cannot
be written at all (a folder where a file is expected or the reverse, a folder the user may not
write, a read-only filesystem) is refused by :func:`check_output` before anything is written;
commands that compute before they write call it first, so they refuse before any work.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from salprep.errors import NOT_ALLOWED, SalprepError

log = logging.getLogger(__name__)

TMP_MARK = ".tmp"
#: errors that mean "no room to write": reported as one line, never a traceback
DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _parts(path: Path) -> tuple[str, str]:
    suffix = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return stem, suffix


#: a temporary's key: start time in ns (hex digits) then random hex digits
_CLOCK_DIGITS, _RANDOM_DIGITS = 16, 6


def temp_name(path: str | os.PathLike) -> Path:
    """A fresh hidden temporary name for ``path``: ``.<stem>.<key>.tmp<suffix>``, where the key
    (start time in ns, hex, then random) sorts writers of one destination by when they started."""
    path = Path(path)
    stem, suffix = _parts(path)
    key = f"{time.time_ns():0{_CLOCK_DIGITS}x}{uuid.uuid4().hex[:_RANDOM_DIGITS]}"
    return path.with_name(f".{stem}.{key}{TMP_MARK}{suffix}")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`temp_name`'s hidden temporaries."""
    return name.startswith(".") and f"{TMP_MARK}" in name


def temps_of(path: str | os.PathLike) -> list[Path]:
    """Every temporary of ``path`` in its folder (live writers' and dead ones'), oldest first."""
    path = Path(path)
    stem, suffix = _parts(path)
    prefix, end = f".{stem}.", f"{TMP_MARK}{suffix}"
    key_len = _CLOCK_DIGITS + _RANDOM_DIGITS
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found = [n for n in names if n.startswith(prefix) and n.endswith(end)
             and len(n) == len(prefix) + key_len + len(end)]
    return [path.parent / n for n in sorted(found)]


def _lock(tmp: Path) -> int | None:
    """An fd holding an exclusive flock on ``tmp``, or None when another process holds it."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_held(tmp: str | os.PathLike) -> bool:
    """Whether a live writer holds the temporary ``tmp`` (False once it is gone)."""
    fd = _lock(Path(tmp))
    if fd is None:
        return Path(tmp).exists()
    os.close(fd)
    return False


def remove_temp(tmp: str | os.PathLike) -> bool:
    """Remove a dead writer's temporary (file or folder); False (kept) when a live writer holds it."""
    tmp = Path(tmp)
    fd = _lock(tmp)
    if fd is None:
        return not tmp.exists()
    try:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
    finally:
        os.close(fd)
    return True


def _other_writers(path: Path, mine: Path) -> list[Path]:
    """Remove dead writers' temporaries of ``path``; return live writers' that started before ours."""
    earlier = []
    for tmp in temps_of(path):
        if tmp == mine:
            continue
        if remove_temp(tmp):
            log.info("%s: removed %s, left by a writer that died", path, tmp.name)
        elif tmp.name < mine.name:
            earlier.append(tmp)
    return earlier


def _refuse_if_busy(path: Path, mine: Path) -> None:
    busy = _other_writers(path, mine)
    if busy:
        raise SalprepError(f"another process is writing this file now (its temporary {busy[0].name}); "
                           "wait for it to finish or stop it, then run again", path)


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


def disk_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the file-size limit, or the quota) is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def check_output(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """Refuse, with one line, a destination :func:`atomic_output` could not write: a folder
    where a file is expected (or a file where a folder is), a parent that is a file, a folder the
    user may not write. Creates no file; returns ``path``.

    Permissions are read with :func:`os.access` (the effective uid; root passes it): a write
    that is refused all the same (root squash on NFS, ACLs, a read-only mount) becomes the same
    kind of line in :func:`atomic_output`.
    """
    path = Path(path)
    if path.is_dir() and not directory:
        raise SalprepError("is a folder; give the file to write", path)
    if path.exists() and not path.is_dir() and directory:
        raise SalprepError("is a file; give the folder to write", path)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SalprepError(f"cannot write here: {parent} is not a folder", path)
    if not os.access(parent, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise SalprepError(f"cannot write here: {os.strerror(errno.EACCES)} (folder {parent})", path)
    return path


def _refuse_not_allowed(exc: OSError, path: Path) -> None:
    if exc.errno in NOT_ALLOWED:
        raise SalprepError(f"cannot write here: {os.strerror(exc.errno)} (folder {path.parent})", path) from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Write ``path`` atomically: yield a temporary path, rename it into place on success.

    Args:
        path: the destination file (or folder with ``directory=True``; the temporary folder is
            created, and an existing destination folder is replaced whole).

    Raises:
        SalprepError: another live process is writing ``path``; or the disk, quota or file-size
            limit is full (the temporary is removed, an existing ``path`` is untouched).
    """
    path = check_output(path, directory=directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(path)
        if directory:
            tmp.mkdir()
            fd = os.open(tmp, os.O_RDONLY)
        else:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666)
    except OSError as exc:
        if disk_error(exc):
            raise SalprepError(f"cannot create the folder: {exc.strerror}", path.parent) from None
        _refuse_not_allowed(exc, path)
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours alone: the name is new
        _refuse_if_busy(path, tmp)
        yield tmp
        if not directory:
            _fsync(tmp)
        _refuse_if_busy(path, tmp)
        if directory and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        if disk_error(exc):
            raise SalprepError(f"cannot write: {os.strerror(exc.errno)} (errno {exc.errno}); nothing was "
                               "written and any earlier file is unchanged", path) from None
        raise
    finally:
        try:
            if tmp.is_dir():
                shutil.rmtree(tmp)
            elif tmp.exists():
                tmp.unlink()
        finally:
            os.close(fd)
