"""The Snakemake DAG end to end on a tiny demo dataset, and its incremental recompute."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import TINY_DEMO_GROUP, copy_build

from salprep.cli import main
from salprep.video import iter_frames, write_video

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = """\
demo_data: {seed: 1, frames: 12, size: 160x90}
evaluate: {workers: 2, overlays: 1}
stages:
  flow_tvl1: {size: 32x32, out_size: 64x64}
  i3d_rgb: {size: 64x64, window: 8, stride: 2, pool: 1x2x2, pad_start: false}
  i3d_flow: {window: 8, stride: 2, pool: 1x2x2}   # pad_start: true from config/config.yaml
"""
STAGES = ("flow_tvl1", "flow_spynet", "depth", "i3d_rgb", "i3d_flow", "frames")
EVERY_VIDEO = ["001.h5", "002.h5", "003.h5", "004.h5", "601.h5", "602.h5", "701.h5"]  # test video too


def snakemake(workdir: Path, *args: str, configs=("tiny.yaml",)) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),  # reads profiles/default
           "--configfile", *[str(workdir.parent / c) for c in configs], "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def planned_jobs(workdir: Path, *targets: str, configs=("tiny.yaml",)) -> dict[str, int]:
    proc = snakemake(workdir, "-n", *(targets or ("results/center_bias",)), configs=configs)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


pytestmark = pytest.mark.xdist_group(TINY_DEMO_GROUP)


@pytest.fixture(scope="module")
def demo_run(tiny_demo_build, tmp_path_factory):
    """This file's copy of the session's tiny demo build (its tests change it)."""
    return copy_build(tiny_demo_build, tmp_path_factory.mktemp("wf") / "base")


def test_demo_dag_builds_center_bias_results(demo_run):
    metrics = json.loads((demo_run / "results" / "center_bias" / "metrics.json").read_text())
    assert set(metrics) == {"val"}
    val = metrics["val"]
    assert set(val) == {"auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld", "n_frames"}
    assert val["n_frames"] == 2 * 12
    assert 0.5 < val["auc_judd"] < 1.0
    prov = json.loads((demo_run / "results" / "center_bias" / "provenance.json").read_text())
    assert prov["config"]["dataset"] == "demo" and len(prov["shards"]) == 2
    assert main(["verify", "-q", str(demo_run / "store")]) == 0
    assert sorted(p.name for p in (demo_run / "store" / "demo" / "gt").iterdir()) == [
        "001.h5", "002.h5", "003.h5", "004.h5", "601.h5", "602.h5"]


def test_demo_dag_builds_every_stage(demo_run):
    for stage in STAGES:
        assert sorted(p.name for p in (demo_run / "store" / "demo" / stage).iterdir()) == EVERY_VIDEO
    assert main(["verify", "-q", *(str(demo_run / "store" / "demo" / s) for s in STAGES)]) == 0
    with h5py.File(demo_run / "store" / "demo" / "flow_spynet" / "001.h5", "r") as h5:
        assert h5.attrs["weights"] == "random-init"
        assert h5["flow"].shape == (1, 2, 192, 256)  # frame 0 only: frame 11 of 12 has no successor
    with h5py.File(demo_run / "store" / "demo" / "depth" / "001.h5", "r") as h5:
        assert h5.attrs["weights"] == "random-init" and h5["disparity"].shape == (2, 90, 160)
        assert h5["frame_index"][...].tolist() == [0, 10]
    # window 8, stride 2, 12 frames: from frame 7 (LSTS), or from frame 0 with pad_start
    for stage, ends in (("i3d_rgb", [7, 9, 11]), ("i3d_flow", [0, 2, 4, 6, 8, 10])):
        with h5py.File(demo_run / "store" / "demo" / stage / "602.h5", "r") as h5:
            assert h5.attrs["weights"] == "random-init"
            assert h5["frame_index"][...].tolist() == ends
            assert h5["features"].shape == (len(ends), 1024, 1, 2, 2) and h5["features"].dtype == np.float16
            assert list(h5.attrs["input_size"]) == [64, 64]
            assert json.loads(h5.attrs["params"])["pad_start"] is (stage == "i3d_flow")


def test_run_settings_replan_nothing_but_a_setting_reruns_its_stage(demo_run):
    """device / batch_size are not params; a stored setting (the I3D stride) is."""
    (demo_run.parent / "run_settings.yaml").write_text(
        "stages: {i3d_rgb: {batch_size: 3, device: cpu}, depth: {batch_size: 1}, flow_tvl1: {batch_size: 2}}\n")
    assert planned_jobs(demo_run, "shards", configs=("tiny.yaml", "run_settings.yaml")) == {}
    (demo_run.parent / "stride.yaml").write_text("stages: {i3d_flow: {stride: 3}}\n")
    assert planned_jobs(demo_run, "shards", configs=("tiny.yaml", "stride.yaml")) == {"i3d_flow": 7, "shards": 1}
    # a TV-L1 setting reruns TV-L1 and the stage that reads it (I3D flow), nothing else
    (demo_run.parent / "bound.yaml").write_text("stages: {flow_tvl1: {bound: 3.0}}\n")
    assert planned_jobs(demo_run, "results/center_bias", "shards", configs=("tiny.yaml", "bound.yaml")) == {
        "flow_tvl1": 7, "i3d_flow": 7, "shards": 1}


def test_unrelated_config_replans_no_training(demo_run):
    """A model's params are its own models.<name> section and its input stages' versions only."""
    (demo_run.parent / "unrelated.yaml").write_text(
        "evaluate: {workers: 1, scheduler: threads}\nstages: {flow_tvl1: {batch_size: 3}}\nmodels: {lsts_flow: {epochs: 3}}\n"
        "train: {device: cpu}\n")
    assert planned_jobs(demo_run, "results/center_bias", configs=("tiny.yaml", "unrelated.yaml")) == {}
    # a decoder is planned as the same two rules with its own wildcard (dry run: the tiny demo's
    # features are not LSTS-sized); its settings change only its own jobs
    assert planned_jobs(demo_run, "results/lsts_flow") == {"train": 1, "evaluate": 1}
    assert planned_jobs(demo_run, "all") == {"train": 7, "evaluate": 7, "report": 1, "visualise": 3, "all": 1}
    proc = snakemake(demo_run, "-n")  # no target: `all`
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"^all\s+1\s*$", (proc.stdout + proc.stderr).split("Job stats:")[1], re.M)
    (demo_run.parent / "cb.yaml").write_text("evaluate: {n_other: 5}\n")
    assert planned_jobs(demo_run, "results/center_bias", configs=("tiny.yaml", "cb.yaml")) == {"evaluate": 1}


def test_touching_a_video_or_shard_without_changing_it_replans_nothing(demo_run):
    """The profile checksums inputs of any size (max-checksum-file-size): a newer mtime alone is not
    a change (Snakemake's 1 MB default would rerun the video's jobs and everything downstream)."""
    ann = demo_run / "data" / "demo" / "annotation"
    for path in (demo_run / "data" / "demo" / "video" / "003.AVI", demo_run / "store" / "demo" / "gt" / "601.h5",
                 demo_run / "store" / "demo" / "flow_tvl1" / "002.h5", ann / "0002" / "fixation" / "0003.png",
                 ann / "0601" / "maps" / "0001.png", ann / "0602"):
        os.utime(path)
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    # the same touch with a threshold below these files' sizes is taken as a change (mtime only)
    proc = snakemake(demo_run, "-n", "--max-checksum-file-size", "1KB", "results/center_bias", "shards")
    assert "Job stats:" in proc.stdout + proc.stderr and "gt" in (proc.stdout + proc.stderr).split("Job stats:")[1]
    profile = (REPO / "profiles" / "default" / "config.yaml").read_text()
    assert "max-checksum-file-size: 4GB" in profile  # DHF1K videos and shards are far above 1 MB


def test_editing_one_fixation_file_reruns_that_videos_gt_and_downstream(demo_run):
    """An in-place edit (same name, same folder mtime) changes the video's annotation stamp."""
    from PIL import Image

    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    png = demo_run / "data" / "demo" / "annotation" / "0602" / "fixation" / "0007.png"
    folder_mtime = png.parent.stat().st_mtime_ns
    fix = np.array(Image.open(png))
    fix[45, 80] = 255 - fix[45, 80]
    Image.fromarray(fix).save(png)
    assert png.parent.stat().st_mtime_ns == folder_mtime  # what a directory() input would have seen
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {"gt": 1, "evaluate": 1, "shards": 1}
    assert snakemake(demo_run, "results/center_bias", "shards").returncode == 0
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    stamp = json.loads((demo_run / ".salprep" / "annotations" / "demo" / "602.json").read_text())
    assert stamp["video"] == "602" and stamp["files"] == 2 * 12  # fixation + shipped maps


def test_nothing_to_do_then_only_changed_video_reruns(demo_run):
    assert planned_jobs(demo_run) == {}
    val_video = demo_run / "data" / "demo" / "video" / "602.AVI"
    write_video(val_video, list(iter_frames(val_video)), quality=6)  # new content, same frames
    assert planned_jobs(demo_run) == {"gt": 1, "evaluate": 1}
    assert planned_jobs(demo_run, "shards") == {
        "gt": 1, "flow_tvl1": 1, "flow_spynet": 1, "depth": 1, "i3d_rgb": 1, "i3d_flow": 1, "frames": 1,
        "shards": 1}
    train_video = demo_run / "data" / "demo" / "video" / "003.AVI"
    write_video(train_video, list(iter_frames(train_video)), quality=6)
    assert planned_jobs(demo_run) == {"gt": 2, "train": 1, "evaluate": 1}


def test_make_demo_target_plans_only_what_lsts_flow_needs(tmp_path):
    """`make demo` (results/center_bias results/lsts_flow): GT, TV-L1 and I3D flow of the train and
    val videos, two trainings and two evaluations; training jobs get train.threads (<= cores)."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert planned_jobs(tmp_path / "run", "results/center_bias", "results/lsts_flow") == {
        "demo_data": 1, "demo_weights": 1, "annotation_digest": 6, "gt": 6, "flow_tvl1": 6, "i3d_flow": 6,
        "train": 2, "evaluate": 2}
    proc = snakemake(tmp_path / "run", "-n", "results/lsts_flow")
    train_job = (proc.stdout + proc.stderr).split("rule train:")[1].split("rule ")[0]
    assert "threads: 2" in train_job


def test_readme_own_dataset_command_parses_its_targets(demo_run):
    """The README's own-dataset command, run as written (its config swapped for the tiny demo's):
    the targets must not be swallowed by --configfile."""
    import shlex

    readme = (REPO / "README.md").read_text()
    block = readme.split("## Your own DHF1K copy")[1].split("```bash")[1].split("```")[0]
    line = " ".join(part.strip() for part in block.replace("\\\n", " ").splitlines() if part.startswith("snakemake"))
    args = shlex.split(line.replace("my_dhf1k.yaml", str(demo_run.parent / "tiny.yaml")))
    assert args[0] == "snakemake" and "results/center_bias" in args
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "snakemake"), *args[1:], "-n", "-s", str(REPO / "Snakefile"), "-d", str(demo_run)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "IsADirectoryError" not in proc.stderr


def test_lint_is_clean():
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=300)
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_config_is_validated(tmp_path):
    (tmp_path / "tiny.yaml").write_text("evaluate: {workers: 0}\n")
    proc = snakemake(tmp_path / "run", "-n", "results/center_bias")
    assert proc.returncode != 0
    assert "Error validating config" in proc.stdout + proc.stderr


def test_bad_annotation_fails_its_job_with_one_line_and_no_shard(demo_run):
    """Runs last: breaks video 004's annotations; the job's one-line error reaches the user."""
    assert snakemake(demo_run, "results/center_bias").returncode == 0  # catch up with earlier edits
    (demo_run / "data" / "demo" / "annotation" / "0004" / "fixation" / "0005.png").unlink()
    gt_dir = demo_run / "store" / "demo" / "gt"
    (gt_dir / "004.h5").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in gt_dir.iterdir()}
    proc = snakemake(demo_run, "store/demo/gt/004.h5")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "salprep: error: data/demo/annotation/0004/fixation: fixation frames are not numbered" in out
    assert {p.name: p.stat().st_mtime_ns for p in gt_dir.iterdir()} == before  # nothing else touched
