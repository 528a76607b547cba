"""Pictures of stored shards for the HTML report: a few frames of a flow or depth shard as one
PNG grid (the labels the report shows beside each model's result files: :mod:`salprep.report`).

Flow (``flow_tvl1``, ``flow_spynet``) is drawn with torchvision's colour wheel
(:func:`torchvision.utils.flow_to_image`: hue = direction, saturation = magnitude, white = no
motion), every panel on one scale (the largest flow vector among the frames shown), with the wheel
itself as the key. Depth (``depth``) draws the monodepth2 disparity with a matplotlib colour map
and one shared colour bar. Shards are opened read-only (cached shards are symlinks into the shared cache).

Layout (exact, so a figure's size is known in advance): one panel per frame shown,
``PANEL_PX`` wide and as high as the stored frame's aspect ratio makes it, a ``KEY_PX`` column
for the key (colour wheel or colour bar), ``TITLE_PX`` above for the titles and ``FOOT_PX``
below, at ``DPI`` dots per inch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salprep.errors import SalprepError

#: stages :func:`render_shard` draws -> the dataset it reads
STAGES = {"flow_tvl1": "flow", "flow_spynet": "flow", "depth": "disparity"}
PANEL_PX = 240
GAP_PX = 6  # white space right of each panel (the image is PANEL_PX - GAP_PX wide)
KEY_PX = 120
TITLE_PX = 48
FOOT_PX = 8
DPI = 100
DEPTH_CMAP = "magma"  # monodepth2's own visualisations use magma


@dataclass
class Figure:
    """What :func:`render_shard` drew."""

    path: Path
    stage: str
    video: str
    frames: list[int]  # 0-based video frames shown (flow: the first frame of each pair)
    size: tuple[int, int]  # (width, height) in pixels
    scale: float  # flow: the magnitude drawn fully saturated (px); depth: the colour bar's top
    low: float = 0.0  # depth: the colour bar's bottom


def figure_size(n_panels: int, height: int, width: int) -> tuple[int, int]:
    """(width, height) in pixels of a grid of ``n_panels`` frames of ``height`` x ``width``."""
    return n_panels * PANEL_PX + KEY_PX, TITLE_PX + panel_height(height, width) + FOOT_PX


def panel_height(height: int, width: int) -> int:
    """Pixel height of a panel showing a ``height`` x ``width`` frame at its aspect ratio."""
    return max(1, int(round((PANEL_PX - GAP_PX) * height / width)))


def pick_entries(n_entries: int, n: int) -> list[int]:
    """``n`` entries spread evenly over ``0 .. n_entries-1`` (first and last included)."""
    if n_entries < 1:
        return []
    n = max(1, min(int(n), n_entries))
    return sorted({int(round(x)) for x in np.linspace(0, n_entries - 1, n)})


def flow_pixels(h5, entries: list[int]) -> np.ndarray:
    """The shard's flow at ``entries`` in pixels, (n, 2, H, W) float32 (channel 0 = dx, 1 = dy).

    ``flow_tvl1`` stores int8 codes: pixels = code x ``flow_scale`` x ``bound`` (attributes);
    ``flow_spynet`` stores float16 pixels.
    """
    raw = h5["flow"][entries]
    if raw.dtype == np.int8:
        try:
            factor = float(h5.attrs["flow_scale"]) * float(h5.attrs["bound"])
        except KeyError as exc:
            raise SalprepError(f"int8 flow without the {exc.args[0]!r} attribute to decode it", h5.filename) from None
        return raw.astype(np.float32) * np.float32(factor)
    return raw.astype(np.float32)


def flow_images(flow: np.ndarray) -> tuple[np.ndarray, float]:
    """Colour-wheel images of flow (n, 2, H, W) in pixels, on one scale for all of them.

    Returns:
        ((n, H, W, 3) uint8 RGB, the magnitude drawn fully saturated). Pure rightward flow is red
        (255, 0, 0), zero flow white.
    """
    import torch
    from torchvision.utils import flow_to_image

    flow = np.nan_to_num(np.asarray(flow, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow: expected (n, 2, H, W), got {flow.shape}")
    scale = float(np.sqrt((flow ** 2).sum(axis=1)).max()) if flow.size else 0.0
    img = flow_to_image(torch.from_numpy(flow))  # normalised by the largest vector of the batch
    return img.permute(0, 2, 3, 1).numpy(), scale


def wheel_key(size: int = 101) -> np.ndarray:
    """The colour wheel as an RGBA image: flow (x, y) at pixel (x, y) of the unit disk."""
    import torch
    from torchvision.utils import flow_to_image

    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x, y = np.meshgrid(axis, axis)
    inside = x ** 2 + y ** 2 <= 1.0
    flow = np.stack([np.where(inside, x, 0), np.where(inside, y, 0)])[None].astype(np.float32)
    rgb = flow_to_image(torch.from_numpy(flow))[0].permute(1, 2, 0).numpy()
    return np.concatenate([rgb, (inside * 255).astype(np.uint8)[..., None]], axis=-1)


def _figure(n: int, height: int, width: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fw, fh = figure_size(n, height, width)
    fig = plt.figure(figsize=(fw / DPI, fh / DPI), dpi=DPI)
    ph = panel_height(height, width)
    axes = []
    for k in range(n):  # exact panel rectangles (figure fractions), no layout engine
        ax = fig.add_axes((k * PANEL_PX / fw, FOOT_PX / fh, (PANEL_PX - GAP_PX) / fw, ph / fh))
        ax.set_axis_off()
        axes.append(ax)
    return fig, axes, (fw, fh, ph)


def _key_axes(fig, n: int, dims, width_px: int, pad_px: int = 0):
    fw, fh, ph = dims
    return fig.add_axes(((n * PANEL_PX + pad_px) / fw, FOOT_PX / fh, width_px / fw, ph / fh))


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from salprep.atomic import atomic_output

    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=DPI)
    plt.close(fig)


def flow_grid(images: np.ndarray, titles: list[str], scale: float, title: str, path: str | Path) -> tuple[int, int]:
    """Flow images (n, H, W, 3) in a row, with the colour wheel as key; returns the PNG size."""
    n, h, w = images.shape[:3]
    fig, axes, dims = _figure(n, h, w)
    for ax, img, name in zip(axes, images, titles):
        ax.imshow(img, interpolation="nearest", aspect="auto")
        ax.set_title(name, fontsize=8, pad=3)
    side = min(KEY_PX - 16, dims[2] - 28)
    key = fig.add_axes(((n * PANEL_PX + (KEY_PX - side) / 2) / dims[0], (FOOT_PX + (dims[2] - side) / 2) / dims[1],
                        side / dims[0], side / dims[1]))
    key.imshow(wheel_key(), interpolation="bilinear", extent=(-1, 1, 1, -1))
    key.set_axis_off()
    key.set_title(f"saturated: {scale:.3g} px" if scale > 0 else "no motion", fontsize=7, pad=2)
    fig.text(0.005, 1 - 4 / dims[1], title, fontsize=9, va="top", ha="left")
    _save(fig, Path(path))
    return dims[0], dims[1]


def depth_grid(maps: np.ndarray, titles: list[str], low: float, high: float, title: str, path: str | Path,
               label: str = "disparity") -> tuple[int, int]:
    """Depth maps (n, H, W) in a row on one colour scale with a colour bar; returns the PNG size."""
    n, h, w = maps.shape
    fig, axes, dims = _figure(n, h, w)
    image = None
    for ax, m, name in zip(axes, maps, titles):
        image = ax.imshow(m, cmap=DEPTH_CMAP, vmin=low, vmax=high, interpolation="nearest", aspect="auto")
        ax.set_title(name, fontsize=8, pad=3)
    bar = _key_axes(fig, n, dims, 14, pad_px=14)
    cb = fig.colorbar(image, cax=bar)
    cb.ax.tick_params(labelsize=7)
    cb.set_label(label, fontsize=7)
    fig.text(0.005, 1 - 4 / dims[1], title, fontsize=9, va="top", ha="left")
    _save(fig, Path(path))
    return dims[0], dims[1]


def render_shard(path: str | Path, out: str | Path, *, frames: int = 4) -> Figure:
    """A PNG grid of ``frames`` entries (evenly spread) of a flow_tvl1, flow_spynet or depth shard.

    Raises:
        SalprepError: not a readable shard, a shard of another stage, or one without its data.
    """
    from salprep.store import open_shard

    path, out = Path(path), Path(out)
    if frames < 1:
        raise SalprepError(f"--frames must be at least 1, got {frames}")
    with open_shard(path) as h5:
        stage = h5.attrs.get("salprep_type")
        if stage not in STAGES:
            raise SalprepError(f"expected a flow_tvl1, flow_spynet or depth shard, found salprep_type={stage!r}",
                              path)
        name = STAGES[stage]
        if name not in h5 or "frame_index" not in h5:
            raise SalprepError(f"{stage} shard without its {name!r} / 'frame_index' datasets", path)
        index = h5["frame_index"][...]
        entries = pick_entries(len(index), frames)
        if not entries:
            raise SalprepError(f"{stage} shard with no entries", path)
        video = str(h5.attrs.get("video", path.stem))
        dataset = str(h5.attrs.get("dataset", ""))
        weights = str(h5.attrs.get("weights", ""))
        shown = [int(index[e]) for e in entries]
        head = f"{dataset} video {video} · {stage}" + (" · random-init weights" if weights == "random-init" else "")
        if name == "flow":
            images, scale = flow_images(flow_pixels(h5, entries))
            titles = [f"frame {t + 1} → {t + 2}" for t in shown]
            size = flow_grid(images, titles, scale, head, out)
            return Figure(out, stage, video, shown, size, scale)
        maps = h5[name][entries].astype(np.float32)
    finite = maps[np.isfinite(maps)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1e-6
    titles = [f"frame {t + 1}" for t in shown]
    size = depth_grid(maps, titles, low, high, head, out, label="disparity (near = bright)")
    return Figure(out, stage, video, shown, size, high, low)
