"""Hollywood-2 and UCF-Sports in the frame-folder layout of the ACLNet-era release (DATASETS.md §3).

```
<root>/training/<video>/images/    frames, one image per frame
<root>/training/<video>/fixation/  binary fixation PNG per frame, fixated pixels > 0
<root>/training/<video>/maps/      published continuous map PNG per frame
<root>/testing/<video>/...         the same for the test videos
```
Hollywood-2 has one folder per shot, ``actioncliptrain00001_2/actioncliptrain00001_00011.png``:
the frame number is the clip-global index (the first shot starts at 3, frames are missing at the
cuts), so it is read from disk, never assumed to start at 1. UCF-Sports:
``Diving-Side-001/Diving-Side_001_001.png`` (3 digits, from 1). Frames are ordered by the last
number in their names (numerically); ``images/``, ``fixation/`` and ``maps/`` must carry the same
frame numbers. Video ids are the folder names. The frame rate of both sets is unconfirmed:
:meth:`frame_rate` says None (``default_fps``).
"""

from __future__ import annotations

import re
from pathlib import Path

from salprep.datasets.base import VideoDataset, VideoFixations, natural_key, points_of_binary_map
from salprep.errors import SalprepError
from salprep.image_frames import frame_number, image_files, read_gray_image
from salprep.store import check_plain_name

#: split name -> folder under the root (the release's own split)
SPLIT_FOLDERS = {"train": "training", "test": "testing"}
def _frame_pngs(folder: Path, strict: bool = True) -> list[Path]:
    """The PNGs of ``folder`` ordered by frame number; ``strict``: a name without a number or two
    files of one number raise, else such files are kept (sorted by name) without complaint."""
    if not folder.is_dir():
        return []
    keyed = []
    for p in folder.iterdir():
        if not (p.is_file() and p.suffix.lower() == ".png"):
            continue
        try:
            keyed.append((frame_number(p), p.name, p))
        except SalprepError:
            if strict:
                raise
            keyed.append((-1, p.name, p))
    keyed.sort()
    if strict:
        numbers = [n for n, _, _ in keyed]
        if len(set(numbers)) != len(numbers):
            dup = next(n for n in numbers if numbers.count(n) > 1)
            raise SalprepError(f"two PNGs are numbered {dup}", folder)
    return [p for _, _, p in keyed]


def _check_same_frames(video_dir: Path, expected: list[int], kind: str, files: list[Path]) -> None:
    """One line when the frame numbers of ``files`` (in ``kind/``) are not those of ``images/``."""
    numbers = [frame_number(p) for p in files]
    if numbers == expected:
        return
    i = next((k for k, (a, b) in enumerate(zip(expected, numbers)) if a != b), min(len(expected), len(numbers)))

    def which(seq):
        return f"number {seq[i]}" if i < len(seq) else "missing"

    raise SalprepError(f"{kind}/ does not match images/ frame by frame ({len(numbers)} vs {len(expected)} files): "
                       f"frame {i + 1} is {which(expected)} in images/ but {which(numbers)} in {kind}/", video_dir)


class FrameFolderDataset(VideoDataset):
    """Shared code of :class:`Hollywood2` and :class:`UCFSports`; they differ only in naming."""

    fixation_sources = ("png",)
    #: frame rate of the annotations: unconfirmed for both sets (DATASETS.md §3)
    default_fps: float | None = None
    #: digits of the frame number in file names (wider numbers are written in full)
    frame_digits = 3
    expected_layout = "training/<video>/{images,fixation,maps}/ and testing/<video>/{images,fixation,maps}/"

    def __init__(self, root, splits=None):
        super().__init__(root, splits or None)

    # -- naming (what the two sets differ in) -------------------------------------------------
    @classmethod
    def frame_file_name(cls, video: str, number: int) -> str:
        """The file name of frame ``number`` (as on disk) of ``video``."""
        raise NotImplementedError

    def _guess_split_folder(self, video: str) -> str:
        return SPLIT_FOLDERS["train"]

    # -- splits -------------------------------------------------------------------------------
    def default_splits(self) -> dict[str, list[str]]:
        """The release's: the video folders under training/ and testing/ (read from disk each time)."""
        return {split: self._found(folder) for split, folder in SPLIT_FOLDERS.items()}

    def _found(self, split_folder: str) -> list[str]:
        folder = self.root / split_folder
        if not folder.is_dir():
            return []
        names = [p.name for p in folder.iterdir() if (p / "images").is_dir()]
        return [check_plain_name("video", n, folder / n) for n in sorted(names, key=natural_key)]

    def missing_from_root(self):
        absent = [f"{folder}/<video>/images/" for folder in SPLIT_FOLDERS.values() if not self._found(folder)]
        return None if len(absent) < len(SPLIT_FOLDERS) else " and ".join(absent)

    def videos(self, split=None):
        if split is not None:
            return self.split_videos(split)
        seen: dict[str, None] = {}
        for folder in SPLIT_FOLDERS.values():
            seen.update(dict.fromkeys(self._found(folder)))
        return list(seen)

    # -- one video ----------------------------------------------------------------------------
    def annotation_dir(self, video):
        video = check_plain_name("video", video, self.root)
        for folder in SPLIT_FOLDERS.values():
            if (self.root / folder / video).is_dir():
                return self.root / folder / video
        return self.root / self._guess_split_folder(video) / video

    def video_path(self, video):
        return self.annotation_dir(video) / "images"

    def has_annotations(self, video):
        return (self.annotation_dir(video) / "fixation").is_dir()

    def annotation_files(self, video):
        folder = self.annotation_dir(video)
        return _frame_pngs(folder / "fixation", strict=False) + _frame_pngs(folder / "maps", strict=False)

    def _image_numbers(self, video: str) -> list[int]:
        return [frame_number(p) for p in image_files(self.video_path(video))]

    def fixation_files(self, video: str) -> list[Path]:
        """fixation/*.png in frame order, checked to carry the frame numbers of images/."""
        folder = self.annotation_dir(video)
        files = _frame_pngs(folder / "fixation")
        if not files:
            raise SalprepError("no fixation PNGs (expected fixation/*.png)", folder / "fixation")
        _check_same_frames(folder, self._image_numbers(video), "fixation", files)
        return files

    def shipped_map_files(self, video):
        folder = self.annotation_dir(video)
        files = _frame_pngs(folder / "maps")
        if files:
            _check_same_frames(folder, self._image_numbers(video), "maps", files)
        return files

    def fixations(self, video, info, source=None, **options):
        self.check_source(source)
        files = self.fixation_files(video)
        self.shipped_map_files(video)  # maps/, when shipped, must follow images/ too
        if len(files) != info.frames:
            raise SalprepError(f"{len(files)} fixation frames but the video decodes to {info.frames}",
                               files[0].parent)
        points = []
        for path in files:
            fixated = read_gray_image(path)
            if fixated.shape != (info.height, info.width):
                raise SalprepError(f"fixation map is {fixated.shape[1]}x{fixated.shape[0]}, "
                                   f"the video is {info.size_text()}", path)
            points.append(points_of_binary_map(fixated > 0))
        return VideoFixations(points=points, sources=files, dropped=0, combine="union")

    def frame_rate(self, video):
        return self.default_fps


class Hollywood2(FrameFolderDataset):
    """Hollywood-2 shots: ``actioncliptrain00001_2/actioncliptrain00001_00011.png``."""

    layout = "hollywood"
    gt_preset = "hollywood"
    frame_digits = 5
    expected_layout = (FrameFolderDataset.expected_layout
                       + " (e.g. training/actioncliptrain00001_1/images/actioncliptrain00001_00003.png)")

    @classmethod
    def frame_file_name(cls, video, number):
        clip = video.rsplit("_", 1)[0] if "_" in video else video
        return f"{clip}_{number:0{cls.frame_digits}d}.png"

    def _guess_split_folder(self, video):
        m = re.match(r"actionclip(train|test)", video, re.IGNORECASE)
        return SPLIT_FOLDERS[m.group(1).lower()] if m else SPLIT_FOLDERS["train"]


class UCFSports(FrameFolderDataset):
    """UCF-Sports videos: ``Diving-Side-001/Diving-Side_001_001.png``."""

    layout = "ucf"
    gt_preset = "ucf"
    frame_digits = 3
    expected_layout = (FrameFolderDataset.expected_layout
                       + " (e.g. training/Diving-Side-001/images/Diving-Side_001_001.png)")

    @classmethod
    def frame_file_name(cls, video, number):
        action, _, index = video.rpartition("-")
        return f"{action}_{index}_{number:0{cls.frame_digits}d}.png" if action else f"{video}_{number:03d}.png"
