"""No silent wrong number (issue 25): every score says what it was computed on; shards that would
double-count are refused; outputs that cannot be written, bad devices and non-finite inputs stop
before any work with one line."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from faults import one_error_line, snapshot
from PIL import Image

from salprep.cli import main
from salprep.evaluate import METRICS, evaluate_split, nan_causes
from salprep.report import summary_markdown


@pytest.fixture
def gt_store(tiny_dhf1k, tmp_path):
    """GT shards of the tiny DHF1K copy (001: 6 frames; 601: 6 frames, 3 of them without
    fixations), a centre-bias model.pt, and the store folder."""
    root, _ = tiny_dhf1k
    for t in (2, 4, 6):  # frames 2, 4, 6 of 601 have no fixation
        png = root / "annotation" / "0601" / "fixation" / f"{t:04d}.png"
        Image.fromarray(np.zeros((48, 80), np.uint8), mode="L").save(png)
    store = tmp_path / "store" / "tiny" / "gt"
    for video in ("001", "601"):
        assert main(["gt", "--root", str(root), "--video", video, "--out", str(store / f"{video}.h5")]) == 0
    assert main(["train", "--model", "center_bias", "--gt", str(store / "001.h5"), "--out-dir",
                 str(tmp_path / "cb")]) == 0
    return store, tmp_path / "cb" / "model.pt"


def _evaluate(model_pt, out, *shards, extra=()):
    return main(["evaluate", "--model", "center_bias", "--checkpoint", str(model_pt), "--split", "val",
                 *map(str, shards), "--out-dir", str(out), "--overlays", "0", "--scheduler", "sync",
                 "--n-splits", "5", *extra])


def test_frames_without_fixations_are_counted_and_said(gt_store, tmp_path, capsys):
    store, model_pt = gt_store
    capsys.readouterr()
    assert _evaluate(model_pt, tmp_path / "res", store / "001.h5", store / "601.h5") == 0
    err = capsys.readouterr().err
    assert "salprep: warning: center_bias val: 3 of 12 frames have no fixations: they enter no AUC-Judd, sAUC or " \
           "NSS mean" in err
    val = json.loads((tmp_path / "res" / "metrics.json").read_text())["val"]
    assert val["n_frames"] == 12
    # fixation metrics over the 9 frames with fixations; CC/SIM/KLD compare the published maps
    # (DHF1K ships them), which every frame has
    assert val["n_scored"] == {"auc_judd": 9, "auc_shuffled": 9, "nss": 9, "cc": 12, "sim": 12, "kld": 12}
    rows = {r["video"]: r for r in csv.DictReader(open(tmp_path / "res" / "per_video.csv"))}
    assert rows["601"]["n_frames"] == "6" and rows["601"]["n_scored_nss"] == "3" and rows["601"]["n_scored_cc"] == "6"
    assert rows["001"]["n_scored_nss"] == "6"
    table = summary_markdown({"center_bias": {"val": val}}, {}, "val", "note")
    assert "| 12 † |" in table and "- center_bias: AUC-J over 9, sAUC over 9, NSS over 9 of 12 frames" in table


def test_a_full_split_says_nothing_and_counts_every_frame(gt_store, tmp_path, capsys):
    store, model_pt = gt_store
    capsys.readouterr()
    assert _evaluate(model_pt, tmp_path / "res", store / "001.h5") == 0
    assert "warning" not in capsys.readouterr().err
    val = json.loads((tmp_path / "res" / "metrics.json").read_text())["val"]
    assert val["n_scored"] == {m: 6 for m in METRICS}
    assert "†" not in summary_markdown({"center_bias": {"val": val}}, {}, "val", "note")


class NaNForFirstFrames:
    """A prediction holding NaN for frames 0 and 1 of every video, a constant map for frame 2
    (at the GT size: a bicubic resize can overshoot below 0, where KLD is NaN too)."""

    def predict(self, video, frames):
        out = np.random.default_rng(0).random((len(frames), *video.shape))
        out[frames < 2, 3, 4] = np.nan
        out[frames == 2] = 0.5
        return out


def test_nan_and_constant_predictions_are_counted_per_cause(gt_store):
    store, _ = gt_store
    result = evaluate_split([store / "001.h5"], NaNForFirstFrames(), progress=False, n_splits=5)
    s = result["summary"]
    assert result["causes"] == {"nonfinite_prediction": 2, "constant_prediction": 1}
    # NaN maps score NaN everywhere; the constant map on NSS, CC, SIM, sAUC (METRICS.md edge
    # cases), not on KLD, nor on AUC-Judd (jittered)
    assert s["n_scored"] == {"auc_judd": 4, "auc_shuffled": 3, "nss": 3, "cc": 3, "sim": 3, "kld": 4}
    lines = nan_causes(s, result["causes"])
    assert lines[0] == "2 of 6 predictions hold NaN or an infinity: those frames enter no mean"
    assert lines[1].startswith("1 of 6 predictions are constant maps")
    assert lines[2] == "so the means are over: auc_judd 4, auc_shuffled 3, nss 3, cc 3, sim 3, kld 4 of 6 frames"


def test_n_other_below_one_is_one_line_before_any_work(gt_store, tmp_path, capsys):
    store, model_pt = gt_store
    capsys.readouterr()
    assert _evaluate(model_pt, tmp_path / "res", store / "001.h5", extra=["--n-other", "0"]) == 2
    assert one_error_line(capsys) == "salprep: error: --n-other must be at least 1, got 0"
    assert not (tmp_path / "res").exists()


def test_a_shard_copied_under_another_name_is_refused(gt_store, tmp_path, capsys):
    """A GT shard copied as 602.h5 (its video attribute still says 601) would be trained on and
    scored twice: training and evaluation refuse it; the other shards are untouched."""
    store, model_pt = gt_store
    shutil.copy2(store / "601.h5", store / "602.h5")
    before = snapshot(store)
    capsys.readouterr()
    assert _evaluate(model_pt, tmp_path / "res", store / "601.h5", store / "602.h5") == 2
    assert one_error_line(capsys) == (f"salprep: error: {store / '602.h5'}: the shard is of video '601' but stored "
                                      "as video '602' (copied under another name?): rebuild it, or put it back "
                                      "under its own name")
    assert main(["train", "--model", "center_bias", "--gt", str(store / "602.h5"), "--out-dir",
                 str(tmp_path / "cb2")]) == 2
    assert "stored as video '602'" in one_error_line(capsys)
    assert snapshot(store) == before and not (tmp_path / "res").exists() and not (tmp_path / "cb2").exists()


def test_a_decoder_refuses_a_renamed_feature_shard_and_a_nan_one(tmp_path, capsys):
    from test_train import SMALL, _make_store, _train

    store = _make_store(tmp_path / "store" / "t")
    os.replace(store / "i3d_flow" / "002.h5", tmp_path / "002.h5")
    shutil.copy2(store / "i3d_flow" / "001.h5", store / "i3d_flow" / "002.h5")
    capsys.readouterr()
    assert _train(store, tmp_path / "a", settings={**SMALL, "epochs": 1}) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {store / 'i3d_flow' / '002.h5'}: the shard is of "
                                             "video '001' but stored as video '002'")
    os.replace(tmp_path / "002.h5", store / "i3d_flow" / "002.h5")
    with h5py.File(store / "i3d_flow" / "002.h5", "a") as h5:  # NaN in window 1 (frames 5, 6)
        features = h5["features"][...]
        features[1, 7, 2, 2, 2] = np.nan
        del h5["features"]
        h5["features"] = features
    for settings in ({**SMALL, "epochs": 1, "standardize": True}, {**SMALL, "epochs": 1, "standardize": False,
                                                                    "prior_bias": False}):
        assert _train(store, tmp_path / "b", settings=settings) == 2
        assert one_error_line(capsys) == (f"salprep: error: {store / 'i3d_flow' / '002.h5'}: i3d_flow shard holds "
                                          "NaN/Inf values in entry 1: no stage writes them; rebuild it ('salprep "
                                          "verify' lists every such shard)")
        assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["gt", "train", "evaluate"])
def test_an_out_path_of_the_wrong_kind_stops_before_any_work(gt_store, tiny_dhf1k, tmp_path, capsys, command):
    """--out naming a folder, --out-dir naming a file: one line before anything is computed."""
    store, model_pt = gt_store
    root, _ = tiny_dhf1k
    folder, file = tmp_path / "a folder", tmp_path / "a file"
    folder.mkdir()
    (folder / "keep").write_text("x")
    file.write_text("x")
    capsys.readouterr()
    if command == "gt":
        assert main(["gt", "--root", str(root), "--video", "001", "--out", str(folder)]) == 2
        assert one_error_line(capsys) == f"salprep: error: {folder}: is a folder; give the file to write"
    elif command == "train":
        assert main(["train", "--model", "center_bias", "--gt", str(store / "001.h5"), "--out-dir", str(file)]) == 2
        assert one_error_line(capsys) == f"salprep: error: {file}: is a file; give the folder to write"
    else:
        assert _evaluate(model_pt, file, store / "001.h5") == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # refused before scoring (no score line printed)
        assert captured.err.strip() == f"salprep: error: {file}: is a file; give the folder to write"
    assert (folder / "keep").read_text() == "x" and file.read_text() == "x"


@pytest.mark.parametrize("device", ["mps", "meta", "xpu"])
def test_a_device_this_build_cannot_run_is_one_line(gt_store, tmp_path, capsys, device):
    from test_train import SMALL, _make_store, _train

    store = _make_store(tmp_path / "store" / "t")
    capsys.readouterr()
    assert _train(store, tmp_path / "out", extra=["--device", device], settings={**SMALL, "epochs": 1}) == 2
    assert one_error_line(capsys) == (f"salprep: error: device {device!r}: salprep runs on cpu or cuda (use auto, "
                                      "cpu, cuda or cuda:N)")
    assert not (tmp_path / "out").exists()


def test_a_store_folder_the_user_may_not_write_is_one_line(tiny_dhf1k, tmp_path, capsys):
    """A shared store's folder without write permission for this user: one line, nothing written.
    When the suite runs as root (who may write anywhere) the command runs with another effective
    user id, in this process, after a first run has imported everything it needs."""
    root, _ = tiny_dhf1k
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(tmp_path / "warm" / "001.h5")]) == 0
    shared = Path(tempfile.mkdtemp(prefix="salprep-shared-"))  # a folder every user may enter
    os.chmod(shared, 0o755)
    store = shared / "store" / "tiny" / "gt"
    store.mkdir(parents=True)
    (store / "601.h5").write_bytes(b"another teammate's shard")
    os.chmod(store, 0o555)
    before = snapshot(store)
    capsys.readouterr()
    as_root = os.geteuid() == 0
    try:
        if as_root:
            os.setegid(65534)
            os.seteuid(65534)
        code = main(["gt", "--root", str(root), "--video", "001", "--out", str(store / "001.h5")])
    finally:
        if as_root:
            os.seteuid(0)
            os.setegid(0)
        os.chmod(store, 0o755)
    after = snapshot(store)
    shutil.rmtree(shared)
    assert code == 2
    assert one_error_line(capsys) == (f"salprep: error: {store / '001.h5'}: cannot write here: Permission denied "
                                      f"(folder {store})")
    assert after == before
