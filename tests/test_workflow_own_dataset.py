"""The DAG on a dataset it does not generate (a folder in DHF1K layout, as a researcher's copy):
annotation stamps made at plan time, and a video added to a split."""

import json

import pytest
from conftest import make_tiny_dhf1k
from test_workflow import TINY, job_stats, planned_jobs, snakemake

from salprep.cli import main


def own_config(root, train: str) -> str:
    return (f"dataset: mine\ndatasets:\n  mine:\n    layout: dhf1k\n    root: {root}\n"
            f"    splits: {{train: '{train}', val: '601'}}\n")


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("own")
    make_tiny_dhf1k(base / "dhf1k copy", videos=(1, 2, 3, 601), frames=6)  # a space in the root
    (base / "tiny.yaml").write_text(TINY)
    (base / "mine.yaml").write_text(own_config(base / "dhf1k copy", "1-2"))
    workdir = base / "run"
    configs = ("tiny.yaml", "mine.yaml")
    # the annotation folders exist, so their stamps are written while planning: no stamp jobs
    # a stage shard too: the stage rules' template quotes a video path with a space in it
    proc = snakemake(workdir, "results/center_bias", "store/mine/frames/001.h5", configs=configs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert job_stats(proc) == {"gt": 3, "frames": 1, "train": 1, "evaluate": 1}
    return workdir


def test_stamps_are_written_at_plan_time_for_existing_annotations(own_run):
    stamps = own_run / ".salprep" / "annotations" / "mine"
    assert sorted(p.name for p in stamps.glob("[!.]*.json")) == ["001.json", "002.json", "601.json"]
    assert json.loads((stamps / "001.json").read_text())["files"] == 2 * 6
    assert planned_jobs(own_run, "results/center_bias", configs=("tiny.yaml", "mine.yaml")) == {}


def test_adding_a_video_to_a_split_plans_its_jobs_and_the_gathering_rules(own_run):
    (own_run.parent / "mine3.yaml").write_text(own_config(own_run.parent / "dhf1k copy", "1-3"))
    configs = ("tiny.yaml", "mine3.yaml")
    proc = snakemake(own_run, "results/center_bias", configs=configs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_stats(proc) == {"gt": 1, "train": 1, "evaluate": 1}
    assert planned_jobs(own_run, "results/center_bias", configs=configs) == {}
    assert main(["verify", "-q", str(own_run / "store" / "mine")]) == 0
    prov = json.loads((own_run / "results" / "center_bias" / "provenance.json").read_text())
    assert prov["config"]["datasets"]["mine"]["splits"]["train"] == "1-3"
