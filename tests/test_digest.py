"""Annotation content stamps (salprep.datasets.digest) and `salprep annotation-digest`."""

import json
import os

import pytest
from conftest import make_tiny_dhf1k

from salprep.cli import main
from salprep.datasets import open_dataset
from salprep.datasets import digest as dg


@pytest.fixture
def dataset(tmp_path):
    make_tiny_dhf1k(tmp_path / "ds", videos=(1, 601), frames=4)
    return open_dataset("dhf1k", tmp_path / "ds")


def test_annotation_files_are_fixations_and_shipped_maps(dataset):
    files = dataset.annotation_files("001")
    assert [p.relative_to(dataset.annotation_dir("001")).as_posix() for p in files] == [
        *(f"fixation/{i:04d}.png" for i in range(1, 5)), *(f"maps/{i:04d}.png" for i in range(1, 5))]
    assert dataset.annotation_files("002") == []  # no folder: no files, no error


def test_digest_follows_content_not_mtime(dataset, tmp_path, monkeypatch):
    folder, files = dataset.annotation_dir("001"), dataset.annotation_files("001")
    cache = tmp_path / "cache.json"
    first = dg.annotation_digest(folder, files, cache)
    assert first["files"] == 8 and len(first["sha256"]) == 64
    hashed = []
    real = dg.sha256_file
    monkeypatch.setattr(dg, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    assert dg.annotation_digest(folder, files, cache) == first and hashed == []  # stat cache hit
    os.utime(files[2], ns=(1, 1))  # touched: rehashed, same digest
    assert dg.annotation_digest(folder, files, cache) == first and hashed == [files[2].name]
    data = bytearray(files[5].read_bytes())
    data[-20] ^= 1
    files[5].write_bytes(bytes(data))
    assert dg.annotation_digest(folder, files, cache)["sha256"] != first["sha256"]
    # a file renamed (or moved between fixation/ and maps/) is a change too
    assert dg.annotation_digest(folder, files[:-1], cache)["sha256"] != first["sha256"]


def test_digest_does_not_depend_on_where_the_dataset_lives(dataset, tmp_path):
    import shutil

    moved = tmp_path / "elsewhere"
    shutil.copytree(dataset.root, moved)
    other = open_dataset("dhf1k", moved)
    assert dg.annotation_digest(other.annotation_dir("601"), other.annotation_files("601")) == dg.annotation_digest(
        dataset.annotation_dir("601"), dataset.annotation_files("601"))


def test_refresh_stamp_rewrites_only_on_change(dataset, tmp_path):
    stamp = tmp_path / "stamps" / "001.json"
    assert dg.refresh_stamp(dataset, "001", stamp) is True
    assert json.loads(stamp.read_text())["video"] == "001"
    os.utime(stamp, ns=(5, 5))
    for f in dataset.annotation_files("001"):
        os.utime(f)
    assert dg.refresh_stamp(dataset, "001", stamp) is False and stamp.stat().st_mtime_ns == 5
    png = dataset.annotation_files("001")[0]
    png.write_bytes(dataset.annotation_files("001")[1].read_bytes())  # frame 1 now holds frame 2's bytes
    assert dg.refresh_stamp(dataset, "001", stamp) is True and stamp.stat().st_mtime_ns != 5
    # only existing folders are stamped; no temporary files are left behind
    assert dg.refresh_stamps(dataset, ["001", "002", "601"], lambda v: tmp_path / "stamps" / f"{v}.json") == ["601"]
    assert sorted(p.name for p in (tmp_path / "stamps").iterdir()) == [
        ".001.files.json", ".601.files.json", "001.json", "601.json"]


def test_command_writes_the_stamp_and_rejects_a_missing_folder(dataset, tmp_path, capsys):
    out = tmp_path / "s" / "601.json"
    assert main(["annotation-digest", "--root", str(dataset.root), "--video", "601", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["files"] == 8
    assert main(["annotation-digest", "--root", str(dataset.root), "--video", "002", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"salprep: error: {dataset.root / 'annotation' / '0002'}: no annotation files (expected fixation/*.png)"]
    assert not (tmp_path / "x.json").exists()
