"""SALICON 2017 adapter (salprep.datasets.salicon): each image a one-frame video."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
from conftest import make_tiny_dhf1k
from dataset_fixtures import write_salicon_fixture
from PIL import Image
from scipy.io import savemat

from salprep.datasets import open_dataset
from salprep.datasets.base import FrameInfo
from salprep.datasets.salicon import (
    SALICON,
    matlab_to_pixels,
    read_salicon_mat,
    split_of_name,
)
from salprep.errors import SalprepError
from salprep.video import probe_video

TRAIN_A, TRAIN_B = "COCO_train2014_000000000009", "COCO_train2014_000000000025"
VAL, TEST = "COCO_val2014_000000000042", "COCO_test2014_000000000001"


def _info(ds, video) -> FrameInfo:
    probed = probe_video(ds.video_path(video))
    return FrameInfo(probed.frames, probed.width, probed.height, probed.fps)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def _gaze(observers, orientation):
    shape = (1, len(observers)) if orientation == "row" else (len(observers), 1)
    gaze = np.empty(shape, dtype=[("location", object), ("timestamp", object), ("fixations", object)])
    for i, (loc, fix) in enumerate(observers):
        gaze.flat[i] = (np.asarray(loc, float), np.arange(len(loc), dtype=float)[:, None], np.asarray(fix, float))
    return gaze


def _image(root, stem, size, split="train"):
    path = root / "images" / split / f"{stem}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 30)).save(path)
    return path


@pytest.fixture(params=[False, True], ids=["split-folders", "flat-images"])
def salicon(request, tmp_path):
    root = tmp_path / "salicon"
    return root, write_salicon_fixture(root, flat=request.param)


def test_adapter_class():
    ds = open_dataset("salicon", "x")
    assert isinstance(ds, SALICON)
    assert ds.layout == ds.gt_preset == "salicon"
    assert ds.fixation_sources == ("fixations", "location")
    assert ds.frame_rate(TRAIN_A) is None and SALICON.default_fps is None
    assert split_of_name(VAL) == "val" and split_of_name("my_photo") is None
    with pytest.raises(SalprepError) as exc:
        ds.check_source("png")
    assert "not 'png'" in _one_line(exc)


def test_fixture_reads_back_per_image(salicon):
    root, expected = salicon
    ds = open_dataset("salicon", root)
    ds.check_root()
    assert ds.splits == {"train": [TRAIN_A, TRAIN_B], "val": [VAL], "test": [TEST]}
    assert ds.videos() == [TRAIN_A, TRAIN_B, VAL, TEST]
    sizes = set()
    for video, exp in expected.items():
        assert ds.video_path(video) == exp["image"]
        probed = probe_video(ds.video_path(video))
        assert (probed.frames, probed.width, probed.height) == (1, *exp["size"])
        sizes.add(exp["size"])
        if exp["mat"] is None:
            assert not ds.has_annotations(video)
            assert ds.annotation_files(video) == [] and ds.shipped_map_files(video) == []
            with pytest.raises(SalprepError) as exc:
                ds.fixations(video, _info(ds, video))
            assert "no fixation .mat for this image" in _one_line(exc)
            continue
        assert ds.has_annotations(video)
        assert ds.annotation_files(video) == [exp["mat"], exp["map"]]
        assert all(p.is_relative_to(ds.annotation_dir(video)) for p in ds.annotation_files(video))
        assert ds.shipped_map_files(video) == [exp["map"]]
        fix = ds.fixations(video, _info(ds, video))
        assert len(fix) == 1 and fix.combine == "union" and fix.sources == [exp["mat"]]
        assert fix.points[0].dtype == np.int64
        assert np.array_equal(fix.points[0], exp["fixations"]) and fix.dropped == exp["dropped"] > 0
        loc = ds.fixations(video, _info(ds, video), "location")
        assert np.array_equal(loc.points[0], exp["location"]) and loc.dropped == 0 and exp["clipped"] > 0
        w, h = exp["size"]
        assert (loc.points[0] >= 0).all() and (loc.points[0] < (w, h)).all()
    assert len(sizes) == 2  # two image sizes, one of them within train


@pytest.mark.parametrize("orientation", ["row", "column"])
def test_mat_parsing_one_based_rounding_drops_and_clipping(tmp_path, orientation):
    root = tmp_path / "s"
    _image(root, TRAIN_A, (40, 30))
    mat = root / "fixations" / "train" / f"{TRAIN_A}.mat"
    mat.parent.mkdir(parents=True)
    observers = [
        ([[-10, 5], [50, 40]], [[1, 1], [40, 30], [41, 5]]),
        ([[3.5, 4.5]], [[0.4, 3], [2.5, 2.49]]),
        (np.zeros((0, 2)), np.zeros((0, 2))),  # an observer without samples
    ]
    savemat(str(mat), {"image": TRAIN_A, "resolution": np.array([[30, 40]], float),
                       "gaze": _gaze(observers, orientation)})
    (h, w), parsed = read_salicon_mat(mat)
    assert (h, w) == (30, 40) and len(parsed) == 3
    assert np.array_equal(parsed[0]["fixations"], [[1, 1], [40, 30], [41, 5]])
    ds = open_dataset("salicon", root)
    info = FrameInfo(1, 40, 30, 0.0)
    fix = ds.fixations(TRAIN_A, info)
    # 1-based -> 0-based, floor(x + 0.5) - 1 (2.5 -> 2, not numpy's half-to-even 1); x = 41 and
    # x = 0.4 (-> -1) fall outside the 40x30 image and are dropped and counted
    assert fix.points[0].tolist() == [[0, 0], [39, 29], [2, 1]] and fix.dropped == 2
    loc = ds.fixations(TRAIN_A, info, "location")
    assert loc.points[0].tolist() == [[0, 4], [39, 29], [3, 4]] and loc.dropped == 0


def test_matlab_to_pixels_rounds_half_up():
    assert matlab_to_pixels(np.array([[1.0, 1.49], [1.5, 2.5], [0.49, 0.5]])).tolist() == [[0, 0], [1, 2], [-1, 0]]


def test_non_finite_samples_are_dropped(tmp_path):
    root = tmp_path / "s"
    _image(root, TRAIN_A, (40, 30))
    mat = root / "fixations" / "train" / f"{TRAIN_A}.mat"
    mat.parent.mkdir(parents=True)
    savemat(str(mat), {"resolution": np.array([[30, 40]], float),
                       "gaze": _gaze([([[np.nan, 3], [5, 5]], [[np.nan, np.nan], [2, 2]])], "row")})
    ds = open_dataset("salicon", root)
    for source, want in (("fixations", [[1, 1]]), ("location", [[4, 4]])):
        fix = ds.fixations(TRAIN_A, FrameInfo(1, 40, 30, 0.0), source)
        assert fix.points[0].tolist() == want and fix.dropped == 1


def test_resolution_must_match_the_image(salicon):
    root, expected = salicon
    ds = open_dataset("salicon", root)
    small = _info(ds, TRAIN_B)  # 40x30; TRAIN_A is 64x48
    with pytest.raises(SalprepError) as exc:
        ds.fixations(TRAIN_A, small)
    msg = _one_line(exc)
    assert "resolution [48 64] (H W) does not match the 40x30 image" in msg and f"{TRAIN_A}.mat" in msg
    with pytest.raises(SalprepError) as exc:
        ds.fixations(TRAIN_A, FrameInfo(2, 64, 48, 0.0))
    assert "one frame" in _one_line(exc)


@pytest.mark.parametrize("content, message", [
    ({"resolution": np.array([[30, 40]], float)}, "no variable 'gaze'"),
    ({"gaze": np.zeros((1, 2))}, "no variable 'resolution'"),
    ({"resolution": np.array([[30, 40]], float), "gaze": np.zeros((1, 2))}, "not a struct array"),
    ({"resolution": np.array([[30, 40, 3]], float), "gaze": np.zeros((1, 2))}, "resolution has 3 values"),
])
def test_malformed_mat_is_one_line(tmp_path, content, message):
    mat = tmp_path / "x.mat"
    savemat(str(mat), content)
    with pytest.raises(SalprepError) as exc:
        read_salicon_mat(mat)
    assert message in _one_line(exc)


def test_malformed_gaze_field_and_unreadable_file(tmp_path):
    mat = tmp_path / "x.mat"
    savemat(str(mat), {"resolution": np.array([[30, 40]], float),
                       "gaze": _gaze([([[1, 2, 3]], [[1, 1]])], "row")})
    with pytest.raises(SalprepError) as exc:
        read_salicon_mat(mat)
    assert "gaze.location is 1x3, expected N x 2" in _one_line(exc)
    mat.write_bytes(b"not a mat file at all")
    with pytest.raises(SalprepError) as exc:
        read_salicon_mat(mat)
    assert "unreadable .mat" in _one_line(exc)


def test_splits_override(salicon):
    root, _ = salicon
    ds = open_dataset("salicon", root, splits={"train": f"{TRAIN_A},{VAL}", "val": [TRAIN_B]})
    assert ds.videos("train") == [TRAIN_A, VAL] and ds.videos("val") == [TRAIN_B]
    assert ds.videos() == [TRAIN_A, TRAIN_B, VAL, TEST]
    with pytest.raises(SalprepError) as exc:
        ds.videos("test")
    assert "unknown split 'test'" in _one_line(exc)
    # the annotations of a re-split image are still found next to it
    assert ds.has_annotations(VAL) and ds.fixation_file(VAL).parent.name in ("val", "fixations")


def test_video_ids_must_be_plain_names(salicon):
    root, _ = salicon
    ds = open_dataset("salicon", root)
    with pytest.raises(SalprepError) as exc:
        ds.video_path("../images/train/x")
    assert "not a plain name" in _one_line(exc)


def test_absent_image_path_is_a_guess(tmp_path):
    ds = open_dataset("salicon", tmp_path)
    assert ds.video_path(VAL) == tmp_path / "images" / "val" / f"{VAL}.jpg"
    assert not ds.has_annotations(VAL) and ds.annotation_files(VAL) == []


def test_check_root_names_the_expected_layout(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    dhf1k = tmp_path / "dhf1k"
    make_tiny_dhf1k(dhf1k, videos=(1,), frames=2)
    for root in (empty, dhf1k):
        ds = open_dataset("salicon", root)
        with pytest.raises(SalprepError) as exc:
            ds.check_root()
        msg = _one_line(exc)
        assert "not a salicon dataset" in msg and "images/{train,val,test}/COCO_*.jpg" in msg
        assert "missing images/" in msg
        assert ds.videos() == []


@pytest.mark.parametrize("video", [TRAIN_A, TRAIN_B])
def test_gt_command_round_trips(tmp_path, video, capsys):
    from salprep.cli import main

    root = tmp_path / "salicon"
    exp = write_salicon_fixture(root)[video]
    out = tmp_path / "gt.h5"
    assert main(["gt", "--layout", "salicon", "--root", str(root), "--video", video, "--out", str(out),
                 "--compare"]) == 0
    text = capsys.readouterr().out
    w, h = exp["size"]
    want = np.zeros((1, h, w), np.uint8)
    want[0, exp["fixations"][:, 1], exp["fixations"][:, 0]] = 1
    with h5py.File(out, "r") as h5:
        assert np.array_equal(h5["fixations"][()], want)
        assert int(h5.attrs["dropped_out_of_frame"]) == exp["dropped"]
        cc = h5.attrs.get("shipped_cc_mean")
    if cc is None:
        cc = float(re.search(r"mean (-?[0-9.]+)", text).group(1))
    assert cc > 0.99
