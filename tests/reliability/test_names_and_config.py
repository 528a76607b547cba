"""Reliability battery (issue 16): names that could escape the dataset root or the store, and
config that could only fail inside a job. Each case: exit 2, one line naming the problem, no
partial output, other shards byte-identical."""

import subprocess
import sys
from pathlib import Path

import pytest

from salprep.cli import main
from faults import one_error_line, snapshot

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("video", ["../x", "/etc/passwd", "1/2", "abc", ""])
def test_gt_refuses_a_video_id_that_is_not_a_dhf1k_number(tiny_dhf1k, tmp_path, capsys, video):
    root, _ = tiny_dhf1k
    store = tmp_path / "store"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(store / "001.h5")]) == 0
    before = snapshot(store)
    capsys.readouterr()
    assert main(["gt", "--root", str(root), "--video", video, "--out", str(store / "x.h5")]) == 2
    assert f"DHF1K video id {video!r} is not a number (e.g. 001)" in one_error_line(capsys)
    assert snapshot(store) == before  # nothing written, nothing touched


@pytest.mark.parametrize("option,value,kind", [("--video-id", "../x", "video id"), ("--video-id", "a/b", "video id"),
                                               ("--dataset-name", "../../etc", "dataset name")])
def test_a_stage_refuses_ids_that_are_not_plain_names(tiny_dhf1k, tmp_path, capsys, option, value, kind):
    root, _ = tiny_dhf1k
    out = tmp_path / "store" / "flow_tvl1" / "001.h5"
    args = ["flow", "--method", "tvl1", "--video", str(root / "video" / "001.AVI"), "--out", str(out),
            "--size", "16x16", "--out-size", "16x16", option, value]
    assert main(args) == 2
    line = one_error_line(capsys)
    assert line == (f"salprep: error: {out}: {kind} {value!r} is not a plain name (letters, digits, '.', '_', "
                    "'-'; no path separators or '..')")
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_config_with_both_sigma_and_fwhm_fails_validation(tmp_path):
    (tmp_path / "bad.yaml").write_text("datasets: {demo: {gt: {sigma: 10.0, fwhm: 30.0}}}\n")
    env_path = f"{BIN}:{__import__('os').environ.get('PATH', '')}"
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "run"), "-n",
                           "--configfile=" + str(tmp_path / "bad.yaml"), "results/center_bias"],
                          capture_output=True, text=True, timeout=300, env={"PATH": env_path, "HOME": str(tmp_path)})
    assert proc.returncode != 0
    assert "Error validating config" in proc.stdout + proc.stderr
