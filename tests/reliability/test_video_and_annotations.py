"""Reliability battery: videos cut short in containers that declare no frame count (Matroska),
and annotation maps whose size is not the video's. Each bad case: exit 2, one line naming the
problem, nothing written, other shards byte-identical."""

import re
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from salprep.cli import main
from salprep.video import probe_video, write_video
from faults import one_error_line, snapshot


def noise_video(path: Path, frames: int, fps=30, codec="mjpeg", shape=(48, 80), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    write_video(path, [(rng.random((*shape, 3)) * 255).astype(np.uint8) for _ in range(frames)], fps=fps, codec=codec)
    return path


def cut(src: Path, dst: Path, fraction: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


TRUNCATED = re.compile(r"truncated video: decoded (\d+) frames = ([\d.]+) s of the ([\d.]+) s the container declares$")


def test_the_cut_matroska_file_keeps_its_declared_duration(tmp_path):
    """What the check relies on: the segment duration and the track's DURATION tag live in the
    header (the muxer seeks back to fill them in), so a file cut at 60 % still declares them."""
    mkv = noise_video(tmp_path / "v.mkv", 30, fps=30)
    short = cut(mkv, tmp_path / "cut.mkv")
    with av.open(str(short)) as container:
        stream = container.streams.video[0]
        assert stream.frames == 0  # Matroska declares no frame count
        assert container.duration == 1_000_000  # AV_TIME_BASE units: 1.0 s
        assert stream.metadata.get("DURATION", "").startswith("00:00:01.0")
        assert sum(1 for _ in container.decode(stream)) < 30


@pytest.mark.parametrize("fps", [24, 25, 30])
def test_probe_refuses_a_truncated_mkv(tmp_path, capsys, fps):
    mkv = noise_video(tmp_path / "v.mkv", 30, fps=fps)
    short = cut(mkv, tmp_path / "cut.mkv")
    before = snapshot(tmp_path)
    assert main(["probe", str(short)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"salprep: error: {short}: truncated video: decoded ")
    m = TRUNCATED.search(line)
    assert m, line
    n, decoded, declared = int(m.group(1)), float(m.group(2)), float(m.group(3))
    assert 0 < n < 30 and decoded < declared and declared == pytest.approx(30 / fps, abs=0.006)
    assert snapshot(tmp_path) == before


def test_flow_refuses_a_truncated_mkv_and_leaves_other_shards_alone(tmp_path, capsys):
    good = noise_video(tmp_path / "good.mkv", 8, fps=25)
    short = cut(noise_video(tmp_path / "whole.mkv", 8, fps=25, seed=1), tmp_path / "cut.mkv")
    folder = tmp_path / "store" / "flow_tvl1"

    def flow(video: Path, out: Path) -> list[str]:
        return ["flow", "--method", "tvl1", "--video", str(video), "--out", str(out), "--size", "16x16",
                "--out-size", "16x16"]

    assert main(flow(good, folder / "good.h5")) == 0
    before = snapshot(folder)
    capsys.readouterr()
    out = folder / "cut.h5"
    assert main(flow(short, out)) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"salprep: error: {short}: truncated video: decoded ") and TRUNCATED.search(line)
    assert not out.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["good.h5"]  # no temporary left behind
    assert snapshot(folder) == before  # the other shard is byte-identical


def test_a_truncated_mkv_with_a_longer_audio_track_is_still_caught(tmp_path, capsys):
    """The container's duration spans every track; the video track's own DURATION tag is used."""
    path = tmp_path / "av.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mjpeg", rate=25)
        video.width, video.height, video.pix_fmt = 80, 48, "yuvj420p"
        audio = container.add_stream("aac", rate=48000)
        for _ in range(25):
            frame = av.VideoFrame.from_ndarray((rng.random((48, 80, 3)) * 255).astype(np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, 2 * 48000, 1024):  # 2 s of silence: longer than the 1 s of picture
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 48000, start
            for packet in audio.encode(samples):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    assert probe_video(path).frames == 25  # complete: not mistaken for truncated by the audio's length
    short = cut(path, tmp_path / "cut.mkv", 0.5)
    assert main(["probe", str(short)]) == 2
    m = TRUNCATED.search(one_error_line(capsys))
    assert m and float(m.group(3)) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("fps", [24, 25, 30, Fraction(30000, 1001)], ids=["24", "25", "30", "29.97"])
@pytest.mark.parametrize("frames", [1, 2, 7])
@pytest.mark.parametrize("ext,codec", [("mkv", "mjpeg"), ("mkv", "mpeg4"), ("mp4", "mjpeg"), ("mp4", "mpeg4"),
                                       ("avi", "mjpeg")])
def test_complete_videos_pass_probe_with_their_frame_count(tmp_path, capsys, ext, codec, frames, fps):
    path = noise_video(tmp_path / f"v.{ext}", frames, fps=fps, codec=codec)
    assert main(["probe", str(path)]) == 0
    assert f"{path}: {frames} frames, 80x48, {float(fps):.3f} fps, codec {codec}" in capsys.readouterr().out


def test_a_matroska_file_without_a_declared_duration_is_accepted(tmp_path):
    """Written to a pipe, a Matroska file has no duration in its header: nothing to compare with."""
    import io

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    pipe = Pipe()
    with av.open(pipe, "w", format="matroska") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 80, 48, "yuvj420p"
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 80, 3), np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path = tmp_path / "piped.mkv"
    path.write_bytes(bytes(pipe.data))
    with av.open(str(path)) as container:
        assert container.duration is None and "DURATION" not in container.streams.video[0].metadata
    assert probe_video(path).frames == 5


def _annotations(tiny_dhf1k, tmp_path) -> tuple[Path, Path]:
    root, _ = tiny_dhf1k
    ann = tmp_path / "ann"
    shutil.copytree(root / "annotation" / "0001", ann)
    return root / "video" / "001.AVI", ann


def _blank(path: Path, size: tuple[int, int]) -> None:
    Image.new("L", size).save(path)


def test_probe_refuses_fixation_maps_of_another_size(tiny_dhf1k, tmp_path, capsys):
    video, ann = _annotations(tiny_dhf1k, tmp_path)
    for png in (ann / "fixation").glob("*.png"):
        _blank(png, (40, 24))
    before = snapshot(tmp_path)
    assert main(["probe", str(video), "--annotations", str(ann)]) == 2
    assert one_error_line(capsys) == (f"salprep: error: {ann / 'fixation' / '0001.png'}: fixation map is 40x24 but the "
                                      "video is 80x48 (and 5 more files)")
    assert snapshot(tmp_path) == before


def test_probe_refuses_a_saliency_map_of_another_size(tiny_dhf1k, tmp_path, capsys):
    video, ann = _annotations(tiny_dhf1k, tmp_path)
    _blank(ann / "maps" / "0003.png", (48, 80))  # transposed: width and height swapped
    before = snapshot(tmp_path)
    assert main(["probe", str(video), "--annotations", str(ann)]) == 2
    assert one_error_line(capsys) == (f"salprep: error: {ann / 'maps' / '0003.png'}: saliency map is 48x80 but the "
                                      "video is 80x48")
    assert snapshot(tmp_path) == before


def test_probe_counts_every_wrong_file_in_both_folders(tiny_dhf1k, tmp_path, capsys):
    video, ann = _annotations(tiny_dhf1k, tmp_path)
    _blank(ann / "maps" / "0002.png", (40, 24))
    _blank(ann / "maps" / "0005.png", (40, 24))
    assert main(["probe", str(video), "--annotations", str(ann)]) == 2
    assert one_error_line(capsys).endswith(f"{ann / 'maps' / '0002.png'}: saliency map is 40x24 but the video is "
                                           "80x48 (and 1 more file)")


def test_probe_refuses_an_annotation_file_that_is_not_an_image(tiny_dhf1k, tmp_path, capsys):
    video, ann = _annotations(tiny_dhf1k, tmp_path)
    (ann / "fixation" / "0004.png").write_bytes(b"not a png")
    assert main(["probe", str(video), "--annotations", str(ann)]) == 2
    assert one_error_line(capsys) == f"salprep: error: {ann / 'fixation' / '0004.png'}: not a readable image " \
                                     "(UnidentifiedImageError)"


def test_matching_annotations_print_match(tiny_dhf1k, capsys):
    root, _ = tiny_dhf1k
    ann = root / "annotation" / "0001"
    assert main(["probe", str(root / "video" / "001.AVI"), "--annotations", str(ann)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"{ann}: fixation 6, maps 6 frames: match; all 80x48 like the video" in captured.out
