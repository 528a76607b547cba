"""The HTML report's figures: `salprep visualise` of flow / depth shards, and the labels of
results (`snakemake --report` on the tiny demo DAG is tested in test_workflow.py, which shares
its build)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tolerance import float_bound

from salprep.cli import main
from salprep.report import result_labels
from salprep.store import write_shard
from salprep.visualise import (DPI, FOOT_PX, GAP_PX, PANEL_PX, TITLE_PX, figure_size, flow_images, panel_height,
                               pick_entries, render_shard)

H, W = 30, 40  # the synthetic shards' frame size


def _shard(path: Path, stage: str, n_frames: int, frame_index, **datasets) -> Path:
    attrs = datasets.pop("attrs", {})
    with write_shard(path, stage=stage, dataset="synthetic", video="007", n_frames=n_frames, source_sha256="0" * 64,
                     params={}, weights="none") as shard:
        shard.put("frame_index", np.asarray(frame_index, dtype=np.int32))
        for name, data in datasets.items():
            shard.create_frames(name, data.shape, data.dtype)[...] = data
        for key, value in attrs.items():
            shard.attrs[key] = value
    return path


def _panel_centre(img: np.ndarray, k: int, h: int = H, w: int = W) -> np.ndarray:
    """RGB at the centre of panel k of a figure (the layout is exact: see salprep.visualise)."""
    ph = panel_height(h, w)
    x = k * PANEL_PX + (PANEL_PX - GAP_PX) // 2
    y = img.shape[0] - FOOT_PX - ph // 2
    return img[y, x, :3]


def test_rightward_flow_is_red_on_every_panel(tmp_path):
    """flow_spynet stores float16 pixels: pure rightward flow is one hue (the wheel's red) on every
    panel, and the PNG has the layout's size."""
    flow = np.zeros((5, 2, H, W), np.float16)
    flow[:, 0] = 3.0  # dx = 3 px, dy = 0
    path = _shard(tmp_path / "flow_spynet" / "007.h5", "flow_spynet", 50, [0, 11, 22, 33, 44], flow=flow)
    fig = render_shard(path, tmp_path / "fig.png", frames=3)
    assert fig.stage == "flow_spynet" and fig.video == "007"
    assert fig.frames == [0, 22, 44]  # first, middle and last entry
    assert fig.scale == 3.0  # 3 is exact in float16, and hypot(3, 0) = 3
    img = np.asarray(Image.open(tmp_path / "fig.png").convert("RGB"))
    assert (img.shape[1], img.shape[0]) == fig.size == figure_size(3, H, W)
    assert fig.size == (3 * PANEL_PX + figure_size(0, H, W)[0], TITLE_PX + round((PANEL_PX - GAP_PX) * H / W) + FOOT_PX)
    for k in range(3):
        assert _panel_centre(img, k).tolist() == [255, 0, 0]
    # every pixel of a panel is that red (one hue, fully saturated)
    ph = panel_height(H, W)
    panel = img[img.shape[0] - FOOT_PX - ph + 2: img.shape[0] - FOOT_PX - 2, 2: PANEL_PX - GAP_PX - 2]
    assert (panel == [255, 0, 0]).all()


def test_tvl1_codes_are_decoded_to_pixels_and_directions_get_their_hues(tmp_path):
    """flow_tvl1 stores int8 codes (pixels = code x flow_scale x bound): left, down and up flow."""
    codes = np.zeros((3, 2, H, W), np.int8)
    codes[0, 0] = -127  # left, full bound
    codes[1, 1] = 64  # down
    codes[2, 1] = -64  # up
    path = _shard(tmp_path / "007.h5", "flow_tvl1", 4, [0, 1, 2], flow=codes,
                  attrs={"flow_scale": 1 / 127, "bound": 2.0})
    fig = render_shard(path, tmp_path / "tvl1.png", frames=10)  # more than stored: every entry
    # -127 x (1 / 127) x 2: the scale and the product rounded, then the magnitude (float32 at most)
    assert fig.frames == [0, 1, 2] and fig.scale == pytest.approx(2.0, rel=float_bound(np.float32, 1.0, 1, 3))
    img = np.asarray(Image.open(tmp_path / "tvl1.png").convert("RGB"))
    assert (img.shape[1], img.shape[0]) == figure_size(3, H, W)
    assert _panel_centre(img, 0).tolist() == [0, 209, 255]  # left: cyan-blue, saturated
    # down / up at about half the largest vector: the hue's colour half-way to white
    down, up = _panel_centre(img, 1).tolist(), _panel_centre(img, 2).tolist()
    assert down[0] == 255 and down[2] < 140 and down[1] > down[2]  # yellow, lightened
    assert up[2] == 255 and up[1] < up[0] < 255  # violet, lightened
    images, scale = flow_images(np.zeros((1, 2, 4, 4), np.float32))
    assert scale == 0 and (images == 255).all()  # no motion is white


def test_depth_grid_uses_one_colour_scale_and_a_colour_bar(tmp_path):
    import matplotlib

    disparity = np.full((2, H, W), 0.2, np.float16)
    disparity[:, :, W // 2:] = 0.8
    disparity[1] = 0.5
    path = _shard(tmp_path / "depth" / "007.h5", "depth", 20, [0, 10], disparity=disparity)
    fig = render_shard(path, tmp_path / "depth.png")
    assert fig.stage == "depth" and fig.frames == [0, 10]
    # 0.2 and 0.8 stored as float16 (each off by <= eps16 / 2 relative, values <= 1)
    f16 = float(np.finfo(np.float16).eps)
    assert (fig.low, fig.scale) == (pytest.approx(0.2, abs=f16), pytest.approx(0.8, abs=f16))
    img = np.asarray(Image.open(tmp_path / "depth.png").convert("RGB"))
    assert (img.shape[1], img.shape[0]) == figure_size(2, H, W)
    magma = matplotlib.colormaps["magma"]
    rgb = lambda v: np.round(np.asarray(magma(v)[:3]) * 255)  # noqa: E731
    ph, y = panel_height(H, W), img.shape[0] - FOOT_PX - panel_height(H, W) // 2
    assert np.abs(img[y, PANEL_PX // 8, :3] - rgb(0.0)).max() <= 1  # 0.2 = the bar's bottom
    assert np.abs(img[y, (PANEL_PX - GAP_PX) * 7 // 8, :3] - rgb(1.0)).max() <= 1  # 0.8 = its top
    assert np.abs(_panel_centre(img, 1) - rgb(0.5)).max() <= 2  # frame 11, same scale
    # the colour bar in the key column shows the colour map (dark at the bottom, light on top)
    bar = img[img.shape[0] - FOOT_PX - ph: img.shape[0] - FOOT_PX, 2 * PANEL_PX:2 * PANEL_PX + 40, :3].astype(int)
    assert bar.sum(axis=2).max() > 600 and bar.sum(axis=2).min() < 60
    assert ph == panel_height(H, W) and DPI == 100


def test_pick_entries_spreads_first_to_last():
    assert pick_entries(10, 4) == [0, 3, 6, 9]
    assert pick_entries(2, 4) == [0, 1]
    assert pick_entries(5, 1) == [0]
    assert pick_entries(0, 3) == []


def test_visualise_command_writes_the_png(tmp_path, capsys):
    flow = np.ones((2, 2, H, W), np.float16)
    path = _shard(tmp_path / "001.h5", "flow_spynet", 12, [0, 11], flow=flow)
    assert main(["visualise", str(path), "--out", str(tmp_path / "out" / "f.png"), "--frames", "2"]) == 0
    assert Image.open(tmp_path / "out" / "f.png").size == figure_size(2, H, W)
    assert "frames 1, 12" in capsys.readouterr().out


def test_visualise_refuses_a_shard_of_another_stage_in_one_line(tmp_path, capsys):
    gt = _shard(tmp_path / "gt" / "001.h5", "gt", 2, [0, 1], maps=np.zeros((2, H, W), np.uint16))
    out = tmp_path / "gt.png"
    assert main(["visualise", str(gt), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"salprep: error: {gt}: expected a flow_tvl1, flow_spynet or depth shard, "
                   "found salprep_type='gt'\n")
    assert not out.exists() and not list(tmp_path.glob(".*"))
    assert main(["visualise", str(tmp_path / "missing.h5"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"salprep: error: {tmp_path / 'missing.h5'}: shard not found\n"
    with pytest.raises(SystemExit):  # argparse: --frames must be >= 1
        main(["visualise", str(gt), "--out", str(out), "--frames", "0"])


def test_result_labels_show_the_report_splits_metrics(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"val": {"auc_judd": 0.91234, "auc_shuffled": 0.6, "nss": 1.5, "cc": 0.25, "sim": None, "kld": 2.0,
                 "n_frames": 24}}))
    assert result_labels(tmp_path, "metrics", None, "val") == {
        "result": "metrics (val)", "AUC-J": "0.912", "sAUC": "0.600", "NSS": "1.500", "CC": "0.250", "SIM": "–",
        "KLD": "2.000", "frames": "24"}
    assert result_labels(tmp_path, "overlays", "val") == {"result": "overlays (val)"}
    assert result_labels(tmp_path, "loss") == {"result": "training loss"}
    assert result_labels(tmp_path / "nowhere", "metrics")["NSS"] == "–"
