"""tqdm progress bars: shown on a terminal, silent in logs and pipes unless forced.

``SALPREP_PROGRESS=1`` forces bars on (e.g. to follow a Snakemake job's log with ``tail -f``),
``SALPREP_PROGRESS=0`` forces them off.
"""

from __future__ import annotations

import os

from tqdm import tqdm


def progress(iterable=None, *, enabled: bool = True, **kwargs) -> tqdm:
    forced = os.environ.get("SALPREP_PROGRESS")
    if not enabled or forced == "0":
        disable = True
    elif forced == "1":
        disable = False
    else:
        disable = None  # tqdm: on only when the output is a terminal
    return tqdm(iterable, disable=disable, dynamic_ncols=True, **kwargs)
