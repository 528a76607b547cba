"""Options every per-video stage command shares (``flow``, ``depth``, ``features``).

Defaults come from the stage's ``build_*`` signature (:func:`salprep.stages.runner.defaults`),
the one place each is stated.
"""

from __future__ import annotations

from salprep.stages.runner import DTYPES


def add_stage_arguments(p, defaults: dict, unit: str) -> None:
    """``--out``, ``--dataset-name``, ``--video-id`` and, where the stage has them, ``--device``,
    ``--dtype`` and ``--batch-size`` (``unit``: what a batch counts, e.g. "windows")."""
    p.add_argument("--out", required=True, help="output shard (.h5)")
    p.add_argument("--dataset-name", default="unknown", help="dataset name recorded in the shard")
    p.add_argument("--video-id", default=None, help="video id recorded in the shard (default: file stem)")
    if "device" in defaults:
        p.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    if "dtype" in defaults:
        p.add_argument("--dtype", choices=DTYPES, default=defaults["dtype"],
                       help="autocast dtype (default: %(default)s)")
    if "batch_size" in defaults:
        p.add_argument("--batch-size", type=int, default=defaults["batch_size"],
                       help=f"{unit} per batch (default: %(default)s)")
