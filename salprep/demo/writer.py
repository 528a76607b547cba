"""Writing the demo dataset to disk in DHF1K layout: :class:`DemoSpec` and :func:`write_demo`.

Nothing is ever visible under its final name before it is complete (videos and gaze files:
temporary name + rename; each annotation folder is built under a hidden name and renamed;
``demo.json`` is written last). Stale files of an earlier demo in the same folder are removed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from salprep import __version__
from salprep.datasets import dhf1k_gaze as gz
from salprep.demo.scene import DEFAULT_FRAMES, DEFAULT_SIZE, FPS
from salprep.demo.video import DemoVideo, make_video, saliency_to_uint8
from salprep.atomic import atomic_output, is_temp_name
from salprep.errors import SalprepError
from salprep.progress import progress as _progress
from salprep.video import write_video

SPLIT_FIRST = {"train": 1, "val": 601, "test": 701}
SPLIT_MAX = {"train": 600, "val": 100, "test": 300}
MANIFEST = "demo.json"
MARKER = ".salprep-demo"  # marks a folder as written by demo-data (safe to overwrite)


@dataclass(frozen=True)
class DemoSpec:
    """What :func:`write_demo` builds."""

    seed: int = 0
    train: int = 4
    val: int = 2
    test: int = 1
    frames: int = DEFAULT_FRAMES
    size: tuple[int, int] = DEFAULT_SIZE  # (W, H)
    gaze: bool = True

    def check(self) -> None:
        for split in ("train", "val", "test"):
            n = getattr(self, split)
            if not 0 <= n <= SPLIT_MAX[split]:
                raise SalprepError(f"--{split} must be between 0 and {SPLIT_MAX[split]}, got {n}")
        if self.train + self.val + self.test == 0:
            raise SalprepError("nothing to generate: --train, --val and --test are all 0")
        if self.frames < 2:
            raise SalprepError(f"--frames must be at least 2, got {self.frames}")
        w, h = self.size
        if w < 32 or h < 18 or w % 2 or h % 2:
            raise SalprepError(f"--size {w}x{h}: width and height must be even and at least 32x18")
        if w * gz.SCREEN_SIZE[1] < h * gz.SCREEN_SIZE[0]:
            raise SalprepError(f"--size {w}x{h}: width/height must be at least 1.6 (the video is "
                               "letterboxed on a 1440x900 screen, as in DHF1K)")

    def videos(self) -> list[tuple[int, str]]:
        """(number, split) of every video: train 1.., val 601.., test 701.."""
        return [(SPLIT_FIRST[s] + i, s) for s in ("train", "val", "test") for i in range(getattr(self, s))]

    @property
    def empty_frame(self) -> tuple[int, int] | None:
        """(video number, 0-based frame) of the one frame without fixations: first val video."""
        if self.val == 0:
            return None
        return SPLIT_FIRST["val"], self.frames // 2

    def make(self, number: int, split: str) -> DemoVideo:
        empty = self.empty_frame
        return make_video(
            self.seed, number, split, frames=self.frames, size=self.size,
            empty_frame=empty[1] if empty and empty[0] == number else None,
            gaze=split != "test",
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"640x360"`` -> (640, 360)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m:
        raise SalprepError(f"--size must look like 640x360, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _write_png(path: Path, arr: np.ndarray) -> None:
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(path, format="PNG")


def _write_mat(path: Path, fix: np.ndarray) -> None:
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"I": fix.astype(np.uint8)}, format="5", do_compression=True)
    path.write_bytes(buf.getvalue())


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_annotation(video: DemoVideo, folder: Path) -> dict:
    """``folder/{maps,fixation,fixation/maps}/NNNN.png|.mat``, built under a hidden name first."""
    with atomic_output(folder, directory=True) as stage:
        (stage / "maps").mkdir(parents=True)
        (stage / "fixation" / "maps").mkdir(parents=True)
        n_points = empty = 0
        for t in range(video.frames):
            name = f"{t + 1:04d}"
            fix = video.fixation_map(t)
            n_points += int(fix.sum())
            empty += not fix.any()
            _write_png(stage / "fixation" / f"{name}.png", fix.astype(np.uint8) * 255)
            _write_png(stage / "maps" / f"{name}.png", saliency_to_uint8(fix))
            _write_mat(stage / "fixation" / "maps" / f"{name}.mat", fix)
    return {"fixated_pixels": n_points, "empty_frames": empty}


def write_gaze(video: DemoVideo, gaze_dir: Path) -> list[Path]:
    """``gaze_dir/P%03d/P%03d_Trail%04d.txt`` of every observer of ``video``."""
    paths = []
    for g in video.gaze:
        path = gz.gaze_file(gaze_dir, g.observer, video.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(path, g.text())
        paths.append(path)
    return paths


_VIDEO_FILE = re.compile(r"^(\d+)\.avi$", re.IGNORECASE)
_ANN_DIR = re.compile(r"^\d{4}$")
_TRAIL = re.compile(r"^P(\d+)_Trail(\d+)\.txt$")


def _clean_stale(out: Path, keep_videos: set[int], keep_gaze: set[tuple[int, int]]) -> None:
    """In a demo folder, remove what an earlier run left that the new dataset does not have."""
    video_dir, ann_dir, gaze_dir = out / "video", out / "annotation", out / gz.GAZE_DIR
    for p in out.iterdir():
        if is_temp_name(p.name) and p.is_file():
            p.unlink()
    if video_dir.is_dir():
        for p in video_dir.iterdir():
            m = _VIDEO_FILE.match(p.name)
            if (m and int(m.group(1)) not in keep_videos and p.is_file()) or (is_temp_name(p.name) and p.is_file()):
                p.unlink()
    if ann_dir.is_dir():
        for p in ann_dir.iterdir():
            if p.is_dir() and ((_ANN_DIR.match(p.name) and int(p.name) not in keep_videos) or is_temp_name(p.name)):
                shutil.rmtree(p)
    if gaze_dir.is_dir():
        for pdir in gaze_dir.iterdir():
            if not pdir.is_dir():
                continue
            for p in pdir.iterdir():
                m = _TRAIL.match(p.name)
                if (m and (int(m.group(1)), int(m.group(2))) not in keep_gaze) or is_temp_name(p.name):
                    p.unlink()


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SalprepError("--out exists and is not a folder", out)
    if (out / MANIFEST).exists() or (out / MARKER).exists():
        return
    video_dir = out / "video"
    if video_dir.is_dir() and any(_VIDEO_FILE.match(p.name) for p in video_dir.iterdir()):
        raise SalprepError("holds videos that salprep demo-data did not write; refusing to overwrite "
                           "(choose another --out or remove them)", out)


def write_demo(out: str | os.PathLike, spec: DemoSpec = DemoSpec(), *, progress: bool = True) -> dict:
    """Write the demo dataset to ``out`` in DHF1K layout; returns the manifest (``demo.json``).

    Layout: ``video/NNN.AVI`` (MJPEG, 30 fps), ``annotation/NNNN/{maps,fixation}/NNNN.png`` and
    ``annotation/NNNN/fixation/maps/NNNN.mat`` for train and val videos, ``gaze_record/P%03d/
    P%03d_Trail%04d.txt`` (unless ``spec.gaze`` is False) and ``demo.json``. An earlier demo in
    ``out`` is replaced; a folder with videos not written by demo-data is refused.
    """
    spec.check()
    out = Path(out)
    _check_out(out)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    _atomic_write_text(out / MARKER, json.dumps({"salprep_demo": 1, "note": "written by salprep demo-data"}) + "\n")
    videos = spec.videos()
    entries = []
    keep_gaze: set[tuple[int, int]] = set()
    _clean_stale(out, {n for n, _ in videos}, {(0, 0)})  # old gaze files are rewritten or dropped below
    total_dropped = 0
    empty_files = []
    for number, split in _progress(videos, desc="demo-data", unit="video", enabled=progress):
        video = spec.make(number, split)
        n = write_video(out / "video" / f"{video.video_id}.AVI", video.iter_frames(), fps=FPS, codec="mjpeg")
        entry = {"id": video.video_id, "number": number, "split": split, "frames": n,
                 "objects": len(video.objects)}
        if split != "test":
            stats = write_annotation(video, out / "annotation" / f"{number:04d}")
            entry.update(stats)
            entry["observers"] = video.observers
            entry["dropped_out_of_frame"] = int(video.dropped.sum())
            total_dropped += entry["dropped_out_of_frame"]
            if video.empty_frame is not None:
                empty_files.append(f"annotation/{number:04d}/fixation/{video.empty_frame + 1:04d}.png")
            if spec.gaze:
                write_gaze(video, out / gz.GAZE_DIR)
                keep_gaze |= {(o, number) for o in video.observers}
        entries.append(entry)
    _clean_stale(out, {n for n, _ in videos}, keep_gaze)
    gaze_dir = out / gz.GAZE_DIR
    if gaze_dir.is_dir():
        for pdir in gaze_dir.iterdir():
            if pdir.is_dir() and not any(pdir.iterdir()):
                pdir.rmdir()
        if not any(gaze_dir.iterdir()):
            gaze_dir.rmdir()
    manifest = {
        "salprep_demo": 1,
        "salprep_version": __version__,
        "seed": spec.seed,
        "frames": spec.frames,
        "width": spec.size[0],
        "height": spec.size[1],
        "fps": FPS,
        "codec": "mjpeg",
        "counts": {"train": spec.train, "val": spec.val, "test": spec.test},
        "gaze": spec.gaze,
        "screen": list(gz.SCREEN_SIZE),
        "gt_preset": "dhf1k",
        "empty_frames": empty_files,
        "dropped_out_of_frame": total_dropped,
        "seconds": round(time.perf_counter() - start, 2),
        "videos": entries,
    }
    _atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest
