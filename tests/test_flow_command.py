"""`salprep flow`: TV-L1 and SpyNet shards from a real encoded video; bad input exits 2."""

import h5py
import numpy as np
import pytest
import torch
from scipy import ndimage

from salprep.checkpoints import mark_random_init
from salprep.cli import main
from salprep.flow.spynet import save_random_spynet
from salprep.flow.tvl1 import DEFAULT_PARAMS
from salprep.store import verify_shard
from salprep.video import write_video

SHIFT = 2  # px per frame, to the right, at 160 px width


@pytest.fixture(scope="module")
def moving_video(tmp_path_factory):
    rng = np.random.default_rng(0)
    tex = ndimage.gaussian_filter(rng.random((200, 300)), 3)
    tex = (tex - tex.min()) / (tex.max() - tex.min()) * 255
    frames = [np.repeat(np.roll(tex, SHIFT * t, axis=1)[:120, :160, None], 3, 2).astype(np.uint8) for t in range(6)]
    path = tmp_path_factory.mktemp("flowvid") / "001.AVI"
    write_video(path, frames)
    return path


def _flow_px(path):
    with h5py.File(path, "r") as h5:
        return h5["flow"][...] * h5.attrs["flow_scale"] * h5.attrs["bound"], dict(h5.attrs)


def test_tvl1_shard_lsts_recipe(moving_video, tmp_path):
    out = tmp_path / "flow_tvl1" / "001.h5"
    assert main(["flow", "--method", "tvl1", "--video", str(moving_video), "--out", str(out),
                 "--batch-size", "3", "--device", "cpu"]) == 0
    assert verify_shard(out, video_frames=6) == []
    with h5py.File(out, "r") as h5:
        assert h5["flow"].dtype == np.int8 and h5["flow"].shape == (5, 2, 224, 224)
        assert h5["flow"].chunks == (1, 2, 224, 224)
    flow, attrs = _flow_px(out)
    assert attrs["salprep_type"] == "flow_tvl1" and attrs["weights"] == "none" and "n_entries" not in attrs
    with h5py.File(out, "r") as h5:
        assert h5["frame_index"][...].tolist() == [0, 1, 2, 3, 4]
    interior = flow[:, :, 40:-40, 40:-40]
    # 2 px at 160 px width -> 1.4 px at 112 -> 2.8 px at 224
    expected_dx = SHIFT * 112 / 160 * 2
    assert np.median(interior[:, 0]) == pytest.approx(expected_dx, abs=0.25)
    assert np.median(np.abs(interior[:, 1])) < 0.2


def test_tvl1_opencv_backend_agrees(moving_video, tmp_path):
    a, b = tmp_path / "t.h5", tmp_path / "o.h5"
    common = ["flow", "--method", "tvl1", "--video", str(moving_video), "--size", "56x56", "--out-size", "112x112"]
    assert main(common + ["--out", str(a)]) == 0
    assert main(common + ["--out", str(b), "--backend", "opencv"]) == 0
    fa, attrs = _flow_px(a)
    fb, _ = _flow_px(b)
    # Two TV-L1 runs, each within rms epsilon of where exact arithmetic stops (test_flow_tvl1):
    # rms 2 epsilon over the 56x56 level, sqrt(56^2 / 36^2) more on its 36x36 interior, x2 px at
    # 112; then each stored code rounded by half a quantisation step (bound / 127 px).
    epsilon = DEFAULT_PARAMS["epsilon"]
    bound = 2 * (2 * epsilon * 56 / 36) + attrs["bound"] / 127
    assert np.abs(fa[:, :, 20:-20, 20:-20] - fb[:, :, 20:-20, 20:-20]).mean() <= bound


def test_spynet_shard_every_nth_frame(moving_video, tmp_path):
    ckpt = tmp_path / "network-random.pytorch"
    save_random_spynet(ckpt, seed=3)
    mark_random_init(ckpt, seed=3)
    out = tmp_path / "sp.h5"
    assert main(["flow", "--method", "spynet", "--video", str(moving_video), "--out", str(out),
                 "--checkpoint", str(ckpt), "--every", "2", "--size", "96x64"]) == 0
    assert verify_shard(out, video_frames=6) == []
    with h5py.File(out, "r") as h5:
        assert h5.attrs["weights"] == "random-init"
        np.testing.assert_array_equal(h5["frame_index"][...], [0, 2, 4])
        assert h5["flow"].shape == (3, 2, 64, 96) and h5["flow"].dtype == np.float16
        assert np.isfinite(h5["flow"][...]).all()


def _bad(args, capsys, *fragments):
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    for fragment in fragments:
        assert fragment in err[0]


def test_flow_bad_inputs(moving_video, tmp_path, capsys):
    one = tmp_path / "one.AVI"
    write_video(one, [np.zeros((32, 32, 3), np.uint8)])
    out = tmp_path / "x.h5"
    _bad(["flow", "--method", "tvl1", "--video", one, "--out", out], capsys, "one.AVI", "at least 2")
    wrong = tmp_path / "wrong.pytorch"
    torch.save({"foo.weight": torch.zeros(1)}, wrong)
    _bad(["flow", "--method", "spynet", "--video", moving_video, "--out", out, "--checkpoint", wrong],
         capsys, "wrong.pytorch", "missing", "unexpected", "foo.weight")
    _bad(["flow", "--method", "spynet", "--video", moving_video, "--out", out], capsys, "--checkpoint")
    if not torch.cuda.is_available():
        _bad(["flow", "--method", "tvl1", "--video", moving_video, "--out", out, "--device", "cuda"],
             capsys, "no CUDA device")
    _bad(["flow", "--method", "tvl1", "--video", moving_video, "--out", out, "--size", "abc"], capsys, "abc")
    _bad(["flow", "--method", "tvl1", "--video", moving_video, "--out", out, "--median-filtering", "4"],
         capsys, "bad TV-L1 parameter", "median_filtering")
    assert not out.exists()
