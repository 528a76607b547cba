"""The interface every dataset adapter implements, and nothing bypasses.

An adapter knows one on-disk layout (DATASETS.md): which videos there are per split, where a
video's frames come from (an encoded file in any container PyAV reads, a folder of frame images,
or a single image), which files hold its annotations, how to turn them into per-frame fixation
points, which published maps it ships, and the GT preset of its paper. Stages and rules use only
this interface (:func:`salprep.datasets.open_dataset`).
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError
from salprep.image_frames import image_files, image_size


@dataclass
class VideoFixations:
    """The fixations of every frame of one video, as the adapter read them.

    Attributes:
        points: one (N_t, 2) int64 array per frame of 0-based (x, y) pixels inside the frame; a
            point may repeat (two observers, or one fixation lasting several samples).
        sources: the files the points were read from (their hash is the GT shard's provenance).
        dropped: samples dropped as outside the frame or beyond the video's duration.
        combine: ``"union"`` -- the GT blurs the binary map of fixated pixels (DHF1K,
            Hollywood-2, UCF-Sports, SALICON); ``"count"`` -- it blurs the count map, so repeated
            points weigh more (LEDOV's make_gauss_masks4.m adds duplicates).
    """

    points: list[np.ndarray]
    sources: list[Path]
    dropped: int = 0
    combine: str = "union"

    def __len__(self) -> int:
        return len(self.points)

    def frame_map(self, t: int, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) uint8 of frame ``t``: 0/1 (``union``) or the number of fixations per pixel,
        saturating at 255 (``count``)."""
        out = np.zeros(shape, np.uint16)
        pts = self.points[t]
        if len(pts):
            np.add.at(out, (pts[:, 1], pts[:, 0]), 1)
        if self.combine == "union":
            return (out > 0).astype(np.uint8)
        return np.minimum(out, 255).astype(np.uint8)


@dataclass(frozen=True)
class FrameInfo:
    """What an adapter needs to know of a video to place its fixations (from ``probe_video``).

    ``width`` x ``height``: the decoded frames, in display orientation (rotation metadata is
    applied, :mod:`salprep.video`); ``size_note``: ``VideoInfo.size_note()`` -- empty, or which
    rotation was applied and the stored size, for size messages (:meth:`size_text`).
    """

    frames: int
    width: int
    height: int
    fps: float
    size_note: str = ""

    def size_text(self) -> str:
        """``"80x48"``, with the rotation note when there is one: what "the video is ..." says."""
        return f"{self.width}x{self.height}{self.size_note}"


class VideoDataset(abc.ABC):
    """A video (or image) eye-tracking dataset on disk.

    Video ids are strings as they appear in file names (DHF1K: "001", "1000"; LEDOV:
    "animal_alpaca01"); frames are 0-based inside salprep.
    """

    #: layout name (a key of :data:`salprep.datasets.LAYOUTS`)
    layout: str = ""
    #: GT preset name in :data:`salprep.gt.GT_PRESETS`
    gt_preset: str = "dhf1k"
    #: where fixations can be read from (``--fixations``); the first is the default
    fixation_sources: tuple[str, ...] = ("default",)
    #: what :meth:`check_root` expects, for its one-line error
    expected_layout: str = ""

    def __init__(self, root: str | Path, splits: dict | None = None):
        """``splits``: the config's (split -> its videos as :meth:`parse_splits` reads them), or
        None for the layout's own (:meth:`default_splits`)."""
        self.root = Path(root)
        self.configured_splits = None if splits is None else self.parse_splits(splits)

    @property
    def splits(self) -> dict[str, list[str]]:
        """The configured splits, else the layout's own."""
        if self.configured_splits is not None:
            return self.configured_splits
        return self.default_splits()

    def parse_splits(self, spec: dict) -> dict[str, list[str]]:
        """A config split definition as video ids: split -> names (a list, or a comma-separated
        string; :func:`parse_name_spec`). DHF1K reads number ranges instead."""
        return {str(split): parse_name_spec(value) for split, value in spec.items()}

    def default_splits(self) -> dict[str, list[str]]:
        """The layout's own splits (its release's split files or folders); none by default."""
        return {}

    # -- the root ---------------------------------------------------------------------------
    def check_root(self) -> None:
        """Raise one line when ``root`` is not laid out as this layout: which layout was
        expected and what is missing."""
        missing = self.missing_from_root()
        if missing:
            raise SalprepError(f"not a {self.layout} dataset: expected {self.expected_layout}; "
                               f"missing {missing}", self.root)

    @abc.abstractmethod
    def missing_from_root(self) -> str | None:
        """What of the layout is missing under ``root`` (a short phrase), or None."""

    # -- videos -----------------------------------------------------------------------------
    @abc.abstractmethod
    def videos(self, split: str | None = None) -> list[str]:
        """Video ids, in the dataset's order; all videos found on disk when ``split`` is None
        (a split: :meth:`split_videos`)."""

    def split_videos(self, split: str) -> list[str]:
        """The videos of one configured split; one line for a split the dataset does not have."""
        splits = self.splits
        if split not in splits:
            raise SalprepError(f"unknown split {split!r}; configured: {sorted(splits)}")
        return list(splits[split])

    @abc.abstractmethod
    def video_path(self, video: str) -> Path:
        """Where the frames of ``video`` are: an encoded video (any container PyAV reads), a
        folder of frame images, or one image file -- anything :mod:`salprep.video` reads."""

    def frame_rate(self, video: str) -> float | None:
        """The frame rate the annotations assume, when the dataset states one (LEDOV's
        Data.mat; frame folders have none); None: the container's."""
        return None

    # -- annotations ------------------------------------------------------------------------
    @abc.abstractmethod
    def has_annotations(self, video: str) -> bool:
        """Whether fixations exist for ``video`` (test sets often have none)."""

    @abc.abstractmethod
    def annotation_dir(self, video: str) -> Path:
        """The folder (or file) holding ``video``'s annotations (it may not exist yet); the
        workflow's GT jobs depend on it."""

    @abc.abstractmethod
    def annotation_files(self, video: str) -> list[Path]:
        """Every file the GT of ``video`` is read from (fixations and shipped maps), without
        checks: [] when there are none. The workflow digests their contents to notice in-place
        edits (:mod:`salprep.datasets.digest`)."""

    @abc.abstractmethod
    def fixations(self, video: str, info: FrameInfo, source: str | None = None, **options) -> VideoFixations:
        """The fixations of every frame of ``video`` (``info``: its decoded frame count, size and
        frame rate). ``source``: one of :attr:`fixation_sources` (None: the first).

        Raises:
            SalprepError: missing or unreadable annotations, a frame count that does not match
                ``info.frames``, maps of another size than the video.
        """

    def shipped_map_files(self, video: str) -> list[Path]:
        """Published continuous GT maps, one per frame; empty when the dataset ships none."""
        return []

    def check_source(self, source: str | None) -> str:
        """``source`` (or the default) if this layout reads fixations from it; else one line."""
        if source is None:
            return self.fixation_sources[0]
        if source not in self.fixation_sources:
            raise SalprepError(f"the {self.layout} layout reads fixations from {list(self.fixation_sources)}, "
                               f"not {source!r}", self.root)
        return source


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """Sort key comparing runs of digits as numbers (``shot_2`` before ``shot_10``)."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(name)]


def parse_name_spec(spec, kind: str = "video") -> list[str]:
    """Video names from a config split: a list of names or a comma-separated string; each must
    be a plain name (``kind`` names it in the error).

    >>> parse_name_spec("a, b")
    ['a', 'b']
    >>> parse_name_spec(["a", "b,c"])
    ['a', 'b', 'c']
    """
    from salprep.store import check_plain_name

    items = spec if isinstance(spec, (list, tuple)) else [spec]
    names = [part.strip() for item in items for part in str(item).split(",")]
    return [check_plain_name(kind, n) for n in names if n]


#: what each folder of a video's annotation folder holds, for messages
ANNOTATION_KINDS = {"fixation": "fixation map", "maps": "saliency map"}


def check_annotation_folder(folder: Path, info: FrameInfo) -> dict[str, int]:
    """Check a video's annotation folder against the video, reading only image headers.

    ``fixation/*`` (and ``maps/*``, when there are any), the per-frame images of the DHF1K,
    Hollywood-2 and UCF-Sports layouts in the numeric order of the last number in their names
    (:func:`salprep.image_frames.image_files`), must number ``info.frames`` files, each the
    size of the video as displayed (``info.width`` x ``info.height``; a mismatch names the
    video's size as :meth:`FrameInfo.size_text` does, with its rotation).

    Returns:
        ``{"fixation": count, "maps": count}`` (``maps`` only when the folder has maps).

    Raises:
        SalprepError: no folder, no fixation maps, a count that differs from ``info.frames``,
        an unreadable image, or an image of another size (the first such file is named, with
        how many more there are).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SalprepError("annotation folder not found", folder)
    counts, found = {}, {}
    for sub in ANNOTATION_KINDS:
        files = image_files(folder / sub) if (folder / sub).is_dir() and any((folder / sub).iterdir()) else []
        if files or sub == "fixation":
            counts[sub] = len(files)
            found[sub] = files
    if counts.get("fixation", 0) == 0:
        raise SalprepError("no fixation/NNNN.png files", folder)
    for sub, n in counts.items():
        if n != info.frames:
            raise SalprepError(f"{sub}/ has {n} frames but the video decodes to {info.frames}", folder / sub)
    video_size = (info.width, info.height)
    wrong = [(sub, path, size) for sub, files in found.items() for path in files
             if (size := image_size(path, "not a readable image")) != video_size]
    if wrong:
        sub, path, (w, h) = wrong[0]
        more = len(wrong) - 1
        tail = f" (and {more} more file{'s' if more > 1 else ''})" if more else ""
        raise SalprepError(f"{ANNOTATION_KINDS[sub]} is {w}x{h} but the video is {info.size_text()}{tail}", path)
    return counts


def points_of_binary_map(fixated: np.ndarray) -> np.ndarray:
    """(N, 2) int64 (x, y) of the nonzero pixels of an (H, W) map."""
    ys, xs = np.nonzero(fixated)
    return np.stack([xs, ys], axis=1).astype(np.int64)
