"""Seeded random checkpoints in the original file formats, for the demo and the tests.

No pretrained weights can be downloaded by the pipeline. ``salprep demo-data --weights-out DIR``
writes, for every loader salprep has, checkpoint files laid out exactly like the original
releases (same keys, shapes, non-tensor entries and legacy serialisation) plus a sidecar
``<file>.json`` marking each as ``random-init``, which every artifact made from it records as
its ``weights``. The registry :data:`RANDOM_CHECKPOINTS` names them; the workflow's default
``checkpoints:`` config points at these files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from salprep.checkpoints import mark_random_init, save_original


@dataclass(frozen=True)
class RandomCheckpoint:
    """One original checkpoint file the demo fakes: its file name and its state_dict maker."""

    file: str
    state: Callable[[int], dict]
    info: dict


def _spynet(seed: int) -> dict:
    from salprep.flow.spynet import random_spynet_state_dict

    return random_spynet_state_dict(seed, "moduleBasic")


def _i3d(modality: str) -> Callable[[int], dict]:
    def make(seed: int) -> dict:
        from salprep.models.i3d import random_i3d_state_dict

        return random_i3d_state_dict(seed, modality)

    return make


def _monodepth(part: int) -> Callable[[int], dict]:
    def make(seed: int) -> dict:
        from salprep.models.monodepth import random_monodepth2_state_dicts

        return random_monodepth2_state_dicts(seed)[part]

    return make


#: config ``checkpoints:`` key -> the random-init file written for it
RANDOM_CHECKPOINTS: dict[str, RandomCheckpoint] = {
    "spynet": RandomCheckpoint("network-sintel-final.random.pytorch", _spynet, {"key_style": "moduleBasic"}),
    "i3d_rgb": RandomCheckpoint("rgb_imagenet.random.pt", _i3d("rgb"), {"modality": "rgb"}),
    "i3d_flow": RandomCheckpoint("flow_imagenet.random.pt", _i3d("flow"), {"modality": "flow"}),
    "monodepth_encoder": RandomCheckpoint("mono_640x192.encoder.random.pth", _monodepth(0), {"size": "640x192"}),
    "monodepth_decoder": RandomCheckpoint("mono_640x192.depth.random.pth", _monodepth(1), {"size": "640x192"}),
}


def write_random_checkpoints(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write every random-init checkpoint into ``out_dir``; returns config key -> path.

    Each file gets its own seed derived from ``seed`` (``seed * 1000 + position``), so the five
    networks do not share weights; the sidecar records it.
    """
    out = Path(out_dir)
    written = {}
    for position, (name, ckpt) in enumerate(RANDOM_CHECKPOINTS.items()):
        file_seed = seed * 1000 + position
        path = save_original(ckpt.state(file_seed), out / ckpt.file)
        mark_random_init(path, seed=file_seed, loader=name, **ckpt.info)
        written[name] = path
    return written
