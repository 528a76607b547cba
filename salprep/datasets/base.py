"""The interface every dataset adapter implements."""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np


class VideoDataset(abc.ABC):
    """A video eye-tracking dataset on disk.

    Video ids are strings as they appear in file names (DHF1K: "001", "1000"); frames are
    0-based inside salprep.
    """

    #: GT preset name in :data:`salprep.gt.GT_PRESETS`
    gt_preset: str = "dhf1k"

    def __init__(self, root: str | Path, splits: dict | None = None):
        self.root = Path(root)
        self.splits = {name: list(ids) for name, ids in (splits or {}).items()}

    @abc.abstractmethod
    def videos(self, split: str | None = None) -> list[str]:
        """Video ids, in numeric order; all videos found on disk when ``split`` is None."""

    @abc.abstractmethod
    def video_path(self, video: str) -> Path:
        """The encoded video file."""

    @abc.abstractmethod
    def has_annotations(self, video: str) -> bool:
        """Whether fixations exist for ``video`` (test sets often have none)."""

    @abc.abstractmethod
    def fixation_files(self, video: str) -> list[Path]:
        """The per-frame annotation files that define the frame count, frame order."""

    @abc.abstractmethod
    def read_fixations(self, video: str, frame: int, shape: tuple[int, int]) -> np.ndarray:
        """Binary fixation map (H, W) bool of 0-based ``frame``; checks it has ``shape``."""

    @abc.abstractmethod
    def annotation_dir(self, video: str) -> Path:
        """The folder holding ``video``'s annotations (it may not exist yet)."""

    @abc.abstractmethod
    def annotation_files(self, video: str) -> list[Path]:
        """Every file the GT of ``video`` is read from (fixations and shipped maps), under
        :meth:`annotation_dir`, without checks: [] when there are none. The workflow digests
        their contents to notice in-place edits (:mod:`salprep.datasets.digest`)."""

    def shipped_map_files(self, video: str) -> list[Path]:
        """Published continuous GT maps, one per frame; empty when the dataset ships none."""
        return []
