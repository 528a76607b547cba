"""``salprep probe VIDEO``: decoded frame count, size, fps and codec; checks annotations."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from salprep.errors import SalprepError
from salprep.image_frames import image_files
from salprep.video import probe_video


def register_parser(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="print a video's decoded frame count, size, fps and codec",
        description="Decode VIDEO completely and print its frame count, width x height, fps and "
        "codec (the displayed size: rotation metadata is applied, and named). With --annotations, "
        "check that the annotation folder has one fixation map (and "
        "one published map, if any) per decoded frame, each the size of the video; a mismatch exits "
        "with code 2.",
    )
    p.add_argument("video", help="any video file PyAV reads (AVI, MP4, MKV, ...)")
    p.add_argument(
        "--annotations",
        metavar="DIR",
        help="the video's annotation folder (DHF1K: annotation/0001, with fixation/ and maps/)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


#: what each annotation folder holds, for messages
_KIND = {"fixation": "fixation map", "maps": "saliency map"}


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from an image file's header (PIL reads no pixels until asked)."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SalprepError(f"not a readable image ({exc.__class__.__name__})", path) from None


def check_annotations(folder: Path, frames: int, width: int, height: int, size_note: str = "") -> dict:
    """Check the per-frame annotation files in ``folder`` against the video.

    ``width`` x ``height``: the video as displayed (:func:`salprep.video.probe_video`);
    ``size_note``: appended to the video's size in a size mismatch (``VideoInfo.size_note()``:
    names the rotation metadata applied, and the stored size).

    ``fixation/*.png`` (and ``maps/*.png``, when there are any; in the numeric order of the
    last number in their names: DHF1K, Hollywood-2 and UCF-Sports folders) must number ``frames``
    files, each ``width`` x ``height`` pixels like the video (only the image headers are read).

    Returns:
        ``{"fixation": count, "maps": count}`` (``maps`` only when the folder has maps).

    Raises:
        SalprepError: no folder, no fixation maps, a count that differs from ``frames``, an
        unreadable image, or an image of another size (the first such file is named, with how
        many more there are).
    """
    if not folder.is_dir():
        raise SalprepError("annotation folder not found", folder)
    counts, found = {}, {}
    for sub in ("fixation", "maps"):
        files = image_files(folder / sub) if (folder / sub).is_dir() and any((folder / sub).iterdir()) else []
        if files or sub == "fixation":
            counts[sub] = len(files)
            found[sub] = files
    if counts.get("fixation", 0) == 0:
        raise SalprepError("no fixation/NNNN.png files", folder)
    for sub, n in counts.items():
        if n != frames:
            raise SalprepError(f"{sub}/ has {n} frames but the video decodes to {frames}", folder / sub)
    wrong = [(sub, path, size) for sub, files in found.items() for path in files
             if (size := _image_size(path)) != (width, height)]
    if wrong:
        sub, path, (w, h) = wrong[0]
        more = len(wrong) - 1
        tail = f" (and {more} more file{'s' if more > 1 else ''})" if more else ""
        raise SalprepError(f"{_KIND[sub]} is {w}x{h} but the video is {width}x{height}{size_note}{tail}", path)
    return counts


def run(args) -> int:
    info = probe_video(args.video)
    result = info.as_dict()
    if args.annotations:
        result["annotation_frames"] = check_annotations(Path(args.annotations), info.frames,
                                                         info.width, info.height, info.size_note())
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
