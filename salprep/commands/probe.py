"""``salprep probe VIDEO``: decoded frame count, size, fps and codec; checks annotations.

Decode VIDEO completely and print its frame count, width x height, fps and codec (the displayed
size: rotation metadata is applied, and named). With --annotations, check that the annotation folder
has one fixation map (and one published map, if any) per decoded frame, each the size of the video;
a mismatch exits with code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

from salprep.datasets.base import FrameInfo, check_annotation_folder
from salprep.video import probe_video


def register_parser(sub) -> None:
    p = sub.add_parser("probe", description=__doc__.split("\n\n", 1)[1],
                       help="print a video's decoded frame count, size, fps and codec")
    p.add_argument("video", help="any video file PyAV reads (AVI, MP4, MKV, ...)")
    p.add_argument(
        "--annotations",
        metavar="DIR",
        help="the video's annotation folder (DHF1K: annotation/0001, with fixation/ and maps/)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def run(args) -> int:
    info = probe_video(args.video)
    result = info.as_dict()
    if args.annotations:
        frames = FrameInfo(info.frames, info.width, info.height, info.fps, info.size_note())
        result["annotation_frames"] = check_annotation_folder(Path(args.annotations), frames)
    if args.json:
        print(json.dumps(result))
    else:
        turned = ""
        if info.orientation:
            sw, sh = info.orientation.stored_size(info.width, info.height)
            turned = f", rotation metadata applied ({info.orientation.describe()}; stored {sw}x{sh})"
        print(f"{info.path}: {info.frames} frames, {info.width}x{info.height}, "
              f"{info.fps:.3f} fps, codec {info.codec}{turned}")
        if args.annotations:
            counts = ", ".join(f"{k} {v}" for k, v in result["annotation_frames"].items())
            print(f"{args.annotations}: {counts} frames: match; all {info.width}x{info.height} like the video")
    return 0
