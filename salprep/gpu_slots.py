"""GPU slots: on one machine with N GPUs, each concurrent job sees only its own GPU.

Snakemake's ``--resources gpu=N`` (the ``gpu`` profile) only limits how many GPU jobs run at once;
it does not tell a job which GPU is free. A job given ``--gpu-slots N`` (or ``SALPREP_GPU_SLOTS=N``
in its environment) takes an exclusive :func:`fcntl.flock` on one of N lock files and sets
``CUDA_VISIBLE_DEVICES`` to that slot's index, before torch initialises CUDA; the job then uses
``cuda`` (its slot's GPU is its ``cuda:0``). The lock is held for the life of the process: the
kernel releases it when the process ends, however it ends (``kill -9`` included), so a crashed job
never leaks a GPU. While all N slots are taken (jobs of another Snakemake run), it waits.

``CUDA_VISIBLE_DEVICES`` already set (by SLURM, by the user, by a parent job) is left alone and
no slot is taken. Lock files live in ``SALPREP_GPU_SLOT_DIR`` if set, else
``/tmp/salprep-gpu-slots-<uid>/`` (``gpu<i>.lock``, holding the owner's pid): one directory per
user, so two users' runs on one machine do not see each other's slots.

This module never imports torch.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from salprep.errors import SalprepError

ENV_SLOTS = "SALPREP_GPU_SLOTS"
ENV_DIR = "SALPREP_GPU_SLOT_DIR"
VISIBLE = "CUDA_VISIBLE_DEVICES"

#: the slot this process holds: (index, open lock file descriptor), kept open until exit
_held: tuple[int, int] | None = None


def slot_dir() -> Path:
    """Where the lock files live (``SALPREP_GPU_SLOT_DIR`` or ``/tmp/salprep-gpu-slots-<uid>``)."""
    return Path(os.environ.get(ENV_DIR) or f"/tmp/salprep-gpu-slots-{os.getuid()}")


def held_slot() -> int | None:
    """The slot index this process holds, or None."""
    return None if _held is None else _held[0]


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by exec'd children
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def claim(n: int, *, timeout: float | None = None, poll: float = 0.2) -> int | None:
    """Take one of ``n`` GPU slots for this process and point ``CUDA_VISIBLE_DEVICES`` at it.

    Returns the slot index, or None when nothing was done (``n`` is 0, or ``CUDA_VISIBLE_DEVICES``
    was already set by someone else). Idempotent: a second call returns the slot already held.
    Waits while every slot is taken (up to ``timeout`` seconds, None = for ever; then
    :class:`SalprepError`). Must run before torch initialises CUDA, which would not see the change.
    """
    global _held
    if _held is not None:
        return _held[0]
    if n is None or int(n) <= 0:
        return None
    n = int(n)
    if VISIBLE in os.environ:
        return None
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise SalprepError("GPU slots: CUDA is already initialised in this process, too late to pick a GPU")
    directory = slot_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SalprepError(f"GPU slots: cannot create {directory}: {exc.strerror}") from None
    start = time.monotonic()
    said = False
    while True:
        for slot in range(n):
            fd = _try_lock(directory / f"gpu{slot}.lock")
            if fd is not None:
                _held = (slot, fd)
                os.environ[VISIBLE] = str(slot)
                if said:
                    print(f"salprep: GPU slot {slot} free after {time.monotonic() - start:.1f} s", file=sys.stderr)
                return slot
        if timeout is not None and time.monotonic() - start >= timeout:
            raise SalprepError(f"GPU slots: all {n} slots in {directory} stay taken ({timeout:g} s)")
        if not said:
            print(f"salprep: all {n} GPU slots in {directory} are taken; waiting", file=sys.stderr)
            said = True
        time.sleep(poll)


def claim_from_env() -> int | None:
    """:func:`claim` with ``SALPREP_GPU_SLOTS`` from the environment (nothing when unset)."""
    value = os.environ.get(ENV_SLOTS, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        raise SalprepError(f"{ENV_SLOTS}={value!r} is not a number of GPU slots") from None
    return claim(n)


def release() -> None:
    """Give the slot back before the process ends (tests; normally the exit releases it).
    ``CUDA_VISIBLE_DEVICES`` stays as it is."""
    global _held
    if _held is not None:
        os.close(_held[1])
        _held = None
