"""The DAG end to end on each layout's own tiny fixture, written in its native layout by the
adapter's fixture writer: GT, a decoder's input stages, the decoder and evaluation -- and a
DHF1K-layout folder of MP4 videos, which goes through TV-L1, I3D flow and LSTS flow.
Hollywood-2, UCF-Sports (frame folders), LEDOV (MP4) and SALICON (single images) train SalBCE RGB
on the frames stage: every stage decodes through the same frame reader (salprep.video.iter_frames),
so the frames stage tests each layout's decoding at a fraction of the torch stages' cost."""

from __future__ import annotations

import json

import pytest
from conftest import make_tiny_dhf1k
from dataset_fixtures import (
    write_frame_folder_fixture,
    write_ledov_fixture,
    write_salicon_fixture,
)
from test_workflow import TINY, job_stats, planned_jobs, snakemake

from salprep.cli import main
from salprep.video import iter_frames, write_video

FAST = """\
evaluate: {scheduler: sync, workers: 1, n_splits: 10}
models:
  lsts_flow: {epochs: 1, batch_size: 4, frames_per_video: 4}
  salbce_rgb: {width: 0.0625, epochs: 1, batch_size: 2, frames_per_video: 0}
stages:   # the LSTS decoder takes 1024x5x5x5: the smallest I3D input giving Mixed_5c 5x5x5 unpooled
  # (T' = ceil(T / 8), H' = ceil(H / 32)): 33-frame windows at 132 px
  flow_tvl1: {size: 32x32, out_size: 132x132}
  i3d_flow: {window: 33, stride: 10, pool: 5x5x5, pad_start: true}
  frames: {size: 64x48}
"""


def _ledov(root):
    write_ledov_fixture(root, {"animal_alpaca01": (12, (48, 64), 25.0), "manmade_yacht03": (10, (48, 64), 15.0)},
                        splits={"train": ["animal_alpaca01"], "val": ["manmade_yacht03"], "test": []})
    return "", {"train": 1, "val": 1}


def _frame_folders(layout):
    def write(root):
        made = write_frame_folder_fixture(root, layout)
        train = [n for n, v in made.items() if v["split"] == "train"]
        test = [n for n, v in made.items() if v["split"] == "test"]
        return f"    splits: {{train: '{','.join(train)}', val: '{','.join(test)}'}}\n", \
            {"train": len(train), "val": len(test)}
    return write


def _salicon(root):
    made = write_salicon_fixture(root)
    return "", {"train": sum(v["split"] == "train" for v in made.values()),
                "val": sum(v["split"] == "val" for v in made.values())}


def _dhf1k_mp4(root):
    make_tiny_dhf1k(root, videos=(1, 601), frames=10)
    for avi in sorted((root / "video").glob("*.AVI")):
        write_video(avi.with_suffix(".mp4"), iter_frames(avi), fps=30, codec="mpeg4")
        avi.unlink()
    return "    splits: {train: '1', val: '601'}\n", {"train": 1, "val": 1}


LAYOUTS = {"ledov": _ledov, "hollywood": _frame_folders("hollywood"), "ucf": _frame_folders("ucf"),
           "salicon": _salicon, "dhf1k": _dhf1k_mp4}
#: the layouts whose DAG runs the LSTS flow path (the others: salbce_rgb)
MODELS = {"dhf1k": "lsts_flow"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_dag_runs_on_each_layout(tmp_path, layout):
    root = tmp_path / f"{layout} data"
    splits, counts = LAYOUTS[layout](root)
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "fast.yaml").write_text(FAST)  # merged into tiny.yaml's sections by Snakemake
    (tmp_path / "own.yaml").write_text(f"dataset: own\ndatasets:\n  own:\n    layout: {layout}\n    root: {root}\n"
                                       + splits)
    configs = ("tiny.yaml", "fast.yaml", "own.yaml")
    model = MODELS.get(layout, "salbce_rgb")
    stages = {"frames": 1} if model == "salbce_rgb" else {"flow_tvl1": 1, "i3d_flow": 1}
    n = counts["train"] + counts["val"]
    proc = snakemake(tmp_path / "run", f"results/{model}", configs=configs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    weights = {} if model == "salbce_rgb" else {"demo_weights": 1}  # SalBCE RGB starts from no checkpoint here
    assert job_stats(proc) == {**weights, "gt": n, **{s: k * n for s, k in stages.items()}, "train": 1, "evaluate": 1}
    metrics = json.loads((tmp_path / "run" / "results" / model / "metrics.json").read_text())
    assert metrics["val"]["n_frames"] > 0 and all(k in metrics["val"] for k in ("nss", "cc", "auc_judd"))
    assert main(["verify", "-q", str(tmp_path / "run" / "store" / "own")]) == 0
    assert planned_jobs(tmp_path / "run", f"results/{model}", configs=configs) == {}


def test_a_root_that_is_not_the_layout_stops_the_plan_with_its_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "own.yaml").write_text(f"dataset: own\ndatasets:\n  own:\n    layout: ledov\n    root: {tmp_path / 'empty'}\n")
    proc = snakemake(tmp_path / "run", "-n", "results/center_bias", configs=("tiny.yaml", "own.yaml"))
    assert proc.returncode != 0
    assert (f"{tmp_path / 'empty'}: not a ledov dataset: expected '<name>/<name>.mp4 + <name>/Data.mat' folders"
            in proc.stdout + proc.stderr)


def test_a_layout_without_a_val_split_needs_one_in_the_config(tmp_path):
    write_frame_folder_fixture(tmp_path / "ucf", "ucf")
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "own.yaml").write_text(f"dataset: own\ndatasets:\n  own:\n    layout: ucf\n    root: {tmp_path / 'ucf'}\n")
    proc = snakemake(tmp_path / "run", "-n", "results/center_bias", configs=("tiny.yaml", "own.yaml"))
    assert proc.returncode != 0
    assert "has no 'val' split (it has ['test', 'train'])" in proc.stdout + proc.stderr
