"""The LEDOV adapter (DATASETS.md §2): Data.mat fixations per frame, splits, the layout checks."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
from dataset_fixtures import (
    write_data_mat,
    write_ledov_fixture,
    write_namelist,
    write_video_name_list,
)
from tolerance import float_bound

from salprep import gt as gtlib
from salprep.datasets import FrameInfo, open_dataset
from salprep.datasets.ledov import (
    LEDOV,
    centre_start_mask,
    frame_intervals,
    read_data_mat,
    read_video_name_list,
)
from salprep.errors import SalprepError
from salprep.video import probe_video

W, H = 64, 48  # c = round(48 / 20) = 2; centre (32, 24)
TINY = {"animal_alpaca01": (10, (H, W), 25), "human_dance02": (8, (H, W), 15), "manmade_car03": (12, (H, W), 25)}


def _sorted(points: np.ndarray) -> np.ndarray:
    return np.array(sorted(map(tuple, points.tolist())), np.int64).reshape(-1, 2)


def _dataset(tmp_path, rows, *, fps=25.0, frames=40, size=(W, H), name="animal_test01"):
    """A root with one Data.mat holding ``rows`` (no video: fixations() only needs FrameInfo)."""
    root = tmp_path / "ledov"
    write_data_mat(root / name / "Data.mat", name, fps, frames, size, np.array(rows, np.float64))
    ds = LEDOV(root)
    return ds, FrameInfo(frames, size[0], size[1], fps), name


def _frames_of(fix, point) -> list[int]:
    return [t for t, p in enumerate(fix.points) if any(tuple(q) == point for q in p.tolist())]


@pytest.fixture(scope="module")
def tiny_ledov(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledov") / "LEDOV"
    expected = write_ledov_fixture(root, TINY, seed=3)
    return root, expected


# -- per-frame mapping ----------------------------------------------------------------------------
def test_frame_intervals_hand_computed():
    s, e = frame_intervals(np.array([1000.0]), np.array([250.0]), 25, 100)
    assert (s[0], e[0]) == (25, 32)  # fd = 40 ms: ceil(25) = 25, ceil(31.25) = 32
    t = np.array([0.0, 40.0, 41.0, 3990.0, 5000.0])
    s, e = frame_intervals(t, np.array([10.0, 0.0, 39.0, 500.0, 1.0]), 25, 100)
    assert s.tolist() == [1, 1, 2, 100, 125]  # t = 0 clamped to 1; frame k covers ((k-1) fd, k fd]
    assert e.tolist() == [1, 1, 2, 100, 100]  # e clamped to N; 125 > 100: no frame


def test_example_fixation_lands_on_frames_25_to_32(tmp_path):
    # one subject; its first fixation lies outside the cross, so it is kept
    ds, info, name = _dataset(tmp_path, [[1, 1000, 250, 10, 5]])
    fix = ds.fixations(name, info)
    assert len(fix) == 40 and fix.combine == "count" and fix.dropped == 0
    assert _frames_of(fix, (9, 4)) == list(range(24, 32))  # 1-based 25..32; floor(x) - 1
    assert sum(len(p) for p in fix.points) == 8
    assert fix.sources == [ds.root / name / "Data.mat"]


def test_clamps_and_beyond_duration_dropped(tmp_path, caplog):
    rows = [[1, 0, 30, 10, 5],  # t = 0: s = 0 -> 1
            [1, 1500, 1000, 11, 5],  # frames 38..63 -> 38..40
            [1, 1600, 0, 12, 5],  # s = e = 40
            [1, 1601, 100, 13, 5],  # s = 41 > N = 40: beyond the video
            [1, 5000, 100, 14, 5]]
    ds, info, name = _dataset(tmp_path, rows)
    with caplog.at_level(logging.WARNING, logger="salprep.datasets.ledov"):
        fix = ds.fixations(name, info)
    assert _frames_of(fix, (9, 4)) == [0]
    assert _frames_of(fix, (10, 4)) == [37, 38, 39]
    assert _frames_of(fix, (11, 4)) == [39]
    assert _frames_of(fix, (12, 4)) == [] and _frames_of(fix, (13, 4)) == []
    assert fix.dropped == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 5 fixations dropped" in warnings[0].getMessage()
    assert "2 beyond the 40-frame video" in warnings[0].getMessage()


def test_out_of_frame_points_dropped_and_counted(tmp_path):
    rows = [[1, 100, 10, 10, 5],  # starts the subject
            [1, 200, 10, W, 5], [1, 200, 10, 0, 5], [1, 200, 10, 5, H], [1, 200, 10, 5, 0],
            [1, 200, 10, 0.5, 5], [1, 200, 10, -2, -2], [1, 200, 10, np.nan, 5],  # all outside 0 < x < W ...
            [1, 200, 10, W - 1, H - 1],  # the last pixel that counts: 0-based (W-2, H-2)
            [1, 200, 10, 10.7, 20.2]]  # floor: (9, 19)
    ds, info, name = _dataset(tmp_path, rows)
    fix = ds.fixations(name, info)
    assert fix.dropped == 7
    assert _sorted(fix.points[4]).tolist() == [[9, 19], [W - 2, H - 2]]  # t = 200 ms: frame 5
    assert all(((p >= 0) & (p < [W, H])).all() for p in fix.points)


def test_centre_start_filter_outside_both_bands(tmp_path):
    c = 2
    rows = [[1, 0, 100, W / 2, H / 2],  # the cross: skipped
            [1, 10, 100, W / 2 + c, 40],  # in the vertical band only: still skipped
            [1, 20, 100, 5, H / 2 - c],  # in the horizontal band only: skipped
            [1, 30, 100, -5, -5],  # outside both bands but outside the frame: skipped (and dropped)
            [1, 40, 100, W / 2 + c + 1, H / 2 + c + 1],  # outside both: the subject starts here
            [1, 50, 100, W / 2, H / 2],  # the centre after the start counts
            [1, 0, 100, 20, 30],  # start time decreases: a new subject, whose first row is outside both bands
            [1, 10, 100, W / 2, H / 2],  # ... so the centre counts again
            [2, 20, 100, W / 2, 10],  # the subject id changes (times do not decrease): skipped
            [2, 30, 100, 3, 3]]  # starts subject 2
    ds, info, name = _dataset(tmp_path, rows)
    skip = centre_start_mask(np.array(rows, np.float64), W, H)
    assert skip.tolist() == [True, True, True, True, False, False, False, False, True, False]
    fix = ds.fixations(name, info)
    kept = {tuple(p) for frame in fix.points for p in frame.tolist()}
    assert kept == {(W // 2 + c, H // 2 + c), (W // 2 - 1, H // 2 - 1), (19, 29), (2, 2)}
    assert fix.dropped == 1  # only the out-of-frame row; the cross rows are skipped, not dropped


def test_centre_band_uses_matlab_round():
    # H = 50: c = round(2.5) = 3 (MATLAB rounds halves away from zero; Python's round gives 2)
    rows = np.array([[1, 0, 10, 10, 25 + 3], [1, 10, 10, 10, 25 + 4]], np.float64)
    assert centre_start_mask(rows, 100, 50).tolist() == [True, False]


def test_duplicates_add_in_the_count_map(tmp_path):
    rows = [[1, 100, 50, 10, 5], [2, 100, 50, 10, 5], [3, 100, 50, 40, 9]]
    ds, info, name = _dataset(tmp_path, rows)
    fix = ds.fixations(name, info)
    fmap = fix.frame_map(2, (H, W))  # 100..150 ms: frames 3..4 1-based
    assert fmap[4, 9] == 2 and fmap[8, 39] == 1 and fmap.sum() == 3
    assert fix.frame_map(4, (H, W)).sum() == 0


def test_gt_peak_at_the_doubled_point(tmp_path):
    w, h = 320, 240
    rows = [[1, 100, 50, 60, 50], [2, 100, 50, 60, 50], [3, 100, 50, 250, 200]]  # > 100 px apart
    ds, info, name = _dataset(tmp_path, rows, size=(w, h))
    fix = ds.fixations(name, info)
    preset = gtlib.GT_PRESETS["ledov"]
    smap = gtlib.saliency_map(fix.frame_map(2, (h, w)), preset["sigma"], preset["truncate"], border="constant")
    assert np.unravel_index(np.argmax(smap), smap.shape) == (49, 59)
    # 2 G(0) and G(0) (the windows do not overlap), the maximum divided by itself; then float32
    assert smap[49, 59] == 1.0 and smap[199, 249] == pytest.approx(0.5, abs=float_bound(np.float32, 1.0, 1, 1))
    assert smap[49, 59 + 101] == 0  # the ±100 px window


# -- Data.mat ----------------------------------------------------------------------------------------
def test_data_mat_size_mismatch_is_one_line(tmp_path):
    ds, info, name = _dataset(tmp_path, [[1, 100, 50, 10, 5]], size=(W, H))
    with pytest.raises(SalprepError) as exc:
        ds.fixations(name, FrameInfo(info.frames, W * 2, H * 2, 25))
    text = exc.value.one_line()
    assert "\n" not in str(exc.value) and "Data.mat" in text
    assert f"{W}x{H}" in text and f"{2 * W}x{2 * H}" in text


def test_data_mat_frame_count_mismatch_is_one_line(tmp_path):
    ds, info, name = _dataset(tmp_path, [[1, 100, 50, 10, 5]], frames=40)
    with pytest.raises(SalprepError) as exc:
        ds.fixations(name, FrameInfo(41, W, H, 25))
    assert "\n" not in str(exc.value) and "Data.mat" in str(exc.value)
    assert "40" in str(exc.value) and "41" in str(exc.value)


def test_data_mat_v73_read_with_h5py(tmp_path):
    path = tmp_path / "v" / "Data.mat"
    path.parent.mkdir()
    rows = np.array([[1, 100, 50, 10, 5], [1, 200, 50, 11, 6], [2, 0, 50, 12, 7]], np.float64)
    with h5py.File(path, "w") as f:  # MATLAB writes every array transposed, numbers as (1, 1)
        g = f.create_group("Data")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        name = g.create_dataset("VideoName", data=np.array([[ord(ch)] for ch in "v"], np.uint16))
        name.attrs["MATLAB_class"] = np.bytes_("char")
        g.create_dataset("VideoFrameRate", data=np.array([[29.97]]))
        g.create_dataset("VideoFrames", data=np.array([[300.0]]))
        g.create_dataset("VideoSize", data=np.array([[1280.0], [720.0]]))
        g.create_dataset("fixdata", data=rows.T)
    data = read_data_mat(path)
    assert data["VideoName"] == "v" and data["VideoFrameRate"] == 29.97  # the stored double, read back
    assert data["VideoFrames"] == 300 and data["VideoSize"] == (1280, 720)
    np.testing.assert_array_equal(data["fixdata"], rows)


def test_bad_data_mat_is_one_line(tmp_path):
    root = tmp_path / "ledov"
    (root / "animal_x01").mkdir(parents=True)
    (root / "animal_x01" / "Data.mat").write_bytes(b"not a mat file at all" * 10)
    ds = LEDOV(root)
    with pytest.raises(SalprepError) as exc:
        ds.fixations("animal_x01", FrameInfo(10, W, H, 25))
    assert "\n" not in str(exc.value) and "Data.mat" in str(exc.value)
    with pytest.raises(SalprepError, match="not found"):
        ds.fixations("animal_y01", FrameInfo(10, W, H, 25))


# -- splits and names -----------------------------------------------------------------------------
def test_splits_from_namelist_via_v73_name_list(tmp_path):
    root = tmp_path / "ledov"
    names = ["manmade_yacht03", "animal_alpaca01", "human_talk02", "animal_bat01"]  # not sorted
    write_video_name_list(root / "VideoNameList.mat", names)
    write_namelist(root / "namelist.mat", {"train": [2, 1, 1, 4], "val": [3], "test": [1, 3]})
    ds = LEDOV(root)
    assert ds.missing_from_root() is None
    assert ds.videos("train") == ["animal_alpaca01", "manmade_yacht03", "animal_bat01"]  # deduplicated, in order
    assert ds.videos("val") == ["human_talk02"]
    assert ds.videos("test") == ["manmade_yacht03", "human_talk02"]
    with pytest.raises(SalprepError, match="unknown split"):
        ds.videos("nope")
    write_namelist(root / "namelist.mat", {"train": [5]})
    with pytest.raises(SalprepError, match="outside VideoNameList"):
        LEDOV(root).videos("train")


def test_split_override_from_config(tmp_path):
    root = tmp_path / "ledov"
    write_video_name_list(root / "VideoNameList.mat", ["a_01", "b_02"])
    write_namelist(root / "namelist.mat", {"train": [1], "val": [2], "test": [2]})
    ds = LEDOV(root, splits={"train": ["b_02", "a_01", "b_02"], "val": "a_01, c_03", "extra": []})
    assert ds.videos("train") == ["b_02", "a_01"]
    assert ds.videos("val") == ["a_01", "c_03"]
    assert ds.videos("extra") == []
    with pytest.raises(SalprepError, match="unknown split"):
        ds.videos("test")  # the config replaces namelist.mat's splits
    with pytest.raises(SalprepError, match="plain name"):
        LEDOV(root, splits={"train": ["../etc"]})


def test_no_namelist_split_error(tmp_path):
    ds, _, _ = _dataset(tmp_path, [[1, 100, 50, 10, 5]])
    assert ds.splits == {}
    with pytest.raises(SalprepError, match="namelist.mat"):
        ds.videos("train")


def test_video_name_list_styles(tmp_path):
    names = ["animal_alpaca01", "human_x02"]
    cell = write_video_name_list(tmp_path / "cell.mat", names)
    assert h5py.is_hdf5(cell)
    with h5py.File(cell, "r") as f:
        assert h5py.check_ref_dtype(f["VideoNameList"].dtype) is not None
        assert f["VideoNameList"].shape == (2, 1)
    assert read_video_name_list(cell) == names
    assert read_video_name_list(write_video_name_list(tmp_path / "s.mat", names, style="strings")) == names
    import scipy.io

    cells = np.empty((1, 2), object)
    cells[0, 0], cells[0, 1] = names
    scipy.io.savemat(tmp_path / "v5.mat", {"VideoNameList": cells})
    assert read_video_name_list(tmp_path / "v5.mat") == names


def test_video_ids_must_be_plain_names(tmp_path):
    ds = LEDOV(tmp_path)
    for bad in ("../x", "a/b", ".."):
        with pytest.raises(SalprepError, match="plain name"):
            ds.video_path(bad)
        with pytest.raises(SalprepError, match="plain name"):
            ds.annotation_dir(bad)


# -- the root ---------------------------------------------------------------------------------------
def test_check_root_empty_folder_and_dhf1k(tmp_path):
    from conftest import make_tiny_dhf1k

    (tmp_path / "empty").mkdir()
    make_tiny_dhf1k(tmp_path / "dhf1k", videos=(1,), frames=2)
    for root in (tmp_path / "empty", tmp_path / "dhf1k", tmp_path / "absent"):
        with pytest.raises(SalprepError) as exc:
            open_dataset("ledov", root).check_root()
        text = str(exc.value)
        assert "\n" not in text and "not a ledov dataset" in text
        assert LEDOV.expected_layout in text
    assert "Data.mat" in LEDOV.expected_layout and "<name>/<name>.mp4" in LEDOV.expected_layout


def test_layout_attributes_and_files(tiny_ledov):
    root, _ = tiny_ledov
    ds = open_dataset("ledov", root)
    assert isinstance(ds, LEDOV)
    assert (ds.layout, ds.gt_preset, ds.fixation_sources) == ("ledov", "ledov", ("datamat",))
    ds.check_root()
    assert ds.videos() == sorted(TINY)
    assert ds.videos("train") == ["animal_alpaca01"] and ds.videos("test") == ["manmade_car03"]
    v = "human_dance02"
    assert ds.video_path(v) == root / v / f"{v}.mp4" and ds.video_path(v).is_file()
    assert ds.annotation_dir(v) == root / v
    assert ds.annotation_files(v) == [root / v / "Data.mat"] and ds.has_annotations(v)
    assert ds.shipped_map_files(v) == []
    assert ds.frame_rate(v) == 15.0
    assert not ds.has_annotations("animal_none01") and ds.annotation_files("animal_none01") == []
    assert ds.frame_rate("animal_none01") is None
    with pytest.raises(SalprepError, match="datamat"):
        ds.check_source("png")
    with pytest.raises(SalprepError, match="no fixation options"):
        ds.fixations(v, FrameInfo(8, W, H, 15), cartesian=True)


def test_fixture_round_trip(tiny_ledov, caplog):
    root, expected = tiny_ledov
    ds = LEDOV(root)
    for name, exp in expected.items():
        info = probe_video(ds.video_path(name))
        assert (info.frames, info.height, info.width) == (exp["frames"], *exp["shape"])
        frame_info = FrameInfo(info.frames, info.width, info.height, ds.frame_rate(name))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="salprep.datasets.ledov"):
            fix = ds.fixations(name, frame_info)
        assert len(fix) == exp["frames"]
        for got, want in zip(fix.points, exp["points"]):
            assert got.dtype == np.int64 and got.shape[1] == 2
            np.testing.assert_array_equal(_sorted(got), want)
        assert fix.dropped == exp["dropped"] > 0
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        assert f"{exp['skipped']} skipped" in caplog.records[0].getMessage()
        assert fix.frame_map(1, exp["shape"]).max() >= 4  # every subject fixates one pixel on frame 2


# -- end to end ------------------------------------------------------------------------------------
def test_salprep_gt_end_to_end(tiny_ledov, tmp_path):
    from salprep.cli import main

    root, expected = tiny_ledov
    name = "human_dance02"
    out = tmp_path / "gt" / f"{name}.h5"
    assert main(["gt", "--layout", "ledov", "--root", str(root), "--video", name, "--out", str(out)]) == 0
    exp = expected[name]
    preset = gtlib.GT_PRESETS["ledov"]
    with h5py.File(out, "r") as f:
        maps = f["maps"][()] * gtlib.MAP_SCALE
        fixations = f["fixations"][()]
    assert maps.shape == (exp["frames"], *exp["shape"])
    for t, pts in enumerate(exp["points"]):
        count = np.zeros(exp["shape"])
        np.add.at(count, (pts[:, 1], pts[:, 0]), 1)
        assert np.array_equal(fixations[t] > 0, count > 0)
        want = gtlib.saliency_map(count, preset["sigma"], preset["truncate"], border="constant")
        # uint16 codes of the same float32 map: half a step, the code computation rounding in
        # float32 (values <= 1), and code x scale
        np.testing.assert_allclose(maps[t], want, atol=gtlib.MAP_SCALE / 2 + float_bound(np.float32, 1.0, 1, 3))
