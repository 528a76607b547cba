#!/usr/bin/env python
"""What the store's per-chunk fletcher32 checksums cost, writing and reading.

    python benchmarks/shard_checksums.py [--frames 200] [--repeat 3]

Baseline: the same shard written by :func:`salprep.store.write_shard` with ``checksums=False``
(store_format 1: gzip-4 + shuffle, one frame per chunk) and read back whole, measured in the
same run on the same data. Also: HDF5's own POSIX driver writing the same datasets directly
(no guarded file), to show what the full-disk guard (:class:`salprep.store.writer._GuardedFile`)
costs. Shards, as the stages write them:

* ``gt``: 360x640 uint16 maps of smooth blobs + uint8 fixation maps (DHF1K frame size);
* ``i3d``: pooled 1024x5x5x5 float16 features per window;
* ``flow_tvl1``: 2x112x112 int8 flow per frame pair.

Prints seconds per shard and the ratio to the baseline for each; run on an idle machine,
median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from salprep.store import open_shard, write_shard


def _data(kind: str, frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if kind == "gt":
        yy, xx = np.mgrid[0:360, 0:640]
        maps = np.empty((frames, 360, 640), np.uint16)
        for t in range(frames):
            cy, cx = rng.uniform(60, 300), rng.uniform(80, 560)
            maps[t] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 30.0 ** 2)) * 65535
        fix = (rng.random((frames, 360, 640)) > 0.9999).astype(np.uint8)
        return {"maps": maps, "fixations": fix}
    if kind == "i3d":
        return {"features": rng.standard_normal((frames // 4, 1024, 5, 5, 5)).astype(np.float16)}
    flow = np.clip(rng.standard_normal((frames, 2, 112, 112)) * 20, -127, 127).astype(np.int8)
    return {"flow": flow}


STAGE = {"gt": "gt", "i3d": "i3d_rgb", "flow_tvl1": "flow_tvl1"}


def _write(path: Path, kind: str, data: dict, checksums: bool) -> float:
    n = next(iter(data.values())).shape[0]
    start = time.perf_counter()
    with write_shard(path, stage=STAGE[kind], dataset="b", video="001", n_frames=n, source_sha256="0",
                     params={}, checksums=checksums) as shard:
        if kind != "gt":
            shard.put("frame_index", np.arange(n, dtype=np.int32))
        for name, arr in data.items():
            ds = shard.create_frames(name, arr.shape, arr.dtype)
            for i in range(0, n, 16):
                ds[i:i + 16] = arr[i:i + 16]
    return time.perf_counter() - start


def _write_plain(path: Path, data: dict) -> float:
    """HDF5's POSIX driver, no guard, checksums on: the cost of the guarded file."""
    start = time.perf_counter()
    with h5py.File(path, "w") as h5:
        for name, arr in data.items():
            ds = h5.create_dataset(name, arr.shape, arr.dtype, chunks=(1, *arr.shape[1:]), compression="gzip",
                                   compression_opts=4, shuffle=True, fletcher32=True)
            for i in range(0, arr.shape[0], 16):
                ds[i:i + 16] = arr[i:i + 16]
    return time.perf_counter() - start


def _read(path: Path, names) -> float:
    start = time.perf_counter()
    with open_shard(path) as h5:
        for name in names:
            h5[name][...]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{args.frames} frames per shard, median of {args.repeat}; baseline = write_shard(checksums=False)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind in ("gt", "i3d", "flow_tvl1"):
            data = _data(kind, args.frames, rng)
            t = {"write": [], "write_sum": [], "plain": [], "read": [], "read_sum": []}
            for r in range(args.repeat):
                t["write"].append(_write(tmp / f"{kind}_{r}_0.h5", kind, data, False))
                t["write_sum"].append(_write(tmp / f"{kind}_{r}_1.h5", kind, data, True))
                t["plain"].append(_write_plain(tmp / f"{kind}_{r}_p.h5", data))
                t["read"].append(_read(tmp / f"{kind}_{r}_0.h5", data))
                t["read_sum"].append(_read(tmp / f"{kind}_{r}_1.h5", data))
            m = {k: statistics.median(v) for k, v in t.items()}
            size0 = (tmp / f"{kind}_0_0.h5").stat().st_size
            size1 = (tmp / f"{kind}_0_1.h5").stat().st_size
            print(f"{kind:10s} write {m['write']:.3f} s -> with checksums {m['write_sum']:.3f} s "
                  f"(x{m['write_sum'] / m['write']:.3f}); HDF5 POSIX driver {m['plain']:.3f} s "
                  f"(guarded file x{m['write_sum'] / m['plain']:.3f}) | read {m['read']:.3f} s -> "
                  f"{m['read_sum']:.3f} s (x{m['read_sum'] / m['read']:.3f}) | size {size0 / 1e6:.2f} -> "
                  f"{size1 / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
