"""Checkpoint identity for provenance: the file's sha256, or ``"random-init"``.

No pretrained weights can be downloaded by the pipeline. The demo writes seeded random weights
in the original file formats and a sidecar ``<checkpoint>.json`` with ``{"weights":
"random-init", "seed": ...}``; every artifact made from such a file records ``random-init``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from salprep.store import sha256_file

RANDOM_INIT = "random-init"


def sidecar_path(checkpoint: str | os.PathLike) -> Path:
    p = Path(checkpoint)
    return p.with_name(p.name + ".json")


def mark_random_init(checkpoint: str | os.PathLike, seed: int, **info) -> None:
    """Write the sidecar that marks ``checkpoint`` as seeded random weights."""
    sidecar_path(checkpoint).write_text(json.dumps({"weights": RANDOM_INIT, "seed": seed, **info}) + "\n")


def weights_id(checkpoint: str | os.PathLike) -> str:
    """``"random-init"`` for marked random weights, else ``sha256:<hex>`` of the file."""
    side = sidecar_path(checkpoint)
    if side.exists():
        try:
            if json.loads(side.read_text()).get("weights") == RANDOM_INIT:
                return RANDOM_INIT
        except ValueError:
            pass
    return "sha256:" + sha256_file(checkpoint)
