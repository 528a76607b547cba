"""Dataset adapters: one per on-disk layout, one common interface (:class:`VideoDataset`)."""

from __future__ import annotations

from pathlib import Path

import importlib

from salprep.datasets.base import FrameInfo, VideoDataset, VideoFixations
from salprep.datasets.dhf1k import DHF1K, parse_video_spec
from salprep.errors import SalprepError

#: layout name -> "module:Class" of its adapter (imported when first opened)
LAYOUTS: dict[str, str] = {
    "dhf1k": "salprep.datasets.dhf1k:DHF1K",
    "ledov": "salprep.datasets.ledov:LEDOV",
    "hollywood": "salprep.datasets.frame_folders:Hollywood2",
    "ucf": "salprep.datasets.frame_folders:UCFSports",
    "salicon": "salprep.datasets.salicon:SALICON",
}


def adapter_class(layout: str) -> type[VideoDataset]:
    """The adapter class of ``layout``; one line for an unknown layout."""
    if layout not in LAYOUTS:
        raise SalprepError(f"unknown dataset layout {layout!r}; known: {sorted(LAYOUTS)}")
    module, name = LAYOUTS[layout].split(":")
    return getattr(importlib.import_module(module), name)


def open_dataset(layout: str, root: str | Path, splits: dict | None = None) -> VideoDataset:
    """An adapter for ``root`` laid out as ``layout`` (e.g. "dhf1k")."""
    return adapter_class(layout)(root, splits=splits)


__all__ = ["DHF1K", "FrameInfo", "LAYOUTS", "VideoDataset", "VideoFixations", "adapter_class", "open_dataset",
           "parse_video_spec"]
