"""The stage framework: samplers, the runner, and the depth / features stages end to end."""

from __future__ import annotations

import logging
import tracemalloc

import h5py
import numpy as np
import pytest
import torch
from tolerance import I3D_DEPTH, ScaleTracker, fan_in, float_bound, monodepth_bound

from salprep.checkpoints import mark_random_init
from salprep.cli import main
from salprep.errors import SalprepError
from salprep.models.i3d import load_i3d, save_random_i3d
from salprep.models.monodepth import load_monodepth2, save_random_monodepth2
from salprep.stages.i3d import build_i3d_features, mixed5c_shape, pool_geometry
from salprep.stages.runner import StageRun, run_stage
from salprep.stages.samplers import EveryNth, Pairs, SlidingWindows, counted
from salprep.store import verify_shard
from salprep.video import iter_frames, write_video


def _frames(n, shape=(2,)):
    return [np.full(shape, t, dtype=np.int32) for t in range(n)]


# ------------------------------------------------------------------ samplers


@pytest.mark.parametrize("n_frames", [1, 5, 10, 11, 40])
@pytest.mark.parametrize("length,stride,batch", [(1, 1, 1), (3, 1, 4), (10, 2, 3), (10, 7, 2), (4, 15, 2)])
def test_sliding_windows_hold_the_right_frames(n_frames, length, stride, batch):
    sampler = SlidingWindows(length, stride)
    seen = []
    for b in sampler.batches(iter(_frames(n_frames)), n_frames, batch):
        assert len(b) <= batch and len(b.data.frames) <= sampler.capacity(batch)
        for end, window in zip(b.index, b.data.windows()):
            assert window.shape == (length, 2)
            if n_frames >= length:
                assert window[:, 0].tolist() == list(range(end - length + 1, end + 1))
            else:  # padded: first frame repeated before, last after, the video in the middle
                values = window[:, 0].tolist()
                assert sorted(set(values)) == list(range(n_frames)) and values == sorted(values)
            seen.append(end)
    assert seen == sampler.frame_index(n_frames).tolist()
    if n_frames >= length:
        assert seen[0] == length - 1 and all(b - a == stride for a, b in zip(seen, seen[1:]))
    else:
        assert seen == [n_frames - 1]


@pytest.mark.parametrize("n_frames", [1, 5, 12, 40])
@pytest.mark.parametrize("length,stride,batch", [(1, 1, 1), (3, 1, 4), (10, 2, 3), (10, 7, 2), (4, 15, 2)])
def test_sliding_windows_pad_start(n_frames, length, stride, batch):
    """pad_start: a window ends at 0, s, 2s, ...; its frames before 0 are frame 0 repeated."""
    sampler = SlidingWindows(length, stride, pad_start=True)
    frames = counted(iter(_frames(n_frames)))
    seen = []
    for b in sampler.batches(frames, n_frames, batch):
        assert len(b) <= batch
        for end, window in zip(b.index, b.data.windows()):
            expected = [max(0, t) for t in range(end - length + 1, end + 1)]
            assert window[:, 0].tolist() == expected
            seen.append(end)
    assert seen == list(range(0, n_frames, stride)) == sampler.frame_index(n_frames).tolist()
    assert frames.count == n_frames  # the padding is not counted as decoded frames
    assert sampler.params()["pad_start"] is True


def test_short_video_padding_warns(caplog):
    with caplog.at_level(logging.WARNING):
        (batch,) = SlidingWindows(8, 1).batches(iter(_frames(3)), 3, 4)
    assert batch.index == [2]
    assert batch.data.windows()[0][:, 0].tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert "fewer than the 8-frame window" in caplog.text


@pytest.mark.parametrize("sampler,n,expected", [
    (EveryNth(1), 5, [0, 1, 2, 3, 4]), (EveryNth(3), 7, [0, 3, 6]), (Pairs(1), 5, [0, 1, 2, 3]),
    (Pairs(2), 6, [0, 2, 4]), (Pairs(11), 12, [0])])
def test_every_nth_and_pairs(sampler, n, expected):
    assert sampler.frame_index(n).tolist() == expected
    got = []
    for b in sampler.batches(iter(_frames(n)), n, 2):
        got += b.index
        if isinstance(sampler, Pairs):
            first, second = b.data
            assert (first[:, 0] == b.index).all() and (second[:, 0] == np.asarray(b.index) + 1).all()
        else:
            assert (b.data[:, 0] == b.index).all()
    assert got == expected


# ------------------------------------------------------------------ runner


def _run(tmp_path, frames, n_frames, compute=None):
    def default(batch):
        return {"disparity": np.zeros((len(batch), 4, 4), np.float16)}

    return run_stage(StageRun(
        stage="depth", out=tmp_path / "depth" / "001.h5", dataset="d", video="001", n_frames=n_frames,
        source="src.avi", source_sha256="0" * 64, params={}, frames=frames, sampler=EveryNth(2),
        compute=compute or default, outputs={"disparity": ((4, 4), "float16")}, batch_size=2))


def test_runner_writes_a_verified_shard(tmp_path):
    summary = _run(tmp_path, iter(_frames(5)), 5)
    assert summary["entries"] == 3
    path = tmp_path / "depth" / "001.h5"
    assert verify_shard(path) == []
    with h5py.File(path, "r") as h5:
        assert h5["frame_index"][...].tolist() == [0, 2, 4]
        assert h5["disparity"].chunks == (1, 4, 4)
        assert '"stage_version"' in h5.attrs["params"] and '"every": 2' in h5.attrs["params"]


@pytest.mark.parametrize("decoded", [4, 6])
def test_runner_refuses_a_stream_of_the_wrong_length(tmp_path, decoded):
    with pytest.raises(SalprepError, match=f"the stream has {decoded} frames, expected 5"):
        _run(tmp_path, iter(_frames(decoded)), 5)
    assert list((tmp_path / "depth").iterdir()) == []


def test_runner_refuses_wrong_shapes(tmp_path):
    with pytest.raises(SalprepError, match=r"computed disparity of shape \(1, 4, 4\), expected \(2, 4, 4\)"):
        _run(tmp_path, iter(_frames(5)), 5, compute=lambda b: {"disparity": np.zeros((1, 4, 4), np.float16)})
    assert list((tmp_path / "depth").iterdir()) == []


# ------------------------------------------------------------------ features and depth end to end


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    base = tmp_path_factory.mktemp("stages")
    rng = np.random.default_rng(0)
    frames = [(rng.random((48, 64, 3)) * 255).astype(np.uint8) for _ in range(14)]
    video = base / "001.AVI"
    write_video(video, frames)
    ck = {}
    for modality in ("rgb", "flow"):
        ck[modality] = base / f"{modality}_imagenet.pt"
        save_random_i3d(ck[modality], 3, modality)
    ck["encoder"], ck["decoder"] = base / "encoder.pth", base / "depth.pth"
    save_random_monodepth2(ck["encoder"], ck["decoder"], 4, height=64, width=96)
    for path in ck.values():
        mark_random_init(path, seed=0)
    flow = base / "flow_tvl1" / "001.h5"
    assert main(["flow", "--method", "tvl1", "--video", str(video), "--out", str(flow), "--size", "16x16",
                 "--out-size", "32x32", "--device", "cpu", "--warps", "1", "--nscales", "1"]) == 0
    return base, video, ck, flow


def _features(path):
    with h5py.File(path, "r") as h5:
        return h5["features"][...], h5["frame_index"][...], dict(h5.attrs)


# Stored float16 vs float32: each value rounded once, relative u16 = eps16 / 2, or absolutely
# <= 2^-25 among the subnormals; two stored values differ by at most twice that.
F16_RTOL = float(np.finfo(np.float16).eps)
F16_ATOL = 2.0**-24


def _i3d_run(net, clip) -> tuple[np.ndarray, float]:
    """I3D features of a clip, and twice the float_bound of a float32 run (the stage's run and
    this one, in other batches or input roundings, each within it of the exact features)."""
    with torch.inference_mode(), ScaleTracker(net) as track:
        out = net(clip)[0].numpy()
    return out, 2 * float_bound(torch.float32, track.scale, fan_in(net), I3D_DEPTH)


def test_rgb_features_equal_the_network_on_each_window(assets, tmp_path):
    base, video, ck, _ = assets
    outs = {}
    for batch in (1, 3):
        outs[batch] = tmp_path / f"b{batch}.h5"
        assert main(["features", "--modality", "rgb", "--video", str(video), "--checkpoint", str(ck["rgb"]),
                     "--out", str(outs[batch]), "--size", "32x32", "--window", "8", "--stride", "2",
                     "--pool", "none", "--batch-size", str(batch), "--device", "cpu"]) == 0
        assert verify_shard(outs[batch], video_frames=14) == []
    feats, index, attrs = _features(outs[3])
    assert index.tolist() == [7, 9, 11, 13] and feats.shape == (4, *mixed5c_shape(8, 32, 32))
    assert attrs["weights"] == "random-init" and attrs["pool"] == "none" and list(attrs["input_size"]) == [32, 32]
    net = load_i3d(ck["rgb"], "rgb")
    frames = np.stack(list(iter_frames(video, size=(32, 32))))
    bounds = []
    for k, end in enumerate(index):
        clip = torch.from_numpy(frames[end - 7: end + 1]).permute(3, 0, 1, 2)[None].float() * (2 / 255) - 1
        expected, bound = _i3d_run(net, clip)
        bounds.append(bound)
        np.testing.assert_allclose(feats[k].astype(np.float32), expected, rtol=F16_RTOL, atol=bound + F16_ATOL)
    # batching changes nothing beyond float32 rounding (batched convolutions sum in other orders)
    # and the two float16 roundings
    np.testing.assert_allclose(feats.astype(np.float32), _features(outs[1])[0].astype(np.float32),
                               rtol=F16_RTOL, atol=max(bounds) + F16_ATOL)


def test_flow_features_read_the_flow_shard_and_pool(assets, tmp_path):
    base, video, ck, flow = assets
    out = tmp_path / "i3d_flow" / "001.h5"
    assert main(["features", "--modality", "flow", "--flow", str(flow), "--checkpoint", str(ck["flow"]),
                 "--out", str(out), "--window", "8", "--stride", "3", "--pool", "1x1x1", "--device", "cpu"]) == 0
    assert verify_shard(out, video_frames=14) == []
    feats, index, attrs = _features(out)
    assert index.tolist() == [7, 10, 13] and feats.shape == (3, 1024, 1, 1, 1) and feats.dtype == np.float16
    assert attrs["salprep_type"] == "i3d_flow" and list(attrs["input_size"]) == [32, 32]
    assert list(attrs["pool_kernel"]) == [1, 1, 1] and list(attrs["mixed5c_shape"]) == [1024, 1, 1, 1]
    with h5py.File(flow, "r") as h5:  # the last window's final input repeats the last pair's flow
        codes = h5["flow"][...]
    clip = np.concatenate([codes[6:13], codes[12:13]]).astype(np.float32) / 127  # frames 6..13
    expected, bound = _i3d_run(load_i3d(ck["flow"], "flow"), torch.from_numpy(clip).permute(1, 0, 2, 3)[None])
    np.testing.assert_allclose(feats[2].astype(np.float32), expected, rtol=F16_RTOL, atol=bound + F16_ATOL)


def _exit2(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("salprep: error: ")
    return err


def test_features_bad_input_is_one_line_and_no_shard(assets, tmp_path, capsys):
    base, video, ck, flow = assets
    out = tmp_path / "s" / "001.h5"
    rgb = ["features", "--modality", "rgb", "--video", str(video), "--out", str(out), "--window", "8",
           "--size", "32x32", "--pool", "none", "--device", "cpu", "--checkpoint"]
    assert "a flow checkpoint, expected rgb" in _exit2(capsys, rgb + [str(ck["flow"])])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(1).bytes(2048))
    assert f"{garbage}: not a PyTorch checkpoint" in _exit2(capsys, rgb + [str(garbage)])
    flow_cmd = ["features", "--modality", "flow", "--checkpoint", str(ck["flow"]), "--out", str(out),
                "--window", "8", "--pool", "none", "--device", "cpu", "--flow"]
    assert "shard not found" in _exit2(capsys, flow_cmd + [str(tmp_path / "nope.h5")])
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert f"{corrupt}: not a readable HDF5 shard" in _exit2(capsys, flow_cmd + [str(corrupt)])
    wrong = tmp_path / "wrong_type.h5"
    with h5py.File(wrong, "w") as h5:
        h5.attrs["salprep_type"] = "flow_spynet"
    assert f"{wrong}: expected a 'flow_tvl1' shard" in _exit2(capsys, flow_cmd + [str(wrong)])
    stale = tmp_path / "stale.h5"
    stale.write_bytes(flow.read_bytes())
    with h5py.File(stale, "a") as h5:
        h5.attrs["stage_version"] = "1"
    assert f"{stale}: flow_tvl1 shard has stage_version '1'" in _exit2(capsys, flow_cmd + [str(stale)])
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_pool_geometry_reaches_the_lsts_shape():
    assert pool_geometry((10, 7, 7), (5, 5, 5)) == ((2, 3, 3), (2, 1, 1))  # 79x224x224
    assert pool_geometry((10, 5, 5), (5, 5, 5)) == ((2, 1, 1), (2, 1, 1))  # 79x160x160
    with pytest.raises(SalprepError, match="smaller than the pooled size"):
        pool_geometry((10, 4, 4), (5, 5, 5))


def test_features_memory_does_not_grow_with_the_video(tmp_path, assets):
    """The ring buffer holds one batch of windows: the 480 frames a 600-frame video has beyond a
    120-frame one add less than an eighth of their decoded size (1.8 MB; holding them decoded,
    or resized to 64x64, would add 17.7 or 5.9 MB) to the peak that tracemalloc sees (numpy's
    buffers: decoded frames, the ring, the chunks)."""
    _, _, ck, _ = assets
    rng = np.random.default_rng(2)
    tile = [(rng.random((96, 128, 3)) * 255).astype(np.uint8) for _ in range(4)]
    peaks = {}
    for n in (120, 600):
        video = tmp_path / f"{n}.AVI"
        write_video(video, (tile[t % 4] for t in range(n)))
        tracemalloc.start()
        build_i3d_features(video, tmp_path / f"{n}.h5", ck["rgb"], modality="rgb", dataset_name="d", device="cpu",
                           window=79, stride=100, size="64x64", pool="none", batch_size=1)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    extra_frames = (600 - 120) * 96 * 128 * 3
    assert peaks[600] - peaks[120] < extra_frames / 8 and peaks[600] < 600 * 96 * 128 * 3 / 2, peaks


def test_depth_stage_every_nth_frame(assets, tmp_path, capsys):
    base, video, ck, _ = assets
    out = tmp_path / "depth" / "001.h5"
    assert main(["depth", "--video", str(video), "--encoder", str(ck["encoder"]), "--decoder", str(ck["decoder"]),
                 "--out", str(out), "--every", "5", "--batch-size", "2", "--device", "cpu"]) == 0
    assert verify_shard(out, video_frames=14) == []
    with h5py.File(out, "r") as h5:
        disp, index, attrs = h5["disparity"][...], h5["frame_index"][...], dict(h5.attrs)
    assert index.tolist() == [0, 5, 10] and disp.shape == (3, 48, 64) and disp.dtype == np.float16
    assert attrs["weights"] == "random-init" and list(attrs["network_size"]) == [96, 64]
    assert 0 < disp.min() and disp.max() < 1
    frame = next(iter_frames(video))
    net = load_monodepth2(ck["encoder"], ck["decoder"])
    with torch.inference_mode(), ScaleTracker(net) as track:
        expected = net(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255)[0, 0].numpy()
    # two float32 runs (the stage's in a batch of 2), each within monodepth_bound of the exact
    # disparity, then the float16 rounding of the stored one
    bound = 2 * monodepth_bound(track.scale, fan_in(net))
    np.testing.assert_allclose(disp[0].astype(np.float32), expected, rtol=F16_RTOL, atol=bound + F16_ATOL)
    swapped = ["depth", "--video", str(video), "--encoder", str(ck["decoder"]), "--decoder", str(ck["encoder"]),
               "--out", str(tmp_path / "x.h5"), "--device", "cpu"]
    assert "swapped" in _exit2(capsys, swapped)
    assert not (tmp_path / "x.h5").exists()
