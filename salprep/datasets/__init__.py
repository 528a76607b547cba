"""Dataset adapters: one per on-disk layout, one common interface (:class:`VideoDataset`)."""

from __future__ import annotations

import re
from pathlib import Path

import importlib

from salprep.datasets.base import FrameInfo, VideoDataset, VideoFixations
from salprep.datasets.dhf1k import DHF1K
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


def parse_video_spec(spec) -> list[int]:
    """Video numbers from a config split: a list of ints/ranges or a string like "1-600,605".

    >>> parse_video_spec("1-3,7")
    [1, 2, 3, 7]
    >>> parse_video_spec([1, "601-602"])
    [1, 601, 602]
    """
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[int] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise SalprepError(f"empty video range {part!r} in split definition")
                out.extend(range(lo, hi + 1))
            elif part.isdigit():
                out.append(int(part))
            else:
                raise SalprepError(f"bad video number or range {part!r} in split definition")
    return out


def open_dataset(layout: str, root: str | Path, splits: dict | None = None) -> VideoDataset:
    """An adapter for ``root`` laid out as ``layout`` (e.g. "dhf1k")."""
    return adapter_class(layout)(root, splits=splits)


__all__ = ["DHF1K", "FrameInfo", "LAYOUTS", "VideoDataset", "VideoFixations", "adapter_class", "open_dataset",
           "parse_video_spec"]
