"""Hollywood-2 and UCF-Sports frame-folder adapters (salprep.datasets.frame_folders)."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
from conftest import make_tiny_dhf1k
from dataset_fixtures import write_frame_folder_fixture
from PIL import Image

from salprep.datasets import open_dataset
from salprep.datasets.base import FrameInfo, parse_name_spec
from salprep.datasets.frame_folders import FrameFolderDataset, Hollywood2, UCFSports
from salprep.errors import SalprepError
from salprep.image_frames import frame_number, image_files
from salprep.video import probe_video

LAYOUTS = ("hollywood", "ucf")


def _info(ds, video) -> FrameInfo:
    probed = probe_video(ds.video_path(video))
    return FrameInfo(probed.frames, probed.width, probed.height, probed.fps)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.fixture(params=LAYOUTS)
def layout_root(request, tmp_path):
    root = tmp_path / request.param
    return request.param, root, write_frame_folder_fixture(root, request.param)


def test_adapter_classes_and_presets():
    assert isinstance(open_dataset("hollywood", "x"), Hollywood2)
    assert isinstance(open_dataset("ucf", "x"), UCFSports)
    for cls, name in ((Hollywood2, "hollywood"), (UCFSports, "ucf")):
        assert issubclass(cls, FrameFolderDataset)
        assert cls.layout == cls.gt_preset == name
        assert cls.fixation_sources == ("png",)
        assert cls.default_fps is None
    assert Hollywood2.frame_file_name("actioncliptrain00001_2", 11) == "actioncliptrain00001_00011.png"
    assert UCFSports.frame_file_name("Diving-Side-001", 7) == "Diving-Side_001_007.png"


def test_fixture_reads_back(layout_root):
    layout, root, expected = layout_root
    ds = open_dataset(layout, root)
    ds.check_root()
    assert ds.missing_from_root() is None
    assert ds.videos() == list(expected)
    assert ds.splits == {s: [v for v, e in expected.items() if e["split"] == s] for s in ("train", "test")}
    for video, exp in expected.items():
        assert ds.video_path(video) == exp["dir"] / "images"
        assert ds.annotation_dir(video) == exp["dir"]
        assert ds.has_annotations(video)
        assert ds.frame_rate(video) is None
        probed = probe_video(ds.video_path(video))
        assert (probed.frames, probed.width, probed.height) == (len(exp["frames"]), *exp["size"])
        fix = ds.fixations(video, _info(ds, video))
        assert fix.combine == "union" and fix.dropped == 0 and len(fix) == len(exp["frames"])
        for got, want in zip(fix.points, exp["points"]):
            assert got.dtype == np.int64 and np.array_equal(got, want)
        assert [frame_number(p) for p in fix.sources] == exp["frames"]
        assert all(p.parent.name == "fixation" for p in fix.sources)
        maps = ds.shipped_map_files(video)
        assert [frame_number(p) for p in maps] == exp["frames"] and all(p.parent.name == "maps" for p in maps)
        rel = [p.relative_to(ds.annotation_dir(video)).parent.as_posix() for p in ds.annotation_files(video)]
        assert rel == ["fixation"] * len(exp["frames"]) + ["maps"] * len(exp["frames"])


def test_hollywood_first_frame_index_is_read_from_disk(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "hollywood")
    ds = open_dataset("hollywood", tmp_path)
    first, second = "actioncliptrain00001_1", "actioncliptrain00001_2"
    assert expected[first]["frames"][0] == 3 and expected[second]["frames"][0] == 11  # gap at the cut
    for video in (first, second):
        files = image_files(ds.video_path(video))
        assert [frame_number(p) for p in files] == expected[video]["frames"]
        fix = ds.fixations(video, _info(ds, video))
        assert fix.sources[0].name == f"actioncliptrain00001_{expected[video]['frames'][0]:05d}.png"
        assert np.array_equal(fix.points[0], expected[video]["points"][0])


def test_frames_follow_numeric_not_lexicographic_order(tmp_path):
    video = "actioncliptrain00007_3"
    frames = [99998, 99999, 100000, 100001]  # "..._100000.png" sorts before "..._99998.png" as text
    expected = write_frame_folder_fixture(tmp_path, "hollywood", videos={
        video: {"split": "train", "frames": frames, "size": (40, 30)}})[video]
    ds = open_dataset("hollywood", tmp_path)
    names = sorted(p.name for p in (expected["dir"] / "images").iterdir())
    assert names[0].endswith("_100000.png")  # the trap
    fix = ds.fixations(video, _info(ds, video))
    assert [frame_number(p) for p in fix.sources] == frames
    assert [frame_number(p) for p in image_files(ds.video_path(video))] == frames
    assert [frame_number(p) for p in ds.shipped_map_files(video)] == frames
    assert all(np.array_equal(a, b) for a, b in zip(fix.points, expected["points"]))


def test_mismatched_fixation_numbering_is_one_line(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "hollywood")
    ds = open_dataset("hollywood", tmp_path)
    video = "actioncliptrain00001_1"  # frames 3..7
    fixdir = expected[video]["dir"] / "fixation"
    (fixdir / "actioncliptrain00001_00005.png").rename(fixdir / "actioncliptrain00001_00008.png")
    with pytest.raises(SalprepError) as exc:
        ds.fixations(video, _info(ds, video))
    msg = _one_line(exc)
    assert video in msg and "fixation/" in msg and "frame 3 is number 5 in images/ but number 6 in fixation/" in msg


def test_missing_fixation_frame_is_one_line(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "ucf")
    ds = open_dataset("ucf", tmp_path)
    video = "Diving-Side-001"  # frames 1..4
    (expected[video]["dir"] / "fixation" / "Diving-Side_001_004.png").unlink()
    with pytest.raises(SalprepError) as exc:
        ds.fixations(video, _info(ds, video))
    msg = _one_line(exc)
    assert "(3 vs 4 files)" in msg and "frame 4 is number 4 in images/ but missing in fixation/" in msg


def test_mismatched_maps_numbering_is_one_line(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "ucf")
    ds = open_dataset("ucf", tmp_path)
    video = "Diving-Side-001"
    maps = expected[video]["dir"] / "maps"
    (maps / "Diving-Side_001_002.png").rename(maps / "Diving-Side_001_009.png")
    for call in (lambda: ds.shipped_map_files(video), lambda: ds.fixations(video, _info(ds, video))):
        with pytest.raises(SalprepError) as exc:
            call()
        msg = _one_line(exc)
        assert "frame 2 is number 2 in images/ but number 3 in maps/" in msg


def test_frame_count_must_match_the_decoded_video(tmp_path):
    write_frame_folder_fixture(tmp_path, "ucf")
    ds = open_dataset("ucf", tmp_path)
    info = _info(ds, "Diving-Side-001")
    with pytest.raises(SalprepError) as exc:
        ds.fixations("Diving-Side-001", FrameInfo(info.frames + 1, info.width, info.height, info.fps))
    assert "4 fixation frames but the video decodes to 5" in _one_line(exc)


def test_wrong_size_fixation_png_is_one_line(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "hollywood")
    ds = open_dataset("hollywood", tmp_path)
    video = "actioncliptest00001_1"  # 40x30
    bad = expected[video]["dir"] / "fixation" / "actioncliptest00001_00004.png"
    Image.fromarray(np.full((20, 10), 255, np.uint8), mode="L").save(bad)
    with pytest.raises(SalprepError) as exc:
        ds.fixations(video, _info(ds, video))
    msg = _one_line(exc)
    assert "fixation map is 10x20, the video is 40x30" in msg and bad.name in msg


def test_missing_annotations(tmp_path):
    expected = write_frame_folder_fixture(tmp_path, "ucf")
    ds = open_dataset("ucf", tmp_path)
    video = "Kicking-Front-003"
    for sub in ("fixation", "maps"):
        for p in (expected[video]["dir"] / sub).iterdir():
            p.unlink()
        (expected[video]["dir"] / sub).rmdir()
    assert not ds.has_annotations(video)
    assert ds.annotation_files(video) == [] and ds.shipped_map_files(video) == []
    with pytest.raises(SalprepError) as exc:
        ds.fixations(video, _info(ds, video))
    assert "no fixation PNGs" in _one_line(exc)


def test_splits_default_override_and_unknown(tmp_path):
    write_frame_folder_fixture(tmp_path, "ucf")
    ds = open_dataset("ucf", tmp_path)
    assert ds.videos("train") == ["Diving-Side-001", "Golf-Swing-Back-002"]
    assert ds.videos("test") == ["Kicking-Front-003"]
    custom = open_dataset("ucf", tmp_path, splits={"train": "Diving-Side-001, Kicking-Front-003",
                                                   "val": ["Golf-Swing-Back-002"]})
    assert custom.splits == {"train": ["Diving-Side-001", "Kicking-Front-003"], "val": ["Golf-Swing-Back-002"]}
    assert custom.videos("val") == ["Golf-Swing-Back-002"]
    assert custom.videos() == ds.videos()  # all on disk, whatever the splits
    # a video configured into another split is still found in its folder on disk
    assert custom.video_path("Kicking-Front-003") == tmp_path / "testing" / "Kicking-Front-003" / "images"
    with pytest.raises(SalprepError) as exc:
        custom.videos("test")
    assert "unknown split 'test'" in _one_line(exc)
    assert parse_name_spec(["a", "b, c", ""]) == ["a", "b", "c"]
    with pytest.raises(SalprepError):
        parse_name_spec("ok,../escape")


def test_video_ids_must_be_plain_names(tmp_path):
    write_frame_folder_fixture(tmp_path, "hollywood")
    ds = open_dataset("hollywood", tmp_path)
    for bad in ("../training/actioncliptrain00001_1", "a/b"):
        with pytest.raises(SalprepError) as exc:
            ds.video_path(bad)
        assert "not a plain name" in _one_line(exc)


def test_absent_video_path_guesses_the_split_folder(tmp_path):
    write_frame_folder_fixture(tmp_path, "hollywood")
    ds = open_dataset("hollywood", tmp_path)
    assert ds.annotation_dir("actioncliptest00099_1") == tmp_path / "testing" / "actioncliptest00099_1"
    assert ds.annotation_dir("actioncliptrain00099_1") == tmp_path / "training" / "actioncliptrain00099_1"
    assert not ds.has_annotations("actioncliptest00099_1")
    assert ds.annotation_files("actioncliptest00099_1") == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_check_root_names_the_expected_layout(tmp_path, layout):
    empty = tmp_path / "empty"
    empty.mkdir()
    dhf1k = tmp_path / "dhf1k"
    make_tiny_dhf1k(dhf1k, videos=(1,), frames=2)
    for root in (empty, dhf1k):
        ds = open_dataset(layout, root)
        with pytest.raises(SalprepError) as exc:
            ds.check_root()
        msg = _one_line(exc)
        assert f"not a {layout} dataset" in msg and "training/<video>/{images,fixation,maps}/" in msg
        assert "missing training/<video>/images/ and testing/<video>/images/" in msg
        assert ds.videos() == [] and ds.splits == {"train": [], "test": []}


def test_only_a_test_folder_is_enough(tmp_path):
    write_frame_folder_fixture(tmp_path, "ucf", videos={
        "Riding-Horse-004": {"split": "test", "frames": range(1, 3), "size": (40, 30)}})
    ds = open_dataset("ucf", tmp_path)
    ds.check_root()
    assert ds.splits == {"train": [], "test": ["Riding-Horse-004"]}


def test_fixture_writer_refuses_other_layouts(tmp_path):
    with pytest.raises(SalprepError):
        write_frame_folder_fixture(tmp_path, "salicon")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gt_command_round_trips(tmp_path, layout, capsys):
    from salprep.cli import main

    root = tmp_path / layout
    expected = write_frame_folder_fixture(root, layout)
    video = next(iter(expected))
    exp = expected[video]
    out = tmp_path / "gt.h5"
    assert main(["gt", "--layout", layout, "--root", str(root), "--video", video, "--out", str(out),
                 "--compare"]) == 0
    text = capsys.readouterr().out
    w, h = exp["size"]
    with h5py.File(out, "r") as h5:
        fixations = h5["fixations"][()]
        assert fixations.shape == (len(exp["frames"]), h, w)
        for t, pts in enumerate(exp["points"]):
            want = np.zeros((h, w), np.uint8)
            want[pts[:, 1], pts[:, 0]] = 1
            assert np.array_equal(fixations[t], want)
        cc = h5.attrs.get("shipped_cc_mean")
    if cc is None:
        cc = float(re.search(r"mean (-?[0-9.]+)", text).group(1))
    assert cc > 0.99
