"""tqdm progress bars: shown on a terminal, silent in logs and pipes unless forced.

``SALPREP_PROGRESS=1`` forces bars on (e.g. to follow a Snakemake job's log with ``tail -f``),
``SALPREP_PROGRESS=0`` forces them off.
"""

from __future__ import annotations

import os


def disabled(enabled: bool = True) -> bool | None:
    """tqdm's ``disable`` for a bar: True off, False on, None = on only on a terminal."""
    forced = os.environ.get("SALPREP_PROGRESS")
    if not enabled or forced == "0":
        return True
    if forced == "1":
        return False
    return None


def progress(iterable=None, *, enabled: bool = True, **kwargs):
    """A tqdm bar over ``iterable`` (tqdm is imported here: modules that only mention a bar
    import without it)."""
    from tqdm import tqdm

    return tqdm(iterable, disable=disabled(enabled), dynamic_ncols=True, **kwargs)


def dask_progress(*, enabled: bool = True, **kwargs):
    """tqdm.dask.TqdmCallback (one step per finished Dask task) with the same on/off rules."""
    from tqdm.dask import TqdmCallback

    return TqdmCallback(disable=disabled(enabled), dynamic_ncols=True, **kwargs)
