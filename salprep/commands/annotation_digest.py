"""``salprep annotation-digest``: the content stamp of one video's annotation files.

The workflow's GT rule takes this stamp as its input instead of the annotation folder, so an
in-place edit of a fixation file reruns that video's GT and a touch does not
(:mod:`salprep.datasets.digest`).
"""

from __future__ import annotations

from salprep.commands.stage_args import add_dataset_video_arguments
from salprep.datasets import open_dataset
from salprep.datasets.digest import refresh_stamp
from salprep.errors import SalprepError


def register_parser(sub) -> None:
    p = sub.add_parser(
        "annotation-digest",
        help="write the content stamp (sha256) of a video's annotation files",
        description="Hash every annotation file of one video (DHF1K: fixation/*.png and maps/*.png) "
        "and write their count and one sha256 over names and contents to OUT as JSON. OUT is rewritten "
        "only when that content changes; per-file hashes are cached beside it by size, mtime and inode.",
    )
    add_dataset_video_arguments(p)
    p.add_argument("--out", required=True, help="stamp file to write (.json)")
    p.set_defaults(func=run, outputs=[("out", False)])


def run(args) -> int:
    dataset = open_dataset(args.layout, args.root)
    folder = dataset.annotation_dir(args.video)
    if not dataset.annotation_files(args.video):
        raise SalprepError("no annotation files (expected fixation/*.png)", folder)
    written = refresh_stamp(dataset, args.video, args.out)
    print(f"{args.out}: {'written' if written else 'unchanged'}")
    return 0
