"""The Snakemake DAG end to end on a tiny demo dataset, and its incremental recompute."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

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
#: the shared build's videos: one of each split (config/config.yaml's demo has four training and
#: two validation videos; every job kind runs with one, and each video costs five torch jobs)
BUILD_SPLITS = "datasets: {demo: {splits: {train: '1', val: '601', test: '701'}}}\n"
EVERY_VIDEO = ["001.h5", "601.h5", "701.h5"]  # test video too


def snakemake(workdir: Path, *args: str, configs=("tiny.yaml",)) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),  # reads profiles/default
           "--configfile", *[str(workdir.parent / c) for c in configs], "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def job_stats(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """{rule: jobs} of the "Job stats" table a run or a dry run prints before any job (a run that
    must plan and build need not be preceded by a dry run: its own table says what it planned);
    {} when there was nothing to be done."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def planned_jobs(workdir: Path, *targets: str, configs=("tiny.yaml",)) -> dict[str, int]:
    proc = snakemake(workdir, "-n", *(targets or ("results/center_bias",)), configs=configs)
    assert proc.returncode == 0, proc.stderr
    return job_stats(proc)


@pytest.fixture(scope="module")
def tiny_demo_build(tmp_path_factory) -> Path:
    """The tiny demo DAG (TINY): results/center_bias and every stage's shards, built once for this
    file; returns the folder holding ``run/`` (the workdir) and ``tiny.yaml``. Read-only: tests
    work on a copy (:func:`copy_build`): ``demo_run`` (changed by its tests), ``report_run``."""
    base = tmp_path_factory.mktemp("tiny_demo")
    (base / "tiny.yaml").write_text(TINY + BUILD_SPLITS)
    proc = snakemake(base / "run", "results/center_bias", "shards")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert job_stats(proc) == {
        "demo_data": 1, "demo_weights": 1, "annotation_digest": 2, "gt": 2, "flow_tvl1": 3, "flow_spynet": 3,
        "depth": 3, "i3d_rgb": 3, "i3d_flow": 3, "frames": 3, "train": 1, "evaluate": 1, "shards": 1}
    return base


def copy_build(build: Path, dst: Path) -> Path:
    """A copy of a built project folder (data, store, results, Snakemake's metadata, configs) with
    every mtime kept, so Snakemake plans nothing new in it; returns the copy's workdir."""
    shutil.copytree(build, dst, symlinks=True)
    return dst / "run"


@pytest.fixture(scope="module")
def demo_run(tiny_demo_build, tmp_path_factory):
    """A copy of the tiny demo build that this file's incremental tests change."""
    return copy_build(tiny_demo_build, tmp_path_factory.mktemp("wf") / "base")


def test_demo_dag_builds_center_bias_results(demo_run):
    metrics = json.loads((demo_run / "results" / "center_bias" / "metrics.json").read_text())
    assert set(metrics) == {"val"}
    val = metrics["val"]
    assert set(val) == {"auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld", "n_frames", "n_scored"}
    assert val["n_frames"] == 12
    assert 0.5 < val["auc_judd"] < 1.0
    prov = json.loads((demo_run / "results" / "center_bias" / "provenance.json").read_text())
    assert prov["config"]["dataset"] == "demo" and len(prov["shards"]) == 1
    # the demo's GT blur is not DHF1K's: its scores are not the paper recipe's, and say so
    assert prov["recipe"]["paper"] is False and set(prov["recipe"]["deviations"]) == {"gt.sigma"}
    assert prov["recipe"]["summary"] == "deviations: gt.sigma 28.0 (paper 12.7398)"
    assert main(["verify", "-q", str(demo_run / "store")]) == 0
    assert sorted(p.name for p in (demo_run / "store" / "demo" / "gt").iterdir()) == [
        "001.h5", "601.h5"]


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
        with h5py.File(demo_run / "store" / "demo" / stage / "601.h5", "r") as h5:
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
    assert planned_jobs(demo_run, "shards", configs=("tiny.yaml", "stride.yaml")) == {"i3d_flow": 3, "shards": 1}
    # a TV-L1 setting reruns TV-L1 and the stage that reads it (I3D flow), nothing else
    (demo_run.parent / "bound.yaml").write_text("stages: {flow_tvl1: {bound: 3.0}}\n")
    assert planned_jobs(demo_run, "results/center_bias", "shards", configs=("tiny.yaml", "bound.yaml")) == {
        "flow_tvl1": 3, "i3d_flow": 3, "shards": 1}


def test_unrelated_config_replans_no_training(demo_run):
    """A model's params are its own models.<name> section and its input stages' versions only."""
    (demo_run.parent / "unrelated.yaml").write_text(
        "evaluate: {workers: 1, scheduler: threads}\nstages: {flow_tvl1: {batch_size: 3}}\nmodels: {lsts_flow: {epochs: 3}}\n"
        "train: {device: cpu}\n")
    assert planned_jobs(demo_run, "results/center_bias", configs=("tiny.yaml", "unrelated.yaml")) == {}
    # a decoder is planned as the same two rules with its own wildcard (dry run: the tiny demo's
    # features are not LSTS-sized); its settings change only its own jobs
    assert planned_jobs(demo_run, "results/lsts_flow") == {"train": 1, "evaluate": 1}
    assert planned_jobs(demo_run, "all") == {"train": 8, "evaluate": 8, "report": 1, "recipe": 1, "visualise": 3,
                                             "all": 1}
    proc = snakemake(demo_run, "-n")  # no target: `all`
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert job_stats(proc)["all"] == 1
    (demo_run.parent / "cb.yaml").write_text("evaluate: {n_other: 5}\n")
    assert planned_jobs(demo_run, "results/center_bias", configs=("tiny.yaml", "cb.yaml")) == {"evaluate": 1}


def test_touching_a_video_or_shard_without_changing_it_replans_nothing(demo_run):
    """The profile checksums inputs of any size (max-checksum-file-size): a newer mtime alone is not
    a change (Snakemake's 1 MB default would rerun the video's jobs and everything downstream)."""
    ann = demo_run / "data" / "demo" / "annotation"
    for path in (demo_run / "data" / "demo" / "video" / "001.AVI", demo_run / "store" / "demo" / "gt" / "601.h5",
                 demo_run / "store" / "demo" / "flow_tvl1" / "001.h5", ann / "0001" / "fixation" / "0003.png",
                 ann / "0601" / "maps" / "0001.png", ann / "0601"):
        os.utime(path)
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    # the same touch with a threshold below these files' sizes is taken as a change (mtime only)
    proc = snakemake(demo_run, "-n", "--max-checksum-file-size", "1KB", "results/center_bias", "shards")
    assert "gt" in job_stats(proc)
    profile = (REPO / "profiles" / "default" / "config.yaml").read_text()
    assert "max-checksum-file-size: 4GB" in profile  # DHF1K videos and shards are far above 1 MB


def test_editing_one_fixation_file_reruns_that_videos_gt_and_downstream(demo_run):
    """An in-place edit (same name, same folder mtime) changes the video's annotation stamp."""
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    png = demo_run / "data" / "demo" / "annotation" / "0601" / "fixation" / "0007.png"
    folder_mtime = png.parent.stat().st_mtime_ns
    fix = np.array(Image.open(png))
    fix[45, 80] = 255 - fix[45, 80]
    Image.fromarray(fix).save(png)
    assert png.parent.stat().st_mtime_ns == folder_mtime  # what a directory() input would have seen
    proc = snakemake(demo_run, "results/center_bias", "shards")
    assert proc.returncode == 0 and job_stats(proc) == {"gt": 1, "evaluate": 1, "shards": 1}, proc.stderr[-3000:]
    assert planned_jobs(demo_run, "results/center_bias", "shards") == {}
    stamp = json.loads((demo_run / ".salprep" / "annotations" / "demo" / "601.json").read_text())
    assert stamp["video"] == "601" and stamp["files"] == 2 * 12  # fixation + shipped maps


def test_nothing_to_do_then_only_changed_video_reruns(demo_run):
    assert planned_jobs(demo_run) == {}
    val_video = demo_run / "data" / "demo" / "video" / "601.AVI"
    write_video(val_video, list(iter_frames(val_video)), quality=6)  # new content, same frames
    assert planned_jobs(demo_run) == {"gt": 1, "evaluate": 1}
    assert planned_jobs(demo_run, "shards") == {
        "gt": 1, "flow_tvl1": 1, "flow_spynet": 1, "depth": 1, "i3d_rgb": 1, "i3d_flow": 1, "frames": 1,
        "shards": 1}
    train_video = demo_run / "data" / "demo" / "video" / "001.AVI"
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
    """Runs last: breaks video 001's annotations; the job's one-line error reaches the user. (The
    target is that one shard: earlier tests' edits to other inputs are not caught up with.)"""
    (demo_run / "data" / "demo" / "annotation" / "0001" / "fixation" / "0005.png").unlink()
    gt_dir = demo_run / "store" / "demo" / "gt"
    (gt_dir / "001.h5").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in gt_dir.iterdir()}
    proc = snakemake(demo_run, "store/demo/gt/001.h5")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "salprep: error: data/demo/annotation/0001/fixation: fixation frames are not numbered" in out
    assert {p.name: p.stat().st_mtime_ns for p in gt_dir.iterdir()} == before  # nothing else touched


# --- snakemake --report on the tiny demo DAG (tests/test_report_html.py: the figures themselves) ---

REPORT_FIGURES = ("601_flow_tvl1.png", "601_flow_spynet.png", "601_depth.png")


@pytest.fixture(scope="module")
def report_run(tiny_demo_build, tmp_path_factory):
    """The tiny demo DAG for results/center_bias and the figures, then `snakemake --report` (on a
    copy of the session's build, which holds every shard the figures read)."""
    base = tmp_path_factory.mktemp("report")
    (base / "tiny.yaml").write_text(TINY)
    plan = planned_jobs(base / "fresh", "results/center_bias", "figures")
    # the figures need only the first val video's flow and depth shards, no I3D
    assert {k: plan.get(k) for k in ("flow_tvl1", "flow_spynet", "depth", "visualise", "figures", "evaluate")} == {
        "flow_tvl1": 1, "flow_spynet": 1, "depth": 1, "visualise": 3, "figures": 1, "evaluate": 1}
    assert "i3d_rgb" not in plan and "i3d_flow" not in plan and "frames" not in plan
    workdir = copy_build(tiny_demo_build, base / "built")
    proc = snakemake(workdir, "results/center_bias", "figures", "results/recipe.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert job_stats(proc) == {"visualise": 3, "figures": 1, "recipe": 1}
    proc = snakemake(workdir, "--report", "report.html", "results/center_bias", "figures", "results/recipe.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


def _embedded(html: str, name: str) -> dict:
    """A table the report embeds as one line of JSON: ``results`` (path -> name, labels, caption,
    mime type, data URI) or ``categories`` (category -> subcategory -> paths)."""
    match = re.search(rf"^\s*var {name} = (\{{.*\}});$", html, re.M)
    assert match, f"no {name} table in the report"
    return json.loads(match.group(1))


def test_report_html_has_the_models_metrics_overlays_and_the_figures(report_run):
    report = report_run / "report.html"
    assert report.stat().st_size > 100_000
    html = report.read_text()
    results = _embedded(html, "results")
    by_name = {entry["name"]: (path, entry) for path, entry in results.items()}
    # the model: metrics.json with its val scores as labels, overlays, score histograms, prior, CSV
    metrics = json.loads((report_run / "results" / "center_bias" / "metrics.json").read_text())["val"]
    path, entry = by_name["metrics.json"]
    assert path == "results/center_bias/metrics.json"
    assert entry["labels"]["result"] == "metrics (val)"
    assert entry["labels"]["NSS"] == f"{metrics['nss']:.3f}" and entry["labels"]["CC"] == f"{metrics['cc']:.3f}"
    assert entry["labels"]["frames"] == "12"
    assert "DHF1K protocol" in entry["caption"] and "center_bias" in entry["caption"]
    for name in ("overlays_val.png", "scores_val.png", "prior.png"):
        path, entry = by_name[name]
        assert path == f"results/center_bias/{name}" and entry["mime_type"] == "image/png"
        assert entry["data_uri"].startswith("data:image/png")  # self-contained
    assert "fixations" in by_name["overlays_val.png"][1]["caption"]
    assert by_name["per_video.csv"][1]["labels"] == {"result": "per-video scores (CSV)"}
    # the flow and depth figures of the first val video
    for name in REPORT_FIGURES:
        path, entry = by_name[name]
        assert path == f"results/figures/{name}" and entry["data_uri"].startswith("data:image/png")
        assert entry["labels"] == {"stage": name[4:-4], "video": "601"}
    assert "colour wheel" in by_name["601_flow_tvl1.png"][1]["caption"]
    assert "monodepth2 disparity" in by_name["601_depth.png"][1]["caption"]
    # categories: Models / center_bias, Flow and depth; and the workflow description
    categories = _embedded(html, "categories")
    assert sorted(categories["Models"]["center_bias"]) == sorted(
        f"results/center_bias/{n}" for n in ("metrics.json", "provenance.json", "per_video.csv", "prior.png",
                                             "scores_val.png", "overlays_val.png"))
    assert sorted(p for sub in categories["Flow and depth"].values() for p in sub) == sorted(
        f"results/figures/{n}" for n in REPORT_FIGURES)
    assert "preprocesses an eye-tracking video dataset" in html
    # the recipe record, with the demo's deviations from the papers
    path, entry = by_name["recipe.json"]
    assert path == "results/recipe.json" and "papers' values" in entry["caption"]
    record = json.loads((report_run / "results" / "recipe.json").read_text())
    assert record["dataset"] == "demo" and record["stages"]["flow_tvl1"]["deviations"]["bound"]["paper"] == 20.0
    # nothing reruns: the report markers change no job
    assert planned_jobs(report_run, "results/center_bias", "figures") == {}


def test_figures_are_part_of_all_but_not_of_the_make_demo_targets(report_run):
    assert "visualise" not in planned_jobs(report_run, "results/center_bias", "results/lsts_flow")
    assert planned_jobs(report_run, "figures") == {}
    fresh = report_run.parent / "fresh"
    plan = planned_jobs(fresh, "all")
    assert plan["visualise"] == 3 and plan["all"] == 1  # `all` takes the figures rule's files


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="headless Chromium not installed (Debian package `chromium`); the report is "
                           "drawn by JavaScript, so only a browser shows what a reader sees")
def test_report_renders_in_headless_chromium(report_run, tmp_path):
    """The report's JavaScript runs and draws the model's listing: its metrics as a table row."""
    html = (report_run / "report.html").read_text()
    head, body_end, tail = html.rpartition("</body>")  # (the embedded libraries hold "</body>" too)
    script = "<script>setTimeout(function(){app.showCategory('Models');}, 300);</script>"
    page = tmp_path / "models.html"
    page.write_text(head + script + body_end + tail)
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    metrics = json.loads((report_run / "results" / "center_bias" / "metrics.json").read_text())["val"]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", dom.stdout.split("metrics (val)</td>", 1)[1])[:7]
    assert cells == [f"{metrics[m]:.3f}" for m in ("auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld")] + ["12"]
    shot = tmp_path / "models.png"
    proc = subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (1000, 1400)
    assert img[200:800, 20:400].mean() < 140 and img.std() > 20  # the dark listing panel: not a blank page
