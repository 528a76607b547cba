"""The demo dataset: exact DHF1K layout (DATASETS.md §8), GT round trip, determinism, learnability."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
import scipy.io
from PIL import Image
from tolerance import float_bound

from salprep import demo
from salprep import gt as gtlib
from salprep.cli import main
from salprep.datasets import open_dataset
from salprep.errors import SalprepError
from salprep.video import probe_video

SIZE = (160, 90)  # W, H
FRAMES = 12
SPEC = demo.DemoSpec(seed=0, train=2, val=2, test=1, frames=FRAMES, size=SIZE)
ANNOTATED = ["0001", "0002", "0601", "0602"]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "demo"
    manifest = demo.write_demo(root, SPEC, progress=False)
    return root, manifest


def read_png(path):
    with Image.open(path) as img:
        return img.mode, img.size, np.asarray(img)


def fixation_pngs(root, folder):
    return [np.asarray(Image.open(root / "annotation" / folder / "fixation" / f"{t:04d}.png")) for t in range(1, FRAMES + 1)]


def map_pngs(root, folder):
    return [np.asarray(Image.open(root / "annotation" / folder / "maps" / f"{t:04d}.png")) for t in range(1, FRAMES + 1)]


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------
def test_layout_and_names(small_demo):
    root, manifest = small_demo
    assert sorted(p.name for p in (root / "video").iterdir()) == ["001.AVI", "002.AVI", "601.AVI", "602.AVI", "701.AVI"]
    assert sorted(p.name for p in (root / "annotation").iterdir()) == ANNOTATED  # no 0701: test set
    frames = [f"{t:04d}" for t in range(1, FRAMES + 1)]
    for folder in ANNOTATED:
        ann = root / "annotation" / folder
        assert sorted(p.name for p in ann.iterdir()) == ["fixation", "maps"]
        assert sorted(p.name for p in (ann / "maps").iterdir()) == [f"{f}.png" for f in frames]
        assert sorted(p.name for p in (ann / "fixation").iterdir()) == [f"{f}.png" for f in frames] + ["maps"]
        assert sorted(p.name for p in (ann / "fixation" / "maps").iterdir()) == [f"{f}.mat" for f in frames]
    # gaze: P%03d/P%03d_Trail%04d.txt for train and val videos, 12-17 observers each
    trail = re.compile(r"^P(\d{3})_Trail(\d{4})\.txt$")
    per_video = {}
    for pdir in (root / "gaze_record").iterdir():
        assert re.fullmatch(r"P\d{3}", pdir.name) and 1 <= int(pdir.name[1:]) <= 17
        for f in pdir.iterdir():
            m = trail.match(f.name)
            assert m and m.group(1) == pdir.name[1:], f
            per_video.setdefault(m.group(2), []).append(int(m.group(1)))
    assert sorted(per_video) == ANNOTATED
    for folder, observers in per_video.items():
        assert 12 <= len(observers) <= 17
        entry = next(v for v in manifest["videos"] if v["number"] == int(folder))
        assert sorted(observers) == entry["observers"]
    # nothing half-written or hidden besides the demo marker
    hidden = [p for p in root.rglob(".*")]
    assert [p.name for p in hidden] == [demo.MARKER]
    assert sorted(p.name for p in root.iterdir()) == [demo.MARKER, "annotation", "demo.json", "gaze_record", "video"]


def test_manifest(small_demo):
    root, manifest = small_demo
    on_disk = json.loads((root / "demo.json").read_text())
    assert on_disk == manifest
    assert manifest["seed"] == 0 and manifest["frames"] == FRAMES
    assert (manifest["width"], manifest["height"], manifest["fps"]) == (*SIZE, 30)
    assert manifest["counts"] == {"train": 2, "val": 2, "test": 1}
    assert [(v["id"], v["split"]) for v in manifest["videos"]] == [
        ("001", "train"), ("002", "train"), ("601", "val"), ("602", "val"), ("701", "test")]
    assert manifest["empty_frames"] == [f"annotation/0601/fixation/{FRAMES // 2 + 1:04d}.png"]
    assert manifest["dropped_out_of_frame"] > 0


def test_defaults():
    spec = demo.DemoSpec()
    assert (spec.seed, spec.train, spec.val, spec.test, spec.frames, spec.size) == (0, 4, 2, 1, 120, (640, 360))
    assert [n for n, _ in spec.videos()] == [1, 2, 3, 4, 601, 602, 701]
    assert spec.frames >= 100


def test_pngs_modes_and_values(small_demo):
    root, _ = small_demo
    for folder in ANNOTATED:
        for t in range(1, FRAMES + 1):
            mode, size, fix = read_png(root / "annotation" / folder / "fixation" / f"{t:04d}.png")
            assert mode == "L" and size == SIZE and fix.dtype == np.uint8
            assert set(np.unique(fix).tolist()) <= {0, 255}
            mode, size, smap = read_png(root / "annotation" / folder / "maps" / f"{t:04d}.png")
            assert mode == "L" and size == SIZE
            if fix.any():
                assert smap.max() == 255
            else:
                assert smap.max() == 0


def test_mat_equals_png(small_demo):
    root, _ = small_demo
    for folder in ANNOTATED:
        for t in (1, FRAMES // 2 + 1, FRAMES):
            mat = scipy.io.loadmat(root / "annotation" / folder / "fixation" / "maps" / f"{t:04d}.mat")
            assert [k for k in mat if not k.startswith("__")] == ["I"]
            I = mat["I"]
            assert I.dtype == np.uint8 and I.shape == (SIZE[1], SIZE[0])
            assert set(np.unique(I).tolist()) <= {0, 1}
            png = np.asarray(Image.open(root / "annotation" / folder / "fixation" / f"{t:04d}.png"))
            np.testing.assert_array_equal(I > 0, png > 0)


def test_decoded_frames_equal_gt_files(small_demo):
    root, _ = small_demo
    ds = open_dataset("dhf1k", root, {"train": "1-2", "val": "601-602", "test": "701"})
    assert ds.videos() == ["001", "002", "601", "602", "701"]
    for vid in ds.videos():
        info = probe_video(ds.video_path(vid))
        assert (info.width, info.height, info.codec) == (*SIZE, "mjpeg")
        assert info.fps == pytest.approx(30.0, rel=float_bound(np.float64, 1.0, 1, 1))  # num / den, one division
        cap = cv2.VideoCapture(str(ds.video_path(vid)))
        n_cv = 0
        while cap.read()[0]:
            n_cv += 1
        cap.release()
        assert info.frames == n_cv == FRAMES
        if vid != "701":
            assert len(ds.fixation_files(vid)) == len(ds.shipped_map_files(vid)) == info.frames
        else:
            assert not ds.has_annotations(vid)


def test_exactly_one_empty_frame(small_demo):
    root, _ = small_demo
    empty = [(folder, t + 1) for folder in ANNOTATED for t, fix in enumerate(fixation_pngs(root, folder)) if not fix.any()]
    assert empty == [("0601", FRAMES // 2 + 1)]


def test_maps_round_trip(small_demo):
    """maps/*.png == round(255 * saliency_map(fixation png)) with the dhf1k preset: sigma 12.7398, no truncation."""
    root, _ = small_demo
    for folder in ANNOTATED:
        for fix, smap in zip(fixation_pngs(root, folder), map_pngs(root, folder)):
            built = gtlib.saliency_map(fix > 0, 12.7398, None, border="constant", shift=0)
            expected = np.floor(255.0 * built.astype(np.float64) + 0.5).astype(np.uint8)
            np.testing.assert_array_equal(smap, expected)


def test_deterministic_by_seed(small_demo, tmp_path):
    """Same seed, same files byte for byte -- claimed on one machine (both runs here): the maps
    go through float64 Gaussian sums whose last bits may differ elsewhere."""
    root, _ = small_demo
    small = dict(train=1, val=1, test=0, frames=FRAMES, size=SIZE)
    again = tmp_path / "again"
    demo.write_demo(again, demo.DemoSpec(seed=0, **small), progress=False)
    for folder in ("0001", "0601"):
        for a, b in zip(fixation_pngs(root, folder), fixation_pngs(again, folder)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(map_pngs(root, folder), map_pngs(again, folder)):
            np.testing.assert_array_equal(a, b)
    assert (root / "video" / "001.AVI").read_bytes() == (again / "video" / "001.AVI").read_bytes()
    trails = sorted((root / "gaze_record").rglob("*_Trail0001.txt"))
    assert trails and [p.read_bytes() for p in trails] == [
        (again / p.relative_to(root)).read_bytes() for p in trails]
    other = tmp_path / "other"
    demo.write_demo(other, demo.DemoSpec(seed=1, **small), progress=False)
    assert any((a != b).any() for a, b in zip(fixation_pngs(root, "0001"), fixation_pngs(other, "0001")))
    assert (root / "video" / "001.AVI").read_bytes() != (other / "video" / "001.AVI").read_bytes()


def test_no_gaze_gives_the_same_maps(small_demo, tmp_path):
    root, _ = small_demo
    out = tmp_path / "nogaze"
    manifest = demo.write_demo(out, demo.DemoSpec(seed=0, train=1, val=0, test=0, frames=FRAMES, size=SIZE, gaze=False),
                               progress=False)
    assert not (out / "gaze_record").exists() and manifest["gaze"] is False
    assert manifest["empty_frames"] == []  # no val video: no designated empty frame
    for a, b in zip(fixation_pngs(root, "0001"), fixation_pngs(out, "0001")):
        np.testing.assert_array_equal(a, b)


def test_rewrite_replaces_an_earlier_demo(tmp_path):
    out = tmp_path / "d"
    demo.write_demo(out, demo.DemoSpec(seed=0, train=2, val=1, test=1, frames=4, size=(64, 36)), progress=False)
    assert (out / "video" / "002.AVI").exists() and (out / "annotation" / "0601").exists()
    (out / "demo.json").unlink()  # as Snakemake removes outputs before a rerun
    # what a killed run leaves behind: hidden temporary files and a half-built annotation folder
    leftovers = [out / "video" / ".003.999.tmp.AVI", out / "gaze_record" / "P001" / ".P001_Trail0003.txt.999.tmp",
                 out / ".demo.json.999.tmp"]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    (out / "annotation" / ".0003.9f2c.tmp" / "maps").mkdir(parents=True)  # atomic_output's folder name
    demo.write_demo(out, demo.DemoSpec(seed=5, train=1, val=0, test=0, frames=4, size=(64, 36)), progress=False)
    assert sorted(p.name for p in (out / "video").iterdir()) == ["001.AVI"]
    assert sorted(p.name for p in (out / "annotation").iterdir()) == ["0001"]
    trails = sorted(p.name for p in (out / "gaze_record").rglob("*.txt"))
    assert trails and all(name.endswith("_Trail0001.txt") for name in trails)
    assert [p.name for p in out.rglob(".*")] == [demo.MARKER]


def test_refuses_to_overwrite_a_foreign_dataset(tmp_path):
    (tmp_path / "video").mkdir()
    (tmp_path / "video" / "001.AVI").write_bytes(b"real data")
    with pytest.raises(SalprepError, match="did not write"):
        demo.write_demo(tmp_path, demo.DemoSpec(train=1, val=0, test=0, frames=4, size=(64, 36)), progress=False)
    assert (tmp_path / "video" / "001.AVI").read_bytes() == b"real data"


# --------------------------------------------------------------------------------------------
# the generator: learnable content
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def videos():
    return [demo.make_video(seed, n, frames=40, size=(320, 180)) for seed in (0, 1) for n in (1, 2, 3)]


def test_every_frame_has_fixations_and_12_to_17_observers(videos):
    for v in videos:
        assert 12 <= len(v.gaze) <= 17
        assert all(len(v.fixation_points(t)) for t in range(v.frames))
    v = demo.make_video(0, 601, frames=20, size=(160, 90), empty_frame=7)
    assert [t for t in range(20) if len(v.fixation_points(t)) == 0] == [7]


def test_gaze_samples_fall_strictly_inside_their_frames(videos):
    for v in videos[:2]:
        for g in v.gaze:
            assert g.event[0] == "M" and g.frame[0] == -1
            ft = 30.0 * (g.time_us[1:] - g.time_us[0]) / 1e6
            k = g.frame[1:]
            assert np.all((ft > k + 0.1) & (ft < k + 0.9))
            assert set(g.event[1:].tolist()) <= {"F", "S", "B"}
        events = np.concatenate([g.event for g in v.gaze])
        assert (events == "S").sum() > 0


def test_fixations_mostly_on_moving_objects(videos):
    on = total = 0
    coverage = []
    fastest_wins = 0
    for v in videos:
        counts = np.zeros(len(v.objects))
        for t in range(v.frames):
            labels = v.object_labels(t)
            coverage.append((labels > 0).mean())
            p = v.fixation_points(t).astype(int)
            hit = labels[p[:, 1], p[:, 0]]
            on += int((hit > 0).sum())
            total += len(p)
            counts += np.bincount(hit, minlength=len(v.objects) + 1)[1:]
        speeds = [o.speed.mean() for o in v.objects]
        fastest_wins += counts[int(np.argmax(speeds))] > counts[int(np.argmin(speeds))]
    assert np.mean(coverage) < 0.2
    assert on / total > 0.5
    assert fastest_wins >= len(videos) - 1  # the fastest object draws more gaze than the slowest


def _nss(smap, points):
    s = (smap - smap.mean()) / smap.std()
    return float(s[points[:, 1], points[:, 0]].mean())


def test_motion_beats_centre_bias_which_beats_chance(videos):
    rng = np.random.default_rng(0)
    nss_centre, nss_motion, nss_random = [], [], []
    for v in videos:
        h, w = v.shape
        yy, xx = np.mgrid[0:h, 0:w]
        centre = np.exp(-0.5 * (((xx - w / 2) / (0.25 * w)) ** 2 + ((yy - h / 2) / (0.25 * h)) ** 2))
        prev = v.frame(0).astype(np.float32)
        for t in range(1, v.frames):
            cur = v.frame(t).astype(np.float32)
            motion = cv2.GaussianBlur(np.abs(cur - prev).sum(axis=2), (0, 0), 0.03 * w)
            prev = cur
            p = v.fixation_points(t).astype(int)
            nss_centre.append(_nss(centre, p))
            nss_motion.append(_nss(motion, p))
            nss_random.append(_nss(rng.random((h, w)), p))
    assert abs(np.mean(nss_random)) < 0.2
    assert np.mean(nss_centre) > 0.3  # centre bias is better than chance
    assert np.mean(nss_motion) > np.mean(nss_centre) + 1.0  # and motion is much better


def test_gaze_text_round_trips_through_the_reader(videos):
    from salprep.datasets import dhf1k_gaze as gz

    v = videos[0]
    records = [gz.parse_gaze_text(g.text()) for g in v.gaze]
    points, dropped = gz.map_records(records, v.frames, v.shape)
    for t in range(v.frames):
        np.testing.assert_array_equal(points[t].astype(float), v.fixation_points(t))
    np.testing.assert_array_equal(dropped, v.dropped)


def test_frames_render_deterministically():
    a = demo.make_video(7, 3, frames=5, size=(96, 54))
    b = demo.make_video(7, 3, frames=5, size=(96, 54))
    c = demo.make_video(8, 3, frames=5, size=(96, 54))
    for t in range(5):
        fa = a.frame(t)
        assert fa.shape == (54, 96, 3) and fa.dtype == np.uint8
        np.testing.assert_array_equal(fa, b.frame(t))
    assert any((a.frame(t) != c.frame(t)).any() for t in range(5))
    assert (a.frame(0) != a.frame(4)).any()  # things move


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def test_cli_writes_the_dataset(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["demo-data", "--out", str(out), "--seed", "2", "--train", "1", "--val", "1", "--test", "1",
                 "--frames", "6", "--size", "96x54"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and "3 videos" in lines[0] and "96x54" in lines[0]
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["seed"] == 2 and manifest["frames"] == 6
    assert probe_video(out / "video" / "701.AVI").frames == 6
    assert len(list((out / "annotation" / "0601" / "maps").iterdir())) == 6


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo-data", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--seed", "--train", "--val", "--test", "--frames", "--size", "--no-gaze"):
        assert option in text


@pytest.mark.parametrize("args, fragment", [
    (["--size", "100x100"], "width/height must be at least 1.6"),
    (["--size", "big"], "--size must look like 640x360"),
    (["--size", "161x90"], "even"),
    (["--frames", "1"], "--frames must be at least 2"),
    (["--val", "101"], "--val must be between 0 and 100"),
])
def test_cli_bad_arguments(tmp_path, capsys, args, fragment):
    code = main(["demo-data", "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("salprep: error: ") and fragment in lines[0], err
    assert not (tmp_path / "x").exists()
