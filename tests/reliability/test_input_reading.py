"""Reliability battery (issue 25): read what the user has. Published maps of other bit depths,
videos with rotation metadata, the gt log of a video without fixations, DHF1K annotations
numbered from 0000, and the Mixed_5c size error. Each bad case: exit 2, one line naming the
file and the problem."""

import math
import re
import shutil
from fractions import Fraction
from pathlib import Path

import av
import h5py
import numpy as np
import pytest
from PIL import Image

from salprep import gt as gtlib
from salprep.cli import main
from salprep.errors import SalprepError
from salprep.image_frames import read_map_image
from salprep.video import iter_frames, probe_video
from faults import one_error_line, snapshot

H, W = 48, 80  # the tiny DHF1K set's frames (tests/conftest.py)


def _smaps(root: Path, video: str = "0001") -> list[np.ndarray]:
    """The float GT map in [0, 1] of each fixation PNG of one tiny-DHF1K video."""
    files = sorted((root / "annotation" / video / "fixation").glob("*.png"))
    return [gtlib.saliency_map(np.asarray(Image.open(f)) > 0, gtlib.GT_PRESETS["dhf1k"]["sigma"]) for f in files]


def _gt(root: Path, out: Path, *extra: str) -> list[str]:
    return ["gt", "--root", str(root), "--video", "001", "--out", str(out), "--compare", *extra]


# -- 1. published maps of other bit depths --------------------------------------------------------


def test_16bit_published_maps_give_the_shipped_maps_of_an_8bit_export(tiny_dhf1k, tmp_path, capsys):
    """The same continuous maps exported at 8 and 16 bits: the GT shards' shipped_maps agree within
    one level (the 16-bit map is read as value * 255 / 65535, not clipped at 255), and the gt log's
    CC against them is high for both."""
    root8, _ = tiny_dhf1k
    root16 = tmp_path / "tiny16"
    shutil.copytree(root8, root16)
    maps = _smaps(root8)
    for t, smap in enumerate(maps):
        Image.fromarray(np.round(smap * 255).astype(np.uint8), mode="L").save(root8 / "annotation/0001/maps" /
                                                                             f"{t + 1:04d}.png")
        Image.fromarray(np.round(smap * 65535).astype(np.uint16)).save(root16 / "annotation/0001/maps" /
                                                                     f"{t + 1:04d}.png")
    with Image.open(root16 / "annotation/0001/maps/0001.png") as img:
        assert img.mode == "I;16"  # really a 16-bit PNG
    shipped, logs = {}, {}
    for name, root in (("8", root8), ("16", root16)):
        out = tmp_path / f"gt{name}.h5"
        assert main(_gt(root, out)) == 0
        logs[name] = capsys.readouterr().out
        with h5py.File(out, "r") as h5:
            shipped[name] = h5["shipped_maps"][...]
            assert h5["shipped_maps"].dtype == np.uint8
            assert h5.attrs["shipped_cc_mean"] > 0.99
    assert np.abs(shipped["16"].astype(int) - shipped["8"].astype(int)).max() <= 1
    # not saturated: as many pixels at 255 as in the 8-bit export (the peaks), not most of them
    assert (shipped["16"] == 255).mean() <= (shipped["8"] >= 254).mean()
    for name in ("8", "16"):
        m = re.search(r"CC\(built, published\) over 6 frames: mean ([\d.]+), min ([\d.]+)", logs[name])
        assert m and float(m.group(1)) > 0.99 and float(m.group(2)) > 0.99, logs[name]


def _gray_versions(tmp_path: Path, smap: np.ndarray) -> dict[str, Path]:
    """One continuous map in every format :func:`read_map_image` reads."""
    v8 = np.round(smap * 255).astype(np.uint8)
    v16 = np.round(smap * 65535).astype(np.uint16)
    files = {}

    def save(name, img, **kw):
        files[name] = tmp_path / name
        img.save(files[name], **kw)

    save("L.png", Image.fromarray(v8, mode="L"))
    save("I16.png", Image.fromarray(v16))
    save("I16.tif", Image.fromarray(v16))
    save("F.tif", Image.fromarray(smap.astype(np.float32)))
    save("RGB.png", Image.fromarray(np.stack([v8] * 3, axis=-1), mode="RGB"))
    save("RGBA.png", Image.fromarray(np.dstack([v8, v8, v8, np.full_like(v8, 255)]), mode="RGBA"))
    save("LA.png", Image.fromarray(np.dstack([v8, np.full_like(v8, 255)]), mode="LA"))
    save("P.png", Image.fromarray(v8, mode="L").convert("P"))
    save("RGB.jpg", Image.fromarray(np.stack([v8] * 3, axis=-1), mode="RGB"), quality=95)
    return files


def test_read_map_image_reads_every_bit_depth_on_its_own_scale(tmp_path):
    smap = _smaps_fixture()
    expected = np.round(smap * 255).astype(int)
    files = _gray_versions(tmp_path, smap)
    for name, path in files.items():
        got = read_map_image(path)
        assert got.dtype == np.uint8 and got.shape == smap.shape, name
        tol = 3 if name.endswith(".jpg") else 1  # JPEG: lossy, but on the same scale
        assert np.abs(got.astype(int) - expected).max() <= tol, name


def _smaps_fixture() -> np.ndarray:
    fix = np.zeros((H, W), bool)
    fix[10, 20] = fix[30, 60] = True
    return gtlib.saliency_map(fix, 6.0)


def test_read_map_image_refuses_maps_whose_scale_is_unknown(tmp_path):
    smap = _smaps_fixture()
    v8 = np.round(smap * 255).astype(np.uint8)
    heat = tmp_path / "heat.png"  # a colour rendering: red where salient, blue elsewhere
    Image.fromarray(np.dstack([v8, np.zeros_like(v8), 255 - v8]), mode="RGB").save(heat)
    with pytest.raises(SalprepError, match=r"published map is in colour \(mode RGB, its channels differ by up to "
                                           r"255 levels\)") as err:
        read_map_image(heat)
    assert err.value.path == str(heat)
    f255 = tmp_path / "f255.tif"
    Image.fromarray((smap * 255).astype(np.float32)).save(f255)
    with pytest.raises(SalprepError, match=r"published map is a float image with values \S+\.\.255: salprep reads "
                                           "float maps on 0..1"):
        read_map_image(f255)
    i32 = tmp_path / "i32.tif"
    Image.fromarray(np.round(smap * 65535).astype(np.int32)).save(i32)
    with Image.open(i32) as img:
        assert img.mode == "I"
    with pytest.raises(SalprepError, match="published map is a 32-bit integer TIFF image: its scale is unknown"):
        read_map_image(i32)


# -- 2. the gt log of a video without fixations ---------------------------------------------------


def test_gt_log_of_a_video_without_fixations_says_so(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    for png in (root / "annotation/0001/fixation").glob("*.png"):
        Image.new("L", (W, H)).save(png)
    assert main(_gt(root, tmp_path / "a.h5")) == 0
    out = capsys.readouterr().out
    assert "6 frame(s) without fixations" in out
    assert "no fixations in this video: nothing to compare the 6 published maps with" in out
    assert "no published maps" not in out
    assert main(_gt(root, tmp_path / "b.h5", "--no-shipped")) == 0
    assert "published maps not read (--no-shipped): nothing compared" in capsys.readouterr().out
    shutil.rmtree(root / "annotation/0001/maps")
    assert main(_gt(root, tmp_path / "c.h5")) == 0
    assert "no published maps to compare with" in capsys.readouterr().out


# -- 3. rotation metadata -------------------------------------------------------------------------


def rotated_video(path: Path, frames: list[np.ndarray], degrees: int | None = None, *, hflip: bool = False,
                  matrix: list[int] | None = None, tag: str | None = None, codec: str = "mjpeg", fps=10) -> Path:
    """A real video file whose stream carries rotation metadata: a display matrix (``degrees``
    counter-clockwise as ffprobe prints them, or a raw ``matrix``) or a ``rotate`` tag."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if degrees is not None:
            stream.set_display_rotation(degrees, hflip=hflip)
        if matrix is not None:
            stream.set_display_matrix(matrix)
        if tag is not None:
            stream.metadata["rotate"] = tag
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _marked(h: int = 32, w: int = 64) -> np.ndarray:
    """A dark frame with a bright 8x16 block in its top-left corner."""
    arr = np.full((h, w, 3), 20, np.uint8)
    arr[:8, :16] = 235
    return arr


def _block_centre(frame: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero((frame if frame.ndim == 2 else frame[..., 0]) > 128)
    return ys.mean() / frame.shape[0], xs.mean() / frame.shape[1]


# (degrees, hflip) -> where the top-left block of a 64x32 frame is shown (row, column as fractions)
TURNS = {
    (-90, False): (True, (0.125, 0.875)),  # a phone's portrait video: turned 90 degrees clockwise
    (90, False): (True, (0.875, 0.125)),
    (180, False): (False, (0.875, 0.875)),
    (90, True): (True, (0.875, 0.875)),  # turned counter-clockwise, then mirrored left-right
    (0, True): (False, (0.125, 0.875)),  # mirrored left-right only
}


@pytest.mark.parametrize("ext,codec", [("mp4", "mjpeg"), ("mov", "mpeg4"), ("mkv", "mjpeg")])
@pytest.mark.parametrize("turn", list(TURNS), ids=[f"{d}{'-hflip' if f else ''}" for d, f in TURNS])
def test_rotation_metadata_is_applied_as_players_show_it(tmp_path, ext, codec, turn):
    degrees, hflip = turn
    transposed, (row, col) = TURNS[turn]
    path = rotated_video(tmp_path / f"r.{ext}", [_marked()] * 3, degrees, hflip=hflip, codec=codec)
    with av.open(str(path)) as container:  # what the file stores: 64x32, block top-left
        stored = next(container.decode(video=0))
        assert (stored.width, stored.height) == (64, 32)
    info = probe_video(path)
    assert (info.width, info.height) == ((32, 64) if transposed else (64, 32))
    assert info.frames == 3 and info.orientation and info.as_dict()["rotation"] == info.rotation
    frames = list(iter_frames(path))
    assert len(frames) == 3
    for frame in frames:
        assert frame.shape == (info.height, info.width, 3) and frame.flags.c_contiguous
        assert _block_centre(frame) == pytest.approx((row, col), abs=0.07)
    size = (info.width // 2, info.height // 2)  # a resized decode has the displayed size asked for
    small = next(iter_frames(path, size=size, gray=True))
    assert small.shape == (size[1], size[0])
    assert _block_centre(small) == pytest.approx((row, col), abs=0.1)


def test_a_video_without_rotation_metadata_is_unchanged(tmp_path):
    path = rotated_video(tmp_path / "plain.mp4", [_marked()] * 2)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation, info.orientation) == (64, 32, 0, None)
    assert info.size_note() == ""
    assert _block_centre(next(iter_frames(path))) == pytest.approx((0.125, 0.125), abs=0.07)


def test_probe_names_the_applied_rotation(tmp_path, capsys):
    path = rotated_video(tmp_path / "phone.mp4", [_marked()] * 2, -90)
    assert main(["probe", str(path)]) == 0
    assert (f"{path}: 2 frames, 32x64, 10.000 fps, codec mjpeg, rotation metadata applied (-90 degrees: displayed "
            "turned 90 degrees clockwise; stored 64x32)") in capsys.readouterr().out


def _rotated_dhf1k(tmp_path: Path, annotate_stored: bool) -> Path:
    """A one-video DHF1K root whose video is stored 64x32 with a -90 degree display matrix (shown
    32x64), annotated on the displayed frames or (``annotate_stored``) on the stored ones."""
    root = tmp_path / "phone"
    (root / "video").mkdir(parents=True)
    rotated_video(root / "video" / "001.mp4", [_marked()] * 3, -90)
    ann = root / "annotation" / "0001"
    (ann / "fixation").mkdir(parents=True)
    (ann / "maps").mkdir()
    h, w = (32, 64) if annotate_stored else (64, 32)
    for t in range(3):
        fix = np.zeros((h, w), np.uint8)
        fix[h // 4, w // 4 + t] = 255
        Image.fromarray(fix, mode="L").save(ann / "fixation" / f"{t + 1:04d}.png")
        smap = gtlib.saliency_map(fix > 0, gtlib.GT_PRESETS["dhf1k"]["sigma"])
        Image.fromarray(np.round(smap * 255).astype(np.uint8), mode="L").save(ann / "maps" / f"{t + 1:04d}.png")
    return root


def test_gt_of_a_rotated_video_uses_the_displayed_frames(tmp_path, capsys):
    root = _rotated_dhf1k(tmp_path, annotate_stored=False)
    out = tmp_path / "gt.h5"
    assert main(_gt(root, out)) == 0
    assert "CC(built, published) over 3 frames" in capsys.readouterr().out
    with h5py.File(out, "r") as h5:
        assert h5["maps"].shape == (3, 64, 32) and h5["shipped_maps"].shape == (3, 64, 32)
    video = root / "video" / "001.mp4"
    assert main(["probe", str(video), "--annotations", str(root / "annotation" / "0001")]) == 0
    assert "all 32x64 like the video" in capsys.readouterr().out


NOTE = ("the video is 32x64 as displayed (its rotation metadata, -90 degrees: displayed turned 90 degrees clockwise, "
        "is applied; the file stores 64x32 frames)")


def test_annotations_in_stored_orientation_fail_naming_the_rotation(tmp_path, capsys):
    root = _rotated_dhf1k(tmp_path, annotate_stored=True)
    out = tmp_path / "store" / "gt.h5"
    before = snapshot(tmp_path)
    assert main(_gt(root, out)) == 2
    fixation = root / "annotation" / "0001" / "fixation" / "0001.png"
    assert one_error_line(capsys) == f"salprep: error: {fixation}: fixation map is 64x32, {NOTE}"
    assert not out.exists() and snapshot(tmp_path) == before
    assert main(["probe", str(root / "video" / "001.mp4"), "--annotations", str(root / "annotation" / "0001")]) == 2
    assert one_error_line(capsys) == (f"salprep: error: {fixation}: fixation map is 64x32 but "
                                      f"{NOTE} (and 5 more files)")  # 3 fixation maps and 3 published maps


def test_rotation_salprep_cannot_apply_is_refused_with_one_line(tmp_path, capsys):
    one = round(65536 * math.sqrt(0.5))
    tilted = rotated_video(tmp_path / "tilted.mp4", [_marked()] * 2, matrix=[one, -one, 0, one, one, 0, 0, 0, 1 << 30])
    assert main(["probe", str(tilted)]) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {tilted}: the video carries rotation metadata "
                                             "(45 degrees, display matrix")
    with pytest.raises(SalprepError, match="rotation metadata"):
        next(iter_frames(tilted))
    tagged = rotated_video(tmp_path / "tagged.mkv", [_marked()] * 2, tag="90")  # Matroska keeps a ROTATE tag
    with av.open(str(tagged)) as container:
        assert container.streams.video[0].metadata.get("ROTATE") == "90"
    assert main(["probe", str(tagged)]) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {tagged}: the video carries a rotate tag (90 degrees) "
                                             "but no display matrix")


# -- 4. DHF1K annotations numbered from 0000 ------------------------------------------------------


def _numbered_from_zero(root, kind: str):
    """The annotation folder ``kind`` of video 0001, its 6 PNGs renamed 0000..0005."""
    folder = root / "annotation" / "0001" / kind
    for t in range(1, 7):
        (folder / f"{t:04d}.png").rename(folder / f"{t - 1:04d}.png")
    return folder


def test_fixation_pngs_numbered_from_0000_say_so(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    folder = _numbered_from_zero(root, "fixation")
    assert main(_gt(root, tmp_path / "gt.h5")) == 2
    assert one_error_line(capsys) == (
        f"salprep: error: {folder}: fixation frames are not numbered 1..6: they start at 0000.png where DHF1K starts "
        "at 0001.png (0001.png is the first frame); rename each to its number + 1 (0000.png -> 0001.png, ..., "
        "0005.png -> 0006.png)")
    for t in reversed(range(6)):  # back, and a gap: the missing number is named
        (folder / f"{t:04d}.png").rename(folder / f"{t + 1:04d}.png")
    (folder / "0003.png").rename(folder / "0007.png")
    assert main(_gt(root, tmp_path / "gt.h5")) == 2
    assert one_error_line(capsys) == (f"salprep: error: {folder}: fixation frames are not numbered 1..6 "
                                      "(missing 0003.png)")


def test_published_maps_numbered_from_0000_say_so(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    folder = _numbered_from_zero(root, "maps")
    assert main(_gt(root, tmp_path / "gt.h5")) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {folder}: published map frames are not numbered 1..6: "
                                             "they start at 0000.png")


# -- 5. the Mixed_5c size error names its file ----------------------------------------------------


def test_mixed5c_smaller_than_the_pool_names_the_video(tmp_path, capsys):
    from salprep.video import write_video

    video = tmp_path / "v.avi"
    write_video(video, [np.zeros((H, W, 3), np.uint8)] * 4)
    out = tmp_path / "i3d.h5"
    args = ["features", "--modality", "rgb", "--video", str(video), "--checkpoint", str(tmp_path / "rgb.pt"),
            "--size", "64x64", "--out", str(out)]
    assert main(args) == 2
    assert one_error_line(capsys) == (
        f"salprep: error: {video}: Mixed_5c is 10x2x2 (window 79 at the --size 64x64; Mixed_5c is T/8 x H/32 x W/32, "
        "rounded up), smaller than the pooled size 5x5x5: use a larger input or window")
    assert not out.exists()
