"""The HTML report: `salprep visualise` figures of flow / depth shards, and `snakemake --report`
on the tiny demo DAG (models' metrics, overlays, the figures, the workflow description)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tolerance import float_bound

from salprep.cli import main
from salprep.store import write_shard
from salprep.visualise import (DPI, FOOT_PX, GAP_PX, PANEL_PX, TITLE_PX, figure_size, flow_images, panel_height,
                               pick_entries, render_shard, result_labels)
from conftest import TINY_DEMO_GROUP, copy_build
from test_workflow import TINY, planned_jobs, snakemake

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


# --- snakemake --report on the tiny demo DAG -------------------------------------------------

REPORT_FIGURES = ("601_flow_tvl1.png", "601_flow_spynet.png", "601_depth.png")


pytestmark = pytest.mark.xdist_group(TINY_DEMO_GROUP)


@pytest.fixture(scope="module")
def report_run(tiny_demo_build, tmp_path_factory):
    """The tiny demo DAG for results/center_bias and the figures, then `snakemake --report` (on a
    copy of the session's build, which holds every shard the figures read)."""
    base = tmp_path_factory.mktemp("report")
    (base / "tiny.yaml").write_text(TINY)
    plan = planned_jobs(base / "fresh", "results/center_bias", "figures")
    # the figures need only the first val video's flow and depth shards, no I3D
    assert {k: plan.get(k) for k in ("flow_tvl1", "flow_spynet", "depth", "visualise", "figures", "evaluate")} == {
        "flow_tvl1": 1, "flow_spynet": 1, "depth": 1, "visualise": 3, "figures": 1, "evaluate": 1}
    assert "i3d_rgb" not in plan and "i3d_flow" not in plan and "frames" not in plan
    workdir = copy_build(tiny_demo_build, base / "built")
    assert planned_jobs(workdir, "results/center_bias", "figures") == {"visualise": 3, "figures": 1}
    proc = snakemake(workdir, "results/center_bias", "figures")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = snakemake(workdir, "--report", "report.html", "results/center_bias", "figures")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


def _embedded(html: str, name: str) -> dict:
    """A table the report embeds as one line of JSON: ``results`` (path -> name, labels, caption,
    mime type, data URI) or ``categories`` (category -> subcategory -> paths)."""
    match = re.search(rf"^\s*var {name} = (\{{.*\}});$", html, re.M)
    assert match, f"no {name} table in the report"
    return json.loads(match.group(1))


def test_report_html_has_the_models_metrics_overlays_and_the_figures(report_run):
    report = report_run / "report.html"
    assert report.stat().st_size > 100_000
    html = report.read_text()
    results = _embedded(html, "results")
    by_name = {entry["name"]: (path, entry) for path, entry in results.items()}
    # the model: metrics.json with its val scores as labels, overlays, score histograms, prior, CSV
    metrics = json.loads((report_run / "results" / "center_bias" / "metrics.json").read_text())["val"]
    path, entry = by_name["metrics.json"]
    assert path == "results/center_bias/metrics.json"
    assert entry["labels"]["result"] == "metrics (val)"
    assert entry["labels"]["NSS"] == f"{metrics['nss']:.3f}" and entry["labels"]["CC"] == f"{metrics['cc']:.3f}"
    assert entry["labels"]["frames"] == "24"
    assert "DHF1K protocol" in entry["caption"] and "center_bias" in entry["caption"]
    for name in ("overlays_val.png", "scores_val.png", "prior.png"):
        path, entry = by_name[name]
        assert path == f"results/center_bias/{name}" and entry["mime_type"] == "image/png"
        assert entry["data_uri"].startswith("data:image/png")  # self-contained
    assert "fixations" in by_name["overlays_val.png"][1]["caption"]
    assert by_name["per_video.csv"][1]["labels"] == {"result": "per-video scores (CSV)"}
    # the flow and depth figures of the first val video
    for name in REPORT_FIGURES:
        path, entry = by_name[name]
        assert path == f"results/figures/{name}" and entry["data_uri"].startswith("data:image/png")
        assert entry["labels"] == {"stage": name[4:-4], "video": "601"}
    assert "colour wheel" in by_name["601_flow_tvl1.png"][1]["caption"]
    assert "monodepth2 disparity" in by_name["601_depth.png"][1]["caption"]
    # categories: Models / center_bias, Flow and depth; and the workflow description
    categories = _embedded(html, "categories")
    assert sorted(categories["Models"]["center_bias"]) == sorted(
        f"results/center_bias/{n}" for n in ("metrics.json", "provenance.json", "per_video.csv", "prior.png",
                                             "scores_val.png", "overlays_val.png"))
    assert sorted(p for sub in categories["Flow and depth"].values() for p in sub) == sorted(
        f"results/figures/{n}" for n in REPORT_FIGURES)
    assert "preprocesses an eye-tracking video dataset" in html
    # nothing reruns: the report markers change no job
    assert planned_jobs(report_run, "results/center_bias", "figures") == {}


def test_figures_are_part_of_all_but_not_of_the_make_demo_targets(report_run):
    assert "visualise" not in planned_jobs(report_run, "results/center_bias", "results/lsts_flow")
    assert planned_jobs(report_run, "figures") == {}
    fresh = report_run.parent / "fresh"
    plan = planned_jobs(fresh, "all")
    assert plan["visualise"] == 3 and plan["all"] == 1  # `all` takes the figures rule's files


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="headless Chromium not installed (Debian package `chromium`); the report is "
                           "drawn by JavaScript, so only a browser shows what a reader sees")
def test_report_renders_in_headless_chromium(report_run, tmp_path):
    """The report's JavaScript runs and draws the model's listing: its metrics as a table row."""
    html = (report_run / "report.html").read_text()
    head, body_end, tail = html.rpartition("</body>")  # (the embedded libraries hold "</body>" too)
    script = "<script>setTimeout(function(){app.showCategory('Models');}, 300);</script>"
    page = tmp_path / "models.html"
    page.write_text(head + script + body_end + tail)
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    metrics = json.loads((report_run / "results" / "center_bias" / "metrics.json").read_text())["val"]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", dom.stdout.split("metrics (val)</td>", 1)[1])[:7]
    assert cells == [f"{metrics[m]:.3f}" for m in ("auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld")] + ["24"]
    shot = tmp_path / "models.png"
    proc = subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (1000, 1400)
    assert img[200:800, 20:400].mean() < 140 and img.std() > 20  # the dark listing panel: not a blank page
