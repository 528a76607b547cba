"""The command line: help texts, and every bad input gives one line on stderr and exit 2."""

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from salprep.cli import COMMANDS, main


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "salprep", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def assert_bad_input(args, *fragments, capsys):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("salprep: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command):
    code, out, _ = run_cli(command, "--help")
    assert code == 0 and "usage: salprep" in out


def test_module_entry_point_and_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("salprep ")


def test_probe_reports_video_facts(tiny_dhf1k, capsys):
    root, _ = tiny_dhf1k
    assert main(["probe", str(root / "video" / "001.AVI"), "--annotations", str(root / "annotation" / "0001")]) == 0
    out = capsys.readouterr().out
    assert "6 frames, 80x48, 30.000 fps, codec mjpeg" in out and "match" in out


def test_probe_errors(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    video = root / "video" / "001.AVI"
    assert_bad_input(["probe", tmp_path / "nope.AVI"], "nope.AVI", "not found", capsys=capsys)
    junk = tmp_path / "junk.AVI"
    junk.write_bytes(b"\x00garbage" * 100)
    assert_bad_input(["probe", junk], "junk.AVI", "not a readable video", capsys=capsys)
    data = video.read_bytes()
    cut = tmp_path / "cut.AVI"
    cut.write_bytes(data[: len(data) // 2])
    assert_bad_input(["probe", cut], "cut.AVI", "truncated", capsys=capsys)
    # annotation folder with one frame too few
    ann = tmp_path / "ann"
    shutil.copytree(root / "annotation" / "0001", ann)
    (ann / "fixation" / "0006.png").unlink()
    assert_bad_input(["probe", video, "--annotations", ann], "fixation", "5 frames", "decodes to 6", capsys=capsys)
    assert_bad_input(["probe", video, "--annotations", tmp_path / "none"], "annotation folder not found",
                     capsys=capsys)


def _gt(root, out, video="001"):
    return ["gt", "--root", str(root), "--video", video, "--out", str(out)]


def test_gt_errors_leave_no_shard(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    out = tmp_path / "store" / "001.h5"
    # missing annotation folder
    shutil.move(root / "annotation" / "0001", tmp_path / "moved")
    assert_bad_input(_gt(root, out), "0001", "annotation folder missing", capsys=capsys)
    shutil.move(tmp_path / "moved", root / "annotation" / "0001")
    # fixation map of the wrong size
    bad = root / "annotation" / "0001" / "fixation" / "0003.png"
    original = bad.read_bytes()
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="L").save(bad)
    assert_bad_input(_gt(root, out), "0003.png", "10x10", "80x48", capsys=capsys)
    bad.write_bytes(b"not a png")
    assert_bad_input(_gt(root, out), "0003.png", "unreadable image", capsys=capsys)
    bad.write_bytes(original)
    # an extra frame: counts differ
    shutil.copy(bad, root / "annotation" / "0001" / "fixation" / "0007.png")
    assert_bad_input(_gt(root, out), "7 fixation frames", "decodes to 6", capsys=capsys)
    (root / "annotation" / "0001" / "fixation" / "0007.png").unlink()
    # a gap in numbering
    shutil.move(root / "annotation" / "0001" / "fixation" / "0002.png", tmp_path / "f2.png")
    assert_bad_input(_gt(root, out), "not numbered", capsys=capsys)
    shutil.move(tmp_path / "f2.png", root / "annotation" / "0001" / "fixation" / "0002.png")
    # corrupt video
    (root / "video" / "001.AVI").write_bytes(b"\x00" * 1000)
    assert_bad_input(_gt(root, out), "001.AVI", capsys=capsys)
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_failed_gt_keeps_existing_shard(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    out = tmp_path / "001.h5"
    assert main(_gt(root, out)) == 0
    before = out.read_bytes()
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="L").save(root / "annotation" / "0001" / "fixation" / "0006.png")
    assert_bad_input(_gt(root, out), "0006.png", capsys=capsys)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".h5") == ["001.h5"]


def test_verify_and_evaluate_argument_errors(tmp_path, capsys):
    assert_bad_input(["verify", tmp_path / "missing"], "no such shard", capsys=capsys)
    assert_bad_input(["verify", tmp_path], "no shards", capsys=capsys)
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"zzz")
    assert_bad_input(["evaluate", "--model", "center_bias", "--checkpoint", junk, "--split", "val", "x.h5",
                      "--out-dir", tmp_path / "r"], "model.pt: not a PyTorch checkpoint", capsys=capsys)


def test_wrong_stage_shard_is_rejected(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    out = tmp_path / "001.h5"
    assert main(_gt(root, out)) == 0
    with h5py.File(out, "a") as h5:
        h5.attrs["salprep_type"] = "depth"
    assert_bad_input(["train", "--model", "center_bias", "--gt", str(out), "--out-dir", tmp_path / "r"],
                     "expected a 'gt' shard", capsys=capsys)
