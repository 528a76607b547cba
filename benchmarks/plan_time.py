#!/usr/bin/env python
"""Dry-run plan time of the workflow for a DHF1K-sized dataset (1,000 videos) and the demo.

    python benchmarks/plan_time.py [--root DIR] [--videos 1000] [--frames 8] [--targets all]
                                   [--demo-dir DIR]

Writes (or reuses) a dataset of tiny videos in DHF1K layout at --root with `salprep demo-data`
(64x36 px, --frames frames, no gaze records; DHF1K's split 1-600 / 601-700 / 701-1000 scaled to
--videos), then times `snakemake -n <targets>` on it in a scratch working directory:

* "cold": the first plan, which hashes every annotation file for the GT stamps
  (salprep.datasets.digest);
* "warm": the same plan again (annotation hashes cached by stat), the common case;
* baseline "bare Snakemake": a Snakefile with the same rules' job counts and file names and no
  salprep code at all, i.e. what Snakemake itself needs to plan a DAG of this size.

With --demo-dir (a working directory where `make demo` ran), also the no-op re-plan of the demo
targets there (goal: < 5 s). Goal for the 1,000-video plan: < 30 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ("flow_tvl1", "flow_spynet", "depth", "i3d_rgb", "i3d_flow", "frames")

BARE = """\
N_TRAIN, N_VAL, N_ALL = {n_train}, {n_val}, {n_all}
ANN = range(1, N_TRAIN + N_VAL + 1)
ALL = range(1, N_ALL + 1)
STAGES = {stages!r}
wildcard_constraints:
    video=r"\\d+"
rule all:
    input: expand("store/{{s}}/{{v:03d}}.h5", s=STAGES, v=ALL), expand("store/gt/{{v:03d}}.h5", v=ANN)
rule stamp:
    output: ".stamps/{{video}}.json"
    shell: "touch {{output}}"
rule gt:
    input: video="data/video/{{video}}.AVI", stamp=".stamps/{{video}}.json"
    output: "store/gt/{{video}}.h5"
    shell: "touch {{output}}"
for stage in STAGES:
    rule:
        name: stage
        input: "data/video/{{video}}.AVI"
        output: f"store/{{stage}}/{{{{video}}}}.h5"
        shell: "touch {{output}}"
"""


def split_sizes(n: int) -> tuple[int, int, int]:
    train, val = round(n * 0.6), round(n * 0.1)
    return train, val, n - train - val


def ensure_dataset(root: Path, n: int, frames: int) -> None:
    train, val, test = split_sizes(n)
    if (root / "demo.json").exists() and len(list((root / "video").glob("*.AVI"))) == n:
        print(f"{root}: reusing {n} videos")
        return
    start = time.perf_counter()
    subprocess.run([str(BIN / "salprep"), "demo-data", "--out", str(root), "--train", str(train), "--val", str(val),
                    "--test", str(test), "--frames", str(frames), "--size", "64x36", "--no-gaze"], check=True)
    print(f"{root}: wrote {n} videos in {time.perf_counter() - start:.0f} s")


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "SALPREP_PROGRESS": "0"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    text = proc.stdout + proc.stderr
    total = text.split("Job stats:")[1].split("total")[1].split()[0] if "Job stats:" in text else "0"
    return elapsed, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "salprep-plan-1000")
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--targets", nargs="+", default=["all", "shards"])
    ap.add_argument("--demo-dir", type=Path, help="a working directory where `make demo` ran")
    args = ap.parse_args()

    data = args.root / "data"
    ensure_dataset(data, args.videos, args.frames)
    train, val, test = split_sizes(args.videos)
    work = args.root / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "big.yaml").write_text(
        f"dataset: big\ndatasets:\n  big:\n    layout: dhf1k\n    root: {data}\n"
        f"    splits: {{train: '1-{train}', val: '{train + 1}-{train + val}', test: '{train + val + 1}-{args.videos}'}}\n")
    ours = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(work), "--workflow-profile",
            str(REPO / "profiles" / "default"), "--configfile=" + str(work / "big.yaml"),
            "--cores", "16", "-n", *args.targets]
    cold, jobs = timed(ours, REPO)
    warm, _ = timed(ours, REPO)

    bare = args.root / "bare"
    shutil.rmtree(bare, ignore_errors=True)
    (bare / "data").mkdir(parents=True)
    (bare / "data" / "video").symlink_to(data / "video")
    (bare / "Snakefile").write_text(BARE.format(n_train=train, n_val=val, n_all=args.videos, stages=STAGES))
    base, base_jobs = timed([str(BIN / "snakemake"), "-n", "--cores", "16", "all"], bare)

    print(f"\nplan of {args.videos} videos ({train}/{val}/{test}), targets {' '.join(args.targets)}: {jobs} jobs")
    print(f"  baseline  bare Snakemake, {base_jobs} jobs of the same shape : {base:6.1f} s")
    print(f"  cold      first plan, annotation files hashed       : {cold:6.1f} s  ({cold / base:.2f}x baseline)")
    print(f"  warm      re-plan, hashes cached by stat            : {warm:6.1f} s  ({warm / base:.2f}x baseline)"
          f"  goal < 30 s: {'met' if warm < 30 else 'MISSED'}")
    if args.demo_dir:
        cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(args.demo_dir), "--workflow-profile",
               str(REPO / "profiles" / "default"), "--cores", "2", "-n",
               "results/center_bias", "results/lsts_flow"]
        noop, n = timed(cmd, args.demo_dir)
        print(f"  demo      no-op re-plan ({n} jobs)                  : {noop:6.1f} s  goal < 5 s: "
              f"{'met' if noop < 5 and n == '0' else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
