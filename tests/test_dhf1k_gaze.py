"""DHF1K raw gaze -> fixation points, as record_mapping.m does it (DATASETS.md §1)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tolerance import float_bound

from salprep import demo
from salprep.datasets import dhf1k_gaze as gz
from salprep.errors import SalprepError

# 720x360: a = 720/1440 = 0.5 (exact), b = (900 - 360/0.5)/2 = 90
W, H = 720, 360
T0 = 5_000_000_000  # first row, µs


def write_record(root, observer, video, rows, header="time_us x_screen y_screen event"):
    path = gz.gaze_file(root, observer, video)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{T0 + t}\t{x}\t{y}\t{e}" for t, x, y, e in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def screen(x1, y1):
    """Screen coordinates that map exactly to the 1-based pixel (x1, y1) at 720x360."""
    return x1 / 0.5, y1 / 0.5 + 90


def pts(arr):
    return sorted(map(tuple, np.asarray(arr).tolist()))


def test_screen_mapping_constants():
    # a = 640 / 1440 is the same division; b = (900 - 360 / a) / 2: three roundings on values
    # <= 900, relative to b = 45
    assert gz.screen_mapping((360, 640)) == pytest.approx((640 / 1440, 45.0), rel=float_bound(np.float64, 900 / 45, 1, 3))
    assert gz.screen_mapping((H, W)) == (0.5, 90.0)


def test_frame_windows_are_strict_and_relative_to_first_row(tmp_path):
    x, y = screen(100, 50)
    rows = [
        (0, 0, 0, "Message"),  # t = 0: first row, belongs to no frame
        (0, x, y, "Fixation"),  # same time as the first row: 30 t = 0, no frame
        (1, x + 2, y, "Fixation"),  # frame 1
        (33333, x + 4, y, "Fixation"),  # 30 t = 0.99999 -> frame 1
        (33334, x + 6, y, "Fixation"),  # 1.00002 -> frame 2
        (100000, x + 8, y, "Fixation"),  # 30 t = 3 exactly: between frames 3 and 4, no frame
        (99999, x + 10, y, "Fixation"),  # frame 3
        (100001, x + 12, y, "Fixation"),  # frame 4
        (200000, x + 14, y, "Fixation"),  # 30 t = 6: no frame
        (250000, x + 16, y, "Fixation"),  # frame 8 > n_frames = 5: ignored
    ]
    rec = gz.read_gaze_record(write_record(tmp_path, 1, 1, rows))
    m = gz.map_record(rec, 5, (H, W))
    x0, y0 = 99, 49
    assert pts(m.points[0]) == [(x0 + 1, y0), (x0 + 2, y0)]
    assert pts(m.points[1]) == [(x0 + 3, y0)]
    assert pts(m.points[2]) == [(x0 + 5, y0)]
    assert pts(m.points[3]) == [(x0 + 6, y0)]
    assert len(m.points[4]) == 0
    assert m.n_dropped == 0


def test_rounding_half_away_from_zero_and_one_based_to_zero_based(tmp_path):
    rows = [
        (0, 0, 0, "Message"),
        (1000, 5, 95, "Fixation"),  # a*xs = 2.5 -> 3, a*(ys-b) = 2.5 -> 3: 0-based (2, 2); numpy would give 2
        (2000, 7, 97.2, "Fixation"),  # 3.5 -> 4, 3.6 -> 4: (3, 3)
        (3000, 8.98, 96.98, "Fixation"),  # 4.49 -> 4, 3.49 -> 3: (3, 2)
    ]
    m = gz.map_record(gz.read_gaze_record(write_record(tmp_path, 1, 1, rows)), 1, (H, W))
    assert pts(m.points[0]) == [(2, 2), (3, 2), (3, 3)]


def test_out_of_frame_points_dropped_and_counted(tmp_path):
    rows = [
        (0, 0, 0, "Message"),
        (1000, 700, 50, "Fixation"),  # upper letterbox: y = 0.5*(50-90) = -20
        (2000, 700, 880, "Fixation"),  # lower letterbox: y = 395 >= 360
        (3000, 1440, 300, "Fixation"),  # x = 720 = W: the last column is dropped (0 < x < W)
        (4000, 1439, 300, "Fixation"),  # x = 719.5 -> 720: dropped
        (5000, 1438, 300, "Fixation"),  # x = 719: kept -> 0-based 718
        (6000, 0.9, 300, "Fixation"),  # x = 0.45 -> 0: dropped
        (7000, 1, 300, "Fixation"),  # x = 0.5 -> 1: kept -> 0
        (8000, 700, 810, "Fixation"),  # y = 360 = H: dropped
        (9000, 700, 808, "Fixation"),  # y = 359: kept -> 358
        (10000, 700, 50, "Saccade"),  # not a fixation: neither kept nor counted
        (40000, 700, 50, "Fixation"),  # frame 2: counted there
        (900000, 700, 50, "Fixation"),  # frame 28 > n_frames: not counted
    ]
    m = gz.map_record(gz.read_gaze_record(write_record(tmp_path, 1, 1, rows)), 2, (H, W))
    assert pts(m.points[0]) == [(0, 104), (349, 358), (718, 104)]
    assert m.dropped.tolist() == [6, 1]
    assert m.n_dropped == 7


def test_only_rows_whose_event_starts_with_F(tmp_path):
    x, y = screen(10, 10)
    rows = [
        (0, x, y, "Fixation"),  # first row: t = 0, in no frame
        (1000, x, y, "F"),
        (2000, x + 2, y, "Saccade"),
        (3000, x + 4, y, "Blink"),
        (4000, x + 6, y, "fixation"),  # case-sensitive, as event == 'F' in MATLAB
        (5000, x + 8, y, "FIX"),
        (6000, x + 10, y, "-"),
    ]
    rec = gz.read_gaze_record(write_record(tmp_path, 1, 1, rows))
    assert rec.is_fixation.tolist() == [True, True, False, False, False, True, False]
    m = gz.map_record(rec, 1, (H, W))
    assert pts(m.points[0]) == [(9, 9), (13, 9)]


def test_cartesian_quirk_is_per_observer_and_frame(tmp_path):
    (xa, ya), (xb, yb) = screen(10, 20), screen(30, 40)
    write_record(tmp_path, 1, 7, [(0, 0, 0, "M"), (1000, xa, ya, "F"), (2000, xb, yb, "F")])
    write_record(tmp_path, 2, 7, [(0, 0, 0, "M"), (1000, *screen(50, 60), "F")])
    write_record(tmp_path, 3, 7, [(0, 0, 0, "M"), (40000, *screen(70, 80), "F")])  # frame 2
    pair = gz.read_video_gaze(tmp_path, 7, 2, (H, W))
    cart = gz.read_video_gaze(tmp_path, "007", 2, (H, W), cartesian=True)
    assert pts(pair.points[0]) == [(9, 19), (29, 39), (49, 59)]
    # observer 1's two samples also set (x_a, y_b) and (x_b, y_a); observer 2 adds no cross terms
    assert pts(cart.points[0]) == [(9, 19), (9, 39), (29, 19), (29, 39), (49, 59)]
    assert pts(pair.points[1]) == pts(cart.points[1]) == [(69, 79)]
    fmap = pair.fixation_maps()
    assert fmap.shape == (2, H, W) and fmap[0].sum() == 3 and fmap[0, 19, 9]


def test_union_over_observers_is_unique(tmp_path):
    for obs in (1, 2, 3):
        write_record(tmp_path, obs, 1, [(0, 0, 0, "M"), (1000, *screen(10, 10), "F"), (2000, *screen(10, 10), "F")])
    g = gz.read_video_gaze(tmp_path, 1, 1, (H, W))
    assert g.observers == [1, 2, 3]
    assert pts(g.points[0]) == [(9, 9)]


def test_dataset_root_or_gaze_folder(tmp_path):
    write_record(tmp_path / "gaze_record", 4, 12, [(0, 0, 0, "M"), (1000, *screen(10, 10), "F")])
    for root in (tmp_path, tmp_path / "gaze_record"):
        g = gz.read_video_gaze(root, 12, 1, (H, W))
        assert g.observers == [4] and g.files[0].name == "P004_Trail0012.txt"


def test_missing_files_raise_naming_the_file(tmp_path):
    with pytest.raises(SalprepError, match="P001_Trail0001.txt"):
        gz.read_gaze_record(gz.gaze_file(tmp_path, 1, 1))
    with pytest.raises(SalprepError, match="gaze record folder not found"):
        gz.read_video_gaze(tmp_path / "nowhere", 1, 5, (H, W))
    (tmp_path / "gaze_record").mkdir()
    write_record(tmp_path, 1, 1, [(0, 0, 0, "M")])
    (tmp_path / "gaze_record" / "P002").mkdir()
    # discovered observers: P002 has no file for video 1 and is skipped (record_mapping.m's exist())
    assert gz.read_video_gaze(tmp_path, 1, 5, (H, W)).observers == [1]
    # asked for explicitly: an error naming the file
    with pytest.raises(SalprepError, match=r"P002[/\\]P002_Trail0001\.txt: gaze record file not found"):
        gz.read_video_gaze(tmp_path, 1, 5, (H, W), observers=[1, 2])
    with pytest.raises(SalprepError, match="no observer has a gaze record for video 9"):
        gz.read_video_gaze(tmp_path, 9, 5, (H, W))


def test_malformed_rows_and_empty_files(tmp_path):
    path = write_record(tmp_path, 1, 1, [(0, 1, 2, "M")])
    path.write_text(path.read_text() + "123 4.0 Fixation\n")
    with pytest.raises(SalprepError, match="line 3"):
        gz.read_gaze_record(path)
    path.write_text("time x y event\n1 abc 3 F\n")
    with pytest.raises(SalprepError, match="line 2: non-numeric"):
        gz.read_gaze_record(path)
    path.write_text("time x y event\n\n")
    rec = gz.read_gaze_record(path)
    assert len(rec) == 0
    m = gz.map_record(rec, 3, (H, W))
    assert [len(p) for p in m.points] == [0, 0, 0] and m.n_dropped == 0


def test_demo_gaze_records_reproduce_the_fixation_pngs(tmp_path):
    root = tmp_path / "demo"
    demo.write_demo(root, demo.DemoSpec(seed=3, train=1, val=1, test=0, frames=12, size=(160, 90)), progress=False)
    total_dropped = 0
    differs = False
    for number in (1, 601):
        g = gz.read_video_gaze(root, number, 12, (90, 160))
        cart = gz.read_video_gaze(root, number, 12, (90, 160), cartesian=True)
        assert 12 <= len(g.observers) <= 17
        total_dropped += g.n_dropped
        for t in range(12):
            png = np.asarray(Image.open(root / "annotation" / f"{number:04d}" / "fixation" / f"{t + 1:04d}.png"))
            np.testing.assert_array_equal(g.fixation_map(t), png > 0)
            assert set(pts(g.points[t])) <= set(pts(cart.points[t]))
            differs |= len(cart.points[t]) > len(g.points[t])
    assert total_dropped > 0  # the demo records letterbox fixations
    assert differs  # two samples per frame and observer: the quirk shows
