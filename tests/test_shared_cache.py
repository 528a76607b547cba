"""Two separate clones of the project share one feature store through Snakemake's
between-workflow cache (`cache: "omit-software"` on every per-video stage rule)."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from test_bare_command import clone
from test_workflow import BIN, TINY

from salprep.cli import main

CACHED = ("gt", "flow_tvl1")
#: one training video, one validation and the test video: every kind of job, one of each
SPLITS = "datasets: {demo: {splits: {train: '1', val: '601'}}}\n"
VIDEOS = ["001.h5", "601.h5", "701.h5"]
TARGETS = ["results/center_bias", *(f"store/demo/flow_tvl1/{name}" for name in VIDEOS)]
#: what Alice builds: the cached stages' shards only (Bob trains and scores from them)
SHARDS = [*(f"store/demo/gt/{name}" for name in VIDEOS[:2]), *(f"store/demo/flow_tvl1/{name}" for name in VIDEOS)]


def run(project: Path, cache: Path, *args: str, targets=TARGETS) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "SNAKEMAKE_OUTPUT_CACHE": str(cache)}
    cmd = [str(BIN / "snakemake"), "--cache",
           "--configfile=" + str(project.parent / "tiny.yaml"), "--cores", "2", *args, *targets]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def two_clones(tmp_path_factory):
    base = tmp_path_factory.mktemp("cache")
    (base / "tiny.yaml").write_text(TINY + SPLITS)
    cache = base / "shared-cache"
    cache.mkdir()
    a, b = clone(base / "alice"), clone(base / "bob")
    proc = run(a, cache, targets=SHARDS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return a, b, cache


def test_second_clone_computes_no_cached_stage_job(two_clones):
    a, b, cache = two_clones
    n_cached = len(list(cache.glob("*.h5")))
    assert n_cached == 2 + 3  # GT of the annotated videos, TV-L1 of every video
    proc = run(b, cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert text.count(" from cache.") == n_cached and "to cache." not in text
    for stage in CACHED:
        shards = sorted((b / "store" / "demo" / stage).iterdir())
        assert shards and all(p.is_symlink() and p.resolve().parent == cache.resolve() for p in shards), stage
        # Snakemake creates each job's log; the command, which would write to it, never ran
        assert all(log.stat().st_size == 0 for log in (b / "logs" / "demo" / stage).iterdir()), stage
    assert len(list(cache.glob("*.h5"))) == n_cached  # nothing new stored
    # the rest ran in Bob's clone: its own data, and training and scores on the cached GT
    assert json.loads((b / "results" / "center_bias" / "metrics.json").read_text())["val"]["n_frames"] == 12
    assert (b / "logs" / "demo" / "train" / "center_bias.log").exists()


def test_cached_shards_and_the_cache_folder_verify(two_clones, monkeypatch):
    a, b, cache = two_clones
    monkeypatch.chdir(b)  # shards name their source video relative to the project
    assert main(["verify", "-q", "store/demo", str(cache)]) == 0
    # readers open cached shards read-only, through the symlink
    from salprep.store import open_shard

    with open_shard(b / "store" / "demo" / "flow_tvl1" / "001.h5", "flow_tvl1") as h5:
        assert h5.attrs["video"] == "001"


def test_a_lost_cache_entry_is_reported_and_recomputed(two_clones, monkeypatch, capsys):
    """Runs last: deletes two cache entries behind Bob's symlinks: a TV-L1 shard that is itself a
    target, and a GT shard upstream of results/center_bias (named too, so that it is recomputed)."""
    a, b, cache = two_clones
    link = b / "store" / "demo" / "flow_tvl1" / "001.h5"
    gt_link = b / "store" / "demo" / "gt" / "601.h5"
    for lost in (link, gt_link):
        lost.resolve().unlink()
    monkeypatch.chdir(b)
    assert main(["verify", "-q", "store/demo/flow_tvl1", "store/demo/gt"]) == 1
    out = capsys.readouterr().out
    assert "store/demo/flow_tvl1/001.h5: dangling symlink to " in out and "store/demo/gt/601.h5: dangling" in out
    # GT 601 is also upstream of results/center_bias: a dangling link used to stop the whole plan
    # there ("Unable to obtain modification time"); now it is removed at plan time and recomputed
    proc = run(b, cache, "store/demo/gt/601.h5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "store/demo/gt/601.h5: dangling symlink to " in proc.stderr
    assert link.resolve().exists() and (b / "logs" / "demo" / "flow_tvl1" / "001.log").stat().st_size > 0
    assert gt_link.resolve().exists() and (b / "logs" / "demo" / "gt" / "601.log").stat().st_size > 0
