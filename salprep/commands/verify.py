"""``salprep verify PATH...``: check shards; exit 1 when any has a problem.

Check every shard given or found (recursively) under the given folders: readable, known
salprep_type, all provenance attributes, current stage version, datasets of the right rank with one
entry per frame, names matching the store layout, every chunk of data readable (fletcher32
checksums) with no NaN/Inf, source_sha256 equal to the hash of the source files as they are now, and
n_frames equal to the number of frames decoded from the source video. Prints one line per problem
and exits 1 if there is any (2 for unusable arguments). Temporary files of interrupted writers are
listed; --clean removes those whose writer is dead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from salprep.atomic import is_held, remove_temp
from salprep.errors import SalprepError
from salprep.progress import progress
from salprep.store import verify_shard
from salprep.video import probe_video


def register_parser(sub) -> None:
    p = sub.add_parser("verify", description=__doc__.split("\n\n", 1)[1],
                       help="check store shards: every chunk's checksum, NaN/Inf, source hashes, shapes, frame counts")
    p.add_argument("paths", nargs="+", help="shard files or store folders")
    p.add_argument("--quick", action="store_true",
                   help="attributes and shapes only: read no data, hash no source, decode no video")
    p.add_argument("--no-video-check", action="store_true",
                   help="skip decoding the source videos (frame counts are not checked)")
    p.add_argument("--clean", action="store_true",
                   help="remove temporary files left by dead writers (a live writer's are kept)")
    p.add_argument("--quiet", "-q", action="store_true", help="print problems only")
    p.set_defaults(func=run)


def find_shards(paths: list[str]) -> tuple[list[Path], list[Path]]:
    """(shards, leftover temporary files and folders) under the given paths."""
    shards, leftovers = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            shards.extend(sorted(p for p in path.rglob("*.h5") if not p.name.startswith(".")))
            leftovers.extend(sorted(path.rglob(".*.tmp*")))
        elif path.exists() or path.is_symlink():
            shards.append(path)
        else:
            raise SalprepError("no such shard or folder", path)
    return shards, leftovers


def run(args) -> int:
    from salprep.stages.gt import gt_shard_sources  # the adapters find a GT shard's annotations

    shards, leftovers = find_shards(args.paths)
    if not shards and not leftovers:
        raise SalprepError("no shards (*.h5) found", args.paths[0])
    decoded: dict[str, int | str] = {}
    hashes: dict = {}
    bad = 0
    for shard in progress(shards, desc="verify", unit="shard"):
        problems: list[str] = []
        frames = None
        if not (args.no_video_check or args.quick):
            frames = _decoded_frames(shard, decoded)
            if isinstance(frames, str):
                problems.append(f"source video: {frames} (use --no-video-check to skip)")
                frames = None
        problems = verify_shard(shard, video_frames=frames, full=not args.quick,
                                source_hashes=None if args.quick else hashes,
                                annotation_sources=gt_shard_sources) + problems
        if problems:
            bad += 1
            for problem in problems:
                print(f"{shard}: {problem}")
        elif not args.quiet:
            print(f"{shard}: ok")
    for tmp in leftovers:
        if is_held(tmp):
            print(f"{tmp}: note: being written now by a live process (kept)")
        elif args.clean and remove_temp(tmp):
            print(f"{tmp}: removed (temporary file of a writer that died)")
        else:
            print(f"{tmp}: note: temporary file of a writer that died (--clean removes it)")
    print(f"{len(shards)} shard(s) checked, {bad} with problems", file=sys.stderr)
    return 1 if bad else 0


def _decoded_frames(shard: Path, cache: dict) -> int | str | None:
    """Frames decoded from the shard's source video (cached per video); an error line if unusable."""
    import h5py

    try:
        with h5py.File(shard, "r") as h5:
            source = h5.attrs.get("source_video")
    except OSError:
        return None  # verify_shard reports the unreadable file
    if source is None:
        return None
    if source not in cache:
        try:
            cache[source] = probe_video(source).frames
        except SalprepError as exc:
            cache[source] = exc.one_line()
    return cache[source]
