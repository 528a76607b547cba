"""Options the per-video stage commands share (``flow``, ``depth``, ``features``; ``gt`` and
``annotation-digest`` the dataset-video ones).

Defaults come from the stage's ``build_*`` signature (:func:`salprep.stages.runner.defaults`),
the one place each is stated.
"""

from __future__ import annotations

import argparse

from salprep import gpu_slots
from salprep.errors import SalprepError
from salprep.stages.runner import DTYPES


class _ClaimGpuSlot(argparse.Action):
    """``--gpu-slots N``: take a GPU slot (:mod:`salprep.gpu_slots`) as soon as the option is parsed,
    before the command touches torch.cuda, and set ``CUDA_VISIBLE_DEVICES`` to it."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values < 0:
            parser.error(f"{option_string}: must be >= 0")
        setattr(namespace, self.dest, values)
        try:
            gpu_slots.claim(values)
        except SalprepError as exc:
            parser.error(str(exc))


def add_dataset_video_arguments(p) -> None:
    """``--root``, ``--layout`` and ``--video``: one video of a dataset on disk (``gt``,
    ``annotation-digest``)."""
    from salprep.datasets import LAYOUTS

    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--layout", default="dhf1k", choices=sorted(LAYOUTS), help="on-disk layout")
    p.add_argument("--video", required=True, help="video id as in the file name (DHF1K: 001)")


def add_stage_arguments(p, defaults: dict, unit: str) -> None:
    """``--out``, ``--dataset-name``, ``--video-id`` and, where the stage has them, ``--device``
    (with ``--gpu-slots``), ``--dtype`` and ``--batch-size`` (``unit``: what a batch counts, e.g.
    "windows")."""
    p.add_argument("--out", required=True, help="output shard (.h5)")
    p.set_defaults(outputs=[("out", False)])
    p.add_argument("--dataset-name", default="unknown", help="dataset name recorded in the shard")
    p.add_argument("--video-id", default=None, help="video id recorded in the shard (default: file stem)")
    if "device" in defaults:
        p.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda or cuda:N (default: %(default)s)")
        p.add_argument("--gpu-slots", type=int, default=0, metavar="N", action=_ClaimGpuSlot,
                       help="this machine's N GPUs are shared by concurrent jobs: take a free one (an flock "
                            "in /tmp/salprep-gpu-slots-<uid>/, held until exit) and make it the only visible "
                            "device (CUDA_VISIBLE_DEVICES); ignored when CUDA_VISIBLE_DEVICES is already set "
                            f"(env {gpu_slots.ENV_SLOTS}; default: 0, none)")
    if "dtype" in defaults:
        p.add_argument("--dtype", choices=DTYPES, default=defaults["dtype"],
                       help="autocast dtype (default: %(default)s)")
    if "batch_size" in defaults:
        p.add_argument("--batch-size", type=int, default=defaults["batch_size"],
                       help=f"{unit} per batch (default: %(default)s)")
