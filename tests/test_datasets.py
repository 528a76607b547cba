"""The adapter interface (salprep.datasets): every layout registered, DHF1K through it, DHF1K
folders of MP4/MKV videos, image sources read like videos, one-line errors for roots that are
not the layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from salprep.cli import main
from salprep.datasets import LAYOUTS, FrameInfo, VideoDataset, adapter_class, open_dataset
from salprep.errors import SalprepError
from salprep.video import iter_frames, probe_video, write_video

from conftest import make_tiny_dhf1k


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("salprep: error: "), err
    return err[0]


def test_every_layout_is_a_complete_adapter():
    for layout in LAYOUTS:
        try:
            cls = adapter_class(layout)
        except ModuleNotFoundError:
            pytest.skip(f"adapter of {layout} not written yet")
        assert issubclass(cls, VideoDataset) and cls.layout == layout
        assert not getattr(cls, "__abstractmethods__", None), (layout, cls.__abstractmethods__)
        assert cls.fixation_sources and cls.expected_layout


def test_unknown_layout_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):  # argparse: the layouts are its choices
        main(["gt", "--layout", "nope", "--root", str(tmp_path), "--video", "001", "--out", str(tmp_path / "x.h5")])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    with pytest.raises(SalprepError, match="unknown dataset layout 'nope'"):
        open_dataset("nope", tmp_path)


def test_a_root_that_is_not_dhf1k_is_one_line(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert main(["gt", "--root", str(tmp_path), "--video", "001", "--out", str(tmp_path / "x.h5")]) == 2
    assert one_error_line(capsys) == (f"salprep: error: {tmp_path}: not a dhf1k dataset: expected video/NNN.AVI "
                                      "(or .mp4, .mkv) and annotation/NNNN/fixation/NNNN.png; missing the video/ folder")
    assert not (tmp_path / "x.h5").exists()


def test_dhf1k_refuses_a_fixation_source_it_does_not_have(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    assert main(["gt", "--root", str(root), "--video", "001", "--fixations", "datamat",
                 "--out", str(tmp_path / "x.h5")]) == 2
    assert one_error_line(capsys) == (f"salprep: error: {root}: the dhf1k layout reads fixations from "
                                      "['png', 'gaze'], not 'datamat'")


def test_dhf1k_fixations_are_the_points_of_the_pngs(tiny_dhf1k):
    root, points = tiny_dhf1k
    ds = open_dataset("dhf1k", root)
    info = probe_video(ds.video_path("001"))
    fix = ds.fixations("001", FrameInfo(info.frames, info.width, info.height, info.fps))
    assert len(fix) == 6 and fix.combine == "union" and fix.dropped == 0
    for t, pts in enumerate(points["001"]):
        assert {tuple(p) for p in fix.points[t]} == {tuple(p) for p in pts}
        assert fix.frame_map(t, (48, 80)).sum() == len({tuple(p) for p in pts})
    assert fix.sources == ds.fixation_files("001")


@pytest.mark.parametrize("suffix,codec", [(".mp4", "mpeg4"), (".mkv", "mjpeg")])
def test_a_dhf1k_folder_of_mp4_or_mkv_videos(tmp_path, suffix, codec):
    root = tmp_path / "dhf1k"
    make_tiny_dhf1k(root)
    for avi in sorted((root / "video").glob("*.AVI")):
        write_video(avi.with_suffix(suffix), iter_frames(avi), fps=30, codec=codec)
        avi.unlink()
    ds = open_dataset("dhf1k", root)
    assert ds.videos() == ["001", "601"]
    assert ds.video_path("601").name == f"601{suffix}"
    out = tmp_path / "store" / "gt" / "601.h5"
    assert main(["gt", "--root", str(root), "--video", "601", "--out", str(out)]) == 0
    assert main(["flow", "--method", "tvl1", "--video", str(ds.video_path("601")), "--out",
                 str(tmp_path / "store" / "flow_tvl1" / "601.h5"), "--size", "16x16", "--out-size", "16x16"]) == 0
    assert main(["verify", str(tmp_path / "store")]) == 0


def test_a_frame_folder_and_an_image_read_like_videos(tmp_path):
    folder = tmp_path / "shot"
    folder.mkdir()
    rng = np.random.default_rng(0)
    frames = {n: (rng.random((12, 20, 3)) * 255).astype(np.uint8) for n in (3, 4, 10, 100)}
    for n, img in frames.items():
        Image.fromarray(img).save(folder / f"clip_{n:05d}.png")
    (folder / "notes.txt").write_text("not a frame")
    info = probe_video(folder)
    assert (info.frames, info.width, info.height, info.codec) == (4, 20, 12, "png frames")
    got = list(iter_frames(folder))
    assert [np.array_equal(g, frames[n]) for g, n in zip(got, (3, 4, 10, 100))] == [True] * 4  # numeric order
    assert [f.shape for f in iter_frames(folder, size=(10, 6), gray=True)] == [(6, 10)] * 4
    assert probe_video(folder / "clip_00003.png").frames == 1
    Image.fromarray(frames[3][:6]).save(folder / "clip_00011.png")
    with pytest.raises(SalprepError, match="frame image is 20x6, the first frame is 20x12"):
        probe_video(folder)


def test_a_frame_folder_flows_like_a_video(tmp_path):
    folder = tmp_path / "shot"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for n in range(1, 6):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(folder / f"{n:04d}.png")
    out = tmp_path / "store" / "d" / "flow_tvl1" / "shot.h5"
    assert main(["flow", "--method", "tvl1", "--video", str(folder), "--out", str(out), "--size", "16x16",
                 "--out-size", "16x16", "--dataset-name", "d"]) == 0
    assert main(["verify", str(out)]) == 0
    (folder / "0002.png").write_bytes(b"garbage")  # the folder's hash changes with its images
    assert main(["verify", "--no-video-check", str(out)]) == 1
