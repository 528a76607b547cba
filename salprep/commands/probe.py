"""``salprep probe VIDEO``: decoded frame count, size, fps and codec; checks annotations."""

from __future__ import annotations

import json
from pathlib import Path

from salprep.datasets.dhf1k import _FRAME_RE, _numbered
from salprep.errors import SalprepError
from salprep.video import probe_video


def register_parser(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="print a video's decoded frame count, size, fps and codec",
        description="Decode VIDEO completely and print its frame count, width x height, fps and "
        "codec. With --annotations, check that the annotation folder has one fixation map (and "
        "one published map, if any) per decoded frame; a mismatch exits with code 2.",
    )
    p.add_argument("video", help="any video file PyAV reads (AVI, MP4, MKV, ...)")
    p.add_argument(
        "--annotations",
        metavar="DIR",
        help="the video's annotation folder (DHF1K: annotation/0001, with fixation/ and maps/)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def check_annotations(folder: Path, frames: int) -> dict:
    """Count per-frame annotation files in ``folder`` and compare them with ``frames``."""
    if not folder.is_dir():
        raise SalprepError("annotation folder not found", folder)
    counts = {}
    for sub in ("fixation", "maps"):
        files = _numbered(folder / sub, _FRAME_RE)
        if files or sub == "fixation":
            counts[sub] = len(files)
    if counts.get("fixation", 0) == 0:
        raise SalprepError("no fixation/NNNN.png files", folder)
    for sub, n in counts.items():
        if n != frames:
            raise SalprepError(f"{sub}/ has {n} frames but the video decodes to {frames}", folder / sub)
    return counts


def run(args) -> int:
    info = probe_video(args.video)
    result = info.as_dict()
    if args.annotations:
        result["annotation_frames"] = check_annotations(Path(args.annotations), info.frames)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{info.path}: {info.frames} frames, {info.width}x{info.height}, "
              f"{info.fps:.3f} fps, codec {info.codec}")
        if args.annotations:
            counts = ", ".join(f"{k} {v}" for k, v in result["annotation_frames"].items())
            print(f"{args.annotations}: {counts} frames: match")
    return 0
