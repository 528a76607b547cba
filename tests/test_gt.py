import math
import warnings

import h5py
import numpy as np
import pytest
from scipy import ndimage

from salprep import gt
from salprep.cli import main
from salprep.store import read_scaled
from tolerance import float_bound

# One float32 rounding of values in [0, 1] (float64 maps cast to float32)
F32_CAST = float_bound(np.float32, 1.0, 1, 1)


def test_fwhm_to_sigma_dhf1k_value():
    # DHF1K codes FWHM 1 degree as 30 px -> sigma = 30 / 2.35482 = 12.7398
    assert gt.fwhm_to_sigma(30) == pytest.approx(12.7398, abs=1e-4)  # 4-decimal constant: within one unit of its last digit
    # a few correctly rounded float64 operations (log, sqrt, products, the division), relative
    assert gt.fwhm_to_sigma(2 * math.sqrt(2 * math.log(2))) == pytest.approx(1.0, rel=float_bound(np.float64, 1.0, 1, 8))


def test_fixation_map_rounds_half_away_from_zero_and_dedups():
    fm = gt.fixation_map([[1.5, 0.49], [2.4, 2.5], [1.6, 0.2]], (4, 4))
    # (1.5, 0.49) -> x 2, y 0 ; (2.4, 2.5) -> x 2, y 3 ; (1.6, 0.2) -> x 2, y 0 again
    expected = np.zeros((4, 4), bool)
    expected[0, 2] = expected[3, 2] = True
    np.testing.assert_array_equal(fm, expected)
    assert fm.dtype == bool


def test_fixation_map_drops_and_counts_out_of_frame():
    with pytest.warns(gt.OutOfFrameWarning, match="2 of 4") as rec:
        fm = gt.fixation_map([[0, 0], [-1, 2], [3, 4], [3, 3]], (4, 4))  # (3,4): y=4 is row H
    assert rec[0].message.count == 2
    assert fm.sum() == 2


def test_fixation_map_in_frame_points_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gt.fixation_map(np.zeros((0, 2)), (3, 3))
        gt.fixation_map([[2.49, 2.49]], (3, 3))


def test_saliency_map_matches_whole_frame_gaussian():
    rng = np.random.default_rng(1)
    fix = np.zeros((60, 90), bool)
    fix[rng.integers(0, 60, 7), rng.integers(0, 90, 7)] = True
    out = gt.saliency_map(fix, 5.0)
    ref = ndimage.gaussian_filter(fix.astype(float), 5.0, mode="constant", truncate=40)
    ref /= ref.max()
    assert out.dtype == np.float32 and out.shape == fix.shape
    assert out.max() == 1.0  # divided by its own maximum: x / x is exactly 1
    # both sum the same float64 Gaussian samples (~1e-15 apart); out is then rounded to float32
    np.testing.assert_allclose(out, ref, atol=F32_CAST)


def test_saliency_map_truncation_and_borders():
    fix = np.zeros((41, 41), bool)
    fix[20, 20] = True
    out = gt.saliency_map(fix, 3.0, truncate=2.0)
    assert out[20, 26] > 0 and out[20, 27] == 0  # radius 6 px, square window
    assert out[26, 26] > 0
    edge = np.zeros((20, 20), bool)
    edge[0, 0] = True
    near = gt.saliency_map(edge, 3.0, truncate=4.0, border="nearest")
    const = gt.saliency_map(edge, 3.0, truncate=4.0, border="constant")
    assert not np.allclose(near, const)
    np.testing.assert_allclose(
        near, (lambda r: r / r.max())(ndimage.gaussian_filter(edge.astype(float), 3.0, mode="nearest")), atol=F32_CAST
    )


def test_saliency_map_count_map_weights_duplicates():
    counts = np.zeros((30, 30))
    counts[10, 10] = 3
    counts[10, 20] = 1
    out = gt.saliency_map(counts, 2.0)
    assert out[10, 10] == 1.0  # the maximum, divided by itself
    # (1 + 3 g) / (3 + g) with g = exp(-10^2 / (2 * 2^2)) the other point's tail: 1/3 to within
    # 3 g relative, then the float32 rounding
    tail = 3 * math.exp(-(10**2) / (2 * 2.0**2))
    assert out[10, 20] == pytest.approx(1 / 3, rel=tail + F32_CAST)


def test_saliency_map_shift_and_empty():
    fix = np.zeros((20, 20), bool)
    fix[5, 5] = True
    shifted = gt.saliency_map(fix, 2.0, shift=2)
    assert np.unravel_index(shifted.argmax(), shifted.shape) == (7, 7)
    assert not gt.saliency_map(np.zeros((5, 5), bool), 2.0).any()
    with pytest.raises(ValueError, match="2-D"):
        gt.saliency_map(np.zeros((2, 5, 5)), 2.0)


def test_gt_command_builds_shard_matching_library(tiny_dhf1k, tmp_path, capsys):
    root, points = tiny_dhf1k
    out = tmp_path / "store" / "tiny" / "gt" / "001.h5"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out), "--compare"]) == 0
    printed = capsys.readouterr().out
    assert "CC(built, published)" in printed
    with h5py.File(out, "r") as h5:
        assert h5.attrs["salprep_type"] == "gt"
        assert h5.attrs["n_frames"] == 6
        assert h5["maps"].chunks == (1, 48, 80)
        assert h5["maps"].compression == "gzip" and h5["maps"].dtype == np.uint16
        assert h5.attrs["shipped_cc_mean"] > 0.999
        # uint16 codes: half a step (MAP_SCALE / 2); the command's sigma fwhm_to_sigma(30) vs
        # 12.7398 here: d map / d ln(sigma) = map * d^2 / sigma^2 <= 2 / e; float32 roundings of
        # the map, of code * scale and of the code computation (values <= 1)
        d_ln_sigma = abs(gt.fwhm_to_sigma(30) - 12.7398) / 12.7398
        atol = gt.MAP_SCALE / 2 + 2 / math.e * d_ln_sigma + float_bound(np.float32, 1.0, 1, 3)
        for t, pts in enumerate(points["001"]):
            fix = gt.fixation_map(pts, (48, 80))
            np.testing.assert_array_equal(h5["fixations"][t].astype(bool), fix)
            np.testing.assert_allclose(read_scaled(h5["maps"], t), gt.saliency_map(fix, 12.7398), atol=atol)
        fp = h5["fixation_points"][...]
        assert fp.shape[1] == 3 and set(fp[:, 0]) == set(range(6))
        assert fp.shape[0] == sum(gt.fixation_map(p, (48, 80)).sum() for p in points["001"])


def test_gt_command_sigma_override_recorded(tiny_dhf1k, tmp_path):
    import json

    root, _ = tiny_dhf1k
    out = tmp_path / "g.h5"
    assert main(["gt", "--root", str(root), "--video", "601", "--out", str(out), "--fwhm", "80",
                 "--truncate", "2.944", "--no-shipped"]) == 0
    with h5py.File(out, "r") as h5:
        params = json.loads(h5.attrs["params"])
        assert params["sigma"] == pytest.approx(33.9729, abs=1e-4)  # 4-decimal constant: within one unit of its last digit
        assert params["truncate"] == 2.944  # the given float, through JSON unchanged
        assert "shipped_maps" not in h5


def test_gt_from_gaze_records_equals_png_and_warns(tmp_path, caplog):
    """The demo's raw gaze records give the same shard content as its fixation PNGs."""
    from salprep.demo import DemoSpec, write_demo

    root = tmp_path / "demo"
    write_demo(root, DemoSpec(seed=2, train=1, val=0, test=0, frames=12, size=(160, 90)), progress=False)
    png, gaze = tmp_path / "png.h5", tmp_path / "gaze.h5"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(png)]) == 0
    with caplog.at_level("WARNING"):
        assert main(["gt", "--root", str(root), "--video", "001", "--out", str(gaze), "--fixations", "gaze"]) == 0
    with h5py.File(png, "r") as a, h5py.File(gaze, "r") as b:
        np.testing.assert_array_equal(a["fixations"][...], b["fixations"][...])
        np.testing.assert_array_equal(a["maps"][...], b["maps"][...])
        dropped = int(b.attrs["dropped_out_of_frame"])
        assert a.attrs["source_sha256"] != b.attrs["source_sha256"]
    assert dropped > 0  # the demo puts some fixation samples in the letterbox
    assert f"{dropped} fixation samples outside the 160x90 frame dropped" in caplog.text
