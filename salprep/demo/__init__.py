"""A synthetic, learnable eye-tracking video dataset in the exact DHF1K layout (DATASETS.md §8).

Generation is pure and deterministic: :func:`make_video` builds one :class:`DemoVideo` from
``(seed, number)`` alone. A video is a textured, slowly panning background (smoothed multi-scale
noise plus low-contrast static structure) with 2–4 moving, textured, brightly coloured objects
(smooth curved trajectories with bounces and varying speeds; some leave and re-enter the frame).
12–17 simulated observers watch it (gaze sampled at 60 Hz, i.e. two samples per frame): each
follows a target with smooth pursuit for a while, then saccades to the next one. Targets are
mostly the visible objects, weighted towards the fastest; the rest are points near the centre
(centre bias, and the fixation cross at the start) or elsewhere (exploration). So a model that
looks at motion and appearance beats the centre-bias baseline, which still beats chance.

The gaze is written as DHF1K raw records (1440x900 screen, video scaled to the screen width and
letterboxed, events Fixation/Saccade/Blink, some fixations in the letterbox), and the fixation
maps are *exactly* what :mod:`salprep.datasets.dhf1k_gaze` (``record_mapping.m``, pairwise
points) makes of those records; the continuous maps are ``round(255·saliency_map(fix))`` with the
``dhf1k`` preset. Every frame has at least one fixation, except one designated empty frame in
the first validation video (for the NaN paths of metrics).

:func:`write_demo` writes a whole dataset; nothing is ever visible under its final name before
it is complete (videos and gaze files: temporary name + rename; each annotation folder is built
under a hidden name and renamed; ``demo.json`` is written last).

Modules: :mod:`~salprep.demo.scene` (background, objects, trajectories),
:mod:`~salprep.demo.observers` (simulated gaze, screen mapping, raw records),
:mod:`~salprep.demo.video` (:class:`DemoVideo`: rendering and fixation maps; :func:`make_video`),
:mod:`~salprep.demo.writer` (:class:`DemoSpec`, :func:`write_demo`: the dataset on disk) and
:mod:`~salprep.demo.weights` (random-init checkpoints). The names below load on first use, so the
workflow's ``from salprep.demo.weights import ...`` (every Snakemake start) imports neither
the scene nor video code.
"""

import importlib

_WHERE = {
    "EVENT_NAMES": "observers", "N_PARTICIPANTS": "observers", "SAMPLES_PER_FRAME": "observers",
    "ObserverGaze": "observers", "DEFAULT_FRAMES": "scene", "DEFAULT_SIZE": "scene", "FPS": "scene",
    "DemoObject": "scene", "DemoVideo": "video", "make_video": "video", "saliency_to_uint8": "video",
    "MANIFEST": "writer", "MARKER": "writer", "SPLIT_FIRST": "writer", "SPLIT_MAX": "writer",
    "DemoSpec": "writer", "parse_size": "writer", "write_annotation": "writer", "write_demo": "writer",
    "write_gaze": "writer",
}

__all__ = [
    "DemoObject",
    "DemoSpec",
    "DemoVideo",
    "ObserverGaze",
    "make_video",
    "parse_size",
    "saliency_to_uint8",
    "write_annotation",
    "write_demo",
    "write_gaze",
]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"salprep.demo.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'salprep.demo' has no attribute {name!r}")
