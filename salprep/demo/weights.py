"""Seeded random checkpoints in the original file formats, for the demo and the tests.

No pretrained weights can be downloaded by the pipeline. ``salprep demo-data --weights-out DIR``
writes, for every loader salprep has, a checkpoint file laid out exactly like the original
release (same keys, shapes and serialisation) plus a sidecar ``<file>.json`` marking it as
``random-init``, which every artifact made from it records as its ``weights``.
"""

from __future__ import annotations

from pathlib import Path

from salprep.checkpoints import mark_random_init

#: loader name -> file name in the weights folder (named like the original releases)
CHECKPOINT_FILES = {
    "spynet": "network-sintel-final.random.pytorch",
}


def write_random_checkpoints(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write every random-init checkpoint into ``out_dir``; returns loader name -> path."""
    from salprep.flow.spynet import save_random_spynet

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    spynet = out / CHECKPOINT_FILES["spynet"]
    tmp = spynet.with_name(f".{spynet.name}.tmp")
    save_random_spynet(tmp, seed=seed)
    mark_random_init(spynet, seed=seed, loader="spynet", key_style="moduleBasic")
    tmp.replace(spynet)
    written["spynet"] = spynet
    return written
