"""Content digests of a video's annotation files, for the workflow's change detection.

Snakemake sees an annotation folder as one ``directory()`` input: editing a fixation PNG in
place changes neither the folder's mtime nor its path, so nothing would rerun. Listing every
annotation file as an input instead costs Snakemake ~2 s per job at DHF1K's ~1,200 files per
video. So the workflow gives each GT job one small *stamp* file per video instead, whose content
is the sha256 of every annotation file (:func:`annotation_digest`), and rewrites the stamp only
when that content digest changes (:func:`refresh_stamp`). Editing a file changes the stamp and
reruns that video's GT; touching, copying or checking out files with the same bytes does not.

Hashing is keyed by each file's (size, mtime_ns, inode) in a per-video cache next to the stamp,
so a re-plan only ``stat``\\ s files and rehashes those whose stat changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from salprep.atomic import atomic_output
from salprep.store import sha256_file

#: version of the stamp's content; bump when the digest's definition changes
DIGEST_VERSION = 1


def _load_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == DIGEST_VERSION else {}


def annotation_digest(folder: str | os.PathLike, files: list[Path], cache: str | os.PathLike | None = None) -> dict:
    """The stamp of ``files`` (all under ``folder``): their count and one sha256 over every
    file's path relative to ``folder`` and its content's sha256.

    Args:
        folder: the video's annotation folder; names in the digest are relative to it, so a
            dataset moved or mounted elsewhere keeps its digests.
        files: the annotation files (:meth:`VideoDataset.annotation_files`).
        cache: optional JSON file of per-file hashes keyed by (size, mtime_ns, inode); read,
            and rewritten when a file was (re)hashed.

    Returns:
        ``{"version", "files", "sha256"}``: the same for the same bytes under the same names.
    """
    folder = Path(folder)
    cache_path = Path(cache) if cache is not None else None
    known = _load_cache(cache_path).get("files", {}) if cache_path is not None else {}
    entries, fresh, changed = [], {}, False
    for path in sorted(files):
        rel = path.relative_to(folder).as_posix()
        st = path.stat()
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = known.get(rel)
        if hit is not None and hit[:3] == key:
            sha = hit[3]
        else:
            sha, changed = sha256_file(path), True
        fresh[rel] = [*key, sha]
        entries.append(f"{rel}\t{sha}\n")
    if cache_path is not None and (changed or set(fresh) != set(known)):
        with atomic_output(cache_path) as tmp:
            tmp.write_text(json.dumps({"version": DIGEST_VERSION, "files": fresh}))
    digest = hashlib.sha256("".join(entries).encode()).hexdigest()
    return {"version": DIGEST_VERSION, "files": len(entries), "sha256": digest}


def stamp_text(stamp: dict, video: str) -> str:
    return json.dumps({"video": video, **stamp}, sort_keys=True) + "\n"


def cache_path(stamp: str | os.PathLike) -> Path:
    """The per-file hash cache kept beside a stamp (hidden: ``.001.files.json``)."""
    stamp = Path(stamp)
    return stamp.with_name(f".{stamp.stem}.files.json")


def refresh_stamp(dataset, video: str, stamp: str | os.PathLike) -> bool:
    """Write ``stamp`` (atomically) with the digest of ``video``'s annotation files if its
    content would change; an unchanged digest leaves the file and its mtime alone.

    Returns whether the stamp was written.
    """
    stamp = Path(stamp)
    files = dataset.annotation_files(video)
    text = stamp_text(annotation_digest(dataset.annotation_dir(video), files, cache_path(stamp)), video)
    try:
        if stamp.read_text() == text:
            return False
    except OSError:
        pass
    with atomic_output(stamp) as tmp:
        tmp.write_text(text)
    return True


def refresh_stamps(dataset, videos: list[str], stamp_of) -> list[str]:
    """:func:`refresh_stamp` for each video whose annotation folder exists (the others, e.g. a
    demo not generated yet, get their stamp from the workflow's rule). Returns the videos whose
    stamp was rewritten."""
    return [v for v in videos if dataset.annotation_dir(v).is_dir() and refresh_stamp(dataset, v, stamp_of(v))]
