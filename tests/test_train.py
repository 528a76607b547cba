"""The model registry, the shard dataset, the one training loop and decoder evaluation (LSTS)."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch
from tolerance import float_bound

from salprep import gt as gtlib
from salprep.cli import main
from salprep.errors import SalprepError
from salprep.models.registry import MODELS, get_model
from salprep.store import write_shard
from salprep.train import FrameFeatures, epoch_order, fit, video_shards

T = 6          # frames per video
SHAPE = (36, 64)  # GT frame size (targets are resized to 360x640)


def _write_video_shards(root, video: str, seed: int, stages=("i3d_flow",), windows=(3, 5)):
    rng = np.random.default_rng(seed)
    with write_shard(root / "gt" / f"{video}.h5", stage="gt", dataset="t", video=video, n_frames=T,
                     source_sha256="0", params={}) as shard:
        fix = np.zeros((T, *SHAPE), np.uint8)
        fix[:, 10 + seed, 20 + 3 * seed] = 1
        shard.create_frames("fixations", fix.shape, np.uint8)[...] = fix
        maps = np.stack([gtlib.quantize_unit(gtlib.saliency_map(f.astype(bool), 4.0)) for f in fix])
        shard.create_frames("maps", maps.shape, np.uint16)[...] = maps
        shard.h5["maps"].attrs["scale"] = gtlib.MAP_SCALE
        ys, xs = np.nonzero(fix[0])
        shard.put("fixation_points", np.stack([np.arange(T), np.full(T, ys[0]), np.full(T, xs[0])], 1).astype(np.int32))
    for stage in stages:
        with write_shard(root / stage / f"{video}.h5", stage=stage, dataset="t", video=video, n_frames=T,
                         source_sha256="0", params={}, weights="random-init") as shard:
            shard.put("frame_index", np.asarray(windows, np.int32))
            feats = rng.random((len(windows), 1024, 5, 5, 5)).astype(np.float16)
            shard.create_frames("features", feats.shape, np.float16)[...] = feats


def _make_store(root):
    for i, video in enumerate(("001", "002", "601")):
        _write_video_shards(root, video, i, stages=("i3d_rgb", "i3d_flow"))
    return root


@pytest.fixture
def store(tmp_path):
    return _make_store(tmp_path / "store" / "t")


#: two random frames of each training video per epoch, two per batch: two steps an epoch (the
#: LSTS decoder's 360x640 output makes a step the bulk of a test's time)
SMALL = {"epochs": 2, "batch_size": 2, "frames_per_video": 2, "lr": 1e-3}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """lsts_flow trained for one epoch (SMALL) on the :func:`store` data, once for the tests that
    evaluate a trained decoder: (its store, its model.pt). Read-only: a test that changes the
    store copies it first."""
    base = tmp_path_factory.mktemp("trained")
    root = _make_store(base / "store" / "t")
    assert _train(root, base / "train", settings={**SMALL, "epochs": 1}) == 0
    return root, base / "train" / "model.pt"


def test_registry_names_every_results_model():
    assert {"center_bias", "lsts_rgb", "lsts_flow", "lsts_rgbflow"} <= set(MODELS)
    assert get_model("lsts_rgbflow").inputs == ("i3d_rgb", "i3d_flow")
    assert get_model("lsts_flow").settings({"epochs": 3})["epochs"] == 3
    with pytest.raises(SalprepError, match="unknown settings"):
        get_model("lsts_flow").settings({"epoch": 3})
    with pytest.raises(SalprepError, match="unknown model"):
        get_model("lsts_depth")


def test_frame_features_reuse_the_first_window(store):
    ds = FrameFeatures(video_shards([store / "gt" / "001.h5"], ("i3d_rgb", "i3d_flow")), ("i3d_rgb", "i3d_flow"))
    assert len(ds) == T
    assert ds.items[:, 2].tolist() == [0, 0, 0, 0, 0, 1]  # windows end at frames 3 and 5
    x, y = ds[5]
    assert x.shape == (2048, 5, 5, 5) and x.dtype == torch.float32
    assert y.shape == (1, 360, 640) and 0 <= float(y.min()) and float(y.max()) <= 1
    with h5py.File(store / "i3d_flow" / "001.h5", "r") as h5:
        np.testing.assert_array_equal(x[1024:].numpy(), h5["features"][1].astype(np.float32))


def test_epoch_order_depends_on_seed_and_epoch_only(store):
    ds = FrameFeatures(video_shards([store / "gt" / v for v in ("001.h5", "002.h5")], ("i3d_flow",)), ("i3d_flow",))
    assert epoch_order(ds, 0, 1) == epoch_order(ds, 0, 1) != epoch_order(ds, 1, 1)
    clips = epoch_order(ds, 0, 1, frames_per_video=2)
    assert len(clips) == 4 and sorted(np.bincount(ds.video_of()[clips])) == [2, 2]


def _train(store, out, extra=(), settings=SMALL, model="lsts_flow"):
    return main(["train", "--model", model, "--gt", str(store / "gt" / "001.h5"), str(store / "gt" / "002.h5"),
                 "--out-dir", str(out), "--device", "cpu", "--settings-json", json.dumps(settings), *extra])


def test_training_is_deterministic_and_resumable(store, tmp_path):
    """Same seed, same data: bit-identical weights -- claimed for runs in one process (one machine,
    one torch thread count, so the same kernels and summation orders). Across machines or thread
    counts the weights differ by float rounding; that is not tested here."""
    assert _train(store, tmp_path / "a") == 0
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    assert a["model"] == "lsts_flow" and a["features_weights"] == ["random-init"]
    record = json.loads((tmp_path / "a" / "train.json").read_text())
    assert len(record["history"]) == 2 * 2 and record["n_train_frames"] == 12  # 2 x 2 frames / batch 2, 2 epochs
    assert (tmp_path / "a" / "loss.png").stat().st_size > 1000
    # one epoch, then resume for the second: the same weights as two epochs straight (which a
    # second straight run would only repeat: unequal bits here fail either claim)
    assert _train(store, tmp_path / "c", settings={**SMALL, "epochs": 1}) == 0
    assert _train(store, tmp_path / "c", extra=["--resume", str(tmp_path / "c" / "checkpoint.pt")]) == 0
    c = torch.load(tmp_path / "c" / "model.pt", weights_only=True)
    for key in a["state_dict"]:  # the resumed run restores the exact state: the same bits too
        assert torch.equal(a["state_dict"][key], c["state_dict"][key]), key


def test_training_learns(store, tmp_path):
    from salprep.train.data import FrameFeatures as FF

    spec = get_model("lsts_flow")
    ds = FF(video_shards([store / "gt" / "001.h5"], spec.inputs), spec.inputs)
    _, history, _ = fit(spec, spec.settings({"epochs": 6, "batch_size": 3, "lr": 1e-3}), ds, tmp_path)
    assert np.mean(history[-2:]) < 0.75 * np.mean(history[:2])  # measured 0.63


def test_standardize_and_prior_bias_set_the_model_from_the_training_data(store, tmp_path):
    from salprep.train.loop import prepare_model

    spec = get_model("lsts_flow")
    ds = FrameFeatures(video_shards([store / "gt" / "001.h5", store / "gt" / "002.h5"], spec.inputs), spec.inputs)
    model = spec.build(spec.recipe)
    assert prepare_model(model, ds, spec.settings()) == {}  # the paper's recipe: PyTorch's init untouched
    assert torch.equal(model.input_std, torch.ones(1024))
    done = prepare_model(model, ds, spec.settings({"standardize": True, "prior_bias": True}))
    assert done["standardize"]["items"] == 4  # 2 distinct windows per video
    x = torch.stack([ds.inputs(i) for i in (0, 5, 6, 11)])  # the 4 distinct inputs
    # prepare_model takes the statistics in float64 and stores them as float32: one float32
    # rounding (relative eps32 / 2), float64 summation order differences (~1e-14) far below it
    rtol = float_bound(torch.float32, 1.0, 1, 1)
    x64 = x.double()
    torch.testing.assert_close(model.input_mean, x64.mean(dim=(0, 2, 3, 4)).float(), rtol=rtol, atol=0)
    torch.testing.assert_close(model.input_std, x64.std(dim=(0, 2, 3, 4)).float(), rtol=rtol, atol=0)
    targets = torch.stack([ds[i][1] for i in (0, 5, 6, 11)]).double()
    mean_target = float(targets.mean())
    # float64 means of the same n targets in [0, 1], summed in any order
    assert done["prior_bias"] == pytest.approx(mean_target, rel=float_bound(torch.float64, 1.0, targets.numel(), 1))
    bias = float(model.deconv[-1].bias.detach())
    assert float(torch.sigmoid(model.deconv[-1].bias.detach())) == pytest.approx(mean_target, rel=_sigmoid_rtol(bias))
    # the buffers travel in the state_dict: a rebuilt model gives the same maps (the same weights
    # and input in this process: the same bits)
    clone = spec.build(spec.recipe)
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(clone.eval()(x[:1]), model.eval()(x[:1]))
    # a channel constant in training is centred, not blown up by a tiny std
    x0 = x.clone()
    x0[:, 7] = 0.25
    ds_const = [(xi, ds[0][1]) for xi in x0]

    class _Const(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return ds_const[i]

        def inputs(self, i):
            return ds_const[i][0]

        def input_key(self, i):
            return (i,)

    done = prepare_model(model, _Const(), spec.settings({"standardize": True}))
    assert done["standardize"]["constant_channels"] == 1
    # the mean of equal values 0.25 is exact in binary floating point (exact partial sums)
    assert float(model.input_std[7]) == 1.0 and float(model.input_mean[7]) == 0.25
    with pytest.raises(ValueError, match=r"\(1024,\) each"):
        model.set_input_norm(torch.zeros(3), torch.ones(3))


def _sigmoid_rtol(bias: float) -> float:
    """Relative error of sigmoid(float32 bias) vs the probability the bias was set from: the bias
    rounded to float32 (relative eps32 / 2, moving sigmoid relatively by (1 - s) |bias| times
    that) and the sigmoid's own roundings (exp, add, divide), relative to 1."""
    return float_bound(torch.float32, 1.0 + abs(bias), 1, 4)


def test_lsts_adam_option_and_salbce_prior_bias(store, tmp_path):
    from salprep.train.loop import make_optimizer

    spec = get_model("lsts_flow")
    model = spec.build(spec.recipe)
    opt, _, _ = make_optimizer(spec, model, spec.settings({"optimizer": "adam"}))
    assert isinstance(opt, torch.optim.Adam)
    assert isinstance(make_optimizer(spec, model, spec.settings())[0], torch.optim.RMSprop)
    with pytest.raises(SalprepError, match="rmsprop or adam"):
        make_optimizer(spec, model, spec.settings({"optimizer": "sgd"}))
    salbce = get_model("salbce_rgb")
    net = salbce.build(salbce.settings({"width": 0.125}))
    net.init_output_bias(0.02)
    bias = float(net.output.bias.detach())
    assert float(torch.sigmoid(net.output.bias.detach())) == pytest.approx(0.02, rel=_sigmoid_rtol(bias))
    with pytest.raises(SalprepError, match="unknown settings"):
        salbce.settings({"standardize": True})  # image inputs are normalised inside SalBCE


def test_nan_loss_stops_with_one_line_and_keeps_the_last_checkpoint(store, tmp_path, capsys, monkeypatch):
    import salprep.train.loop as loop

    real, calls = loop.loss_fn, []

    def nan_in_epoch_2(spec, pred, target):  # SMALL: 2 batches per epoch
        calls.append(1)
        loss = real(spec, pred, target)
        return loss * float("nan") if len(calls) > 2 else loss

    monkeypatch.setattr(loop, "loss_fn", nan_in_epoch_2)
    out = tmp_path / "nan"
    capsys.readouterr()
    assert _train(store, out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "loss became nan at epoch 2, batch 1" in err
    assert f"the last good checkpoint is {out / 'checkpoint.pt'}" in err
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert not (out / "model.pt").exists()


def test_bad_training_input_is_one_line(store, tmp_path, capsys):
    def exit2(argv_fn):
        capsys.readouterr()
        assert argv_fn() == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("salprep: error: ")
        return err

    assert _train(store, tmp_path / "ok", settings={**SMALL, "epochs": 1}) == 0
    assert "is of model 'lsts_flow', not 'lsts_rgb'" in exit2(lambda: _train(
        store, tmp_path / "x", model="lsts_rgb", extra=["--resume", str(tmp_path / "ok" / "checkpoint.pt")]))
    (store / "i3d_flow" / "002.h5").unlink()
    assert f"{store / 'i3d_flow' / '002.h5'}: shard not found" in exit2(lambda: _train(store, tmp_path / "y"))
    _write_video_shards(store, "002", 1, stages=("i3d_flow",))
    with h5py.File(store / "i3d_flow" / "002.h5", "a") as h5:
        h5.attrs["salprep_type"] = "i3d_rgb"
    assert "expected a 'i3d_flow' shard" in exit2(lambda: _train(store, tmp_path / "z"))
    assert "unknown settings" in exit2(lambda: _train(store, tmp_path / "w", settings={"epoch": 1}))
    assert not (tmp_path / "x" / "model.pt").exists() and not (tmp_path / "z" / "model.pt").exists()


def test_evaluate_a_trained_decoder(trained, tmp_path):
    store, model_pt = trained
    out = tmp_path / "results" / "lsts_flow"
    assert main(["evaluate", "--model", "lsts_flow", "--checkpoint", str(model_pt),
                 "--split", "val", str(store / "gt" / "601.h5"), "--out-dir", str(out), "--workers", "1",
                 "--scheduler", "sync", "--overlays", "0", "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val"]["n_frames"] == T and np.isfinite(metrics["val"]["nss"])
    assert {"model.pt", "loss.png", "train.json", "provenance.json"} <= {p.name for p in out.iterdir()}
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["weights"] == "random-init" and prov["train"]["model"] == "lsts_flow"


def test_decoder_scores_are_the_same_in_worker_processes(trained, tmp_path):
    """The default scheduler (local processes, each loading model.pt once) and the serial path
    write the same metrics and per-frame scores, to the last digit: claimed on one machine with one
    torch thread count -- the workers run one thread each (kernels may split sums by thread), so
    the serial run here is made with one thread too."""
    store, model_pt = trained
    outs = {}
    threads = torch.get_num_threads()
    for scheduler in ("sync", "processes"):
        outs[scheduler] = out = tmp_path / scheduler
        torch.set_num_threads(1)  # as in the worker processes
        try:
            code = main(["evaluate", "--model", "lsts_flow", "--checkpoint", str(model_pt),
                         "--split", "val", str(store / "gt" / "601.h5"), str(store / "gt" / "002.h5"),
                         "--out-dir", str(out), "--workers", "2", "--scheduler", scheduler, "--overlays", "0",
                         "--device", "cpu"])
        finally:
            torch.set_num_threads(threads)
        assert code == 0
    for name in ("metrics.json", "per_frame.csv", "per_video.csv"):
        assert (outs["sync"] / name).read_text() == (outs["processes"] / name).read_text(), name


def test_decoder_predictor_pickles_as_its_file(trained):
    import pickle

    from salprep.models.predictor import load_predictor

    predictor, _ = load_predictor("lsts_flow", str(trained[1]), "cpu")
    blob = pickle.dumps(predictor)
    assert len(blob) < 2000  # the path and device, not the network
    again = pickle.loads(blob)
    for a, b in zip(predictor.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


def _write_image_shards(root, video: str, seed: int):
    rng = np.random.default_rng(seed)
    with write_shard(root / "frames" / f"{video}.h5", stage="frames", dataset="t", video=video, n_frames=T,
                     source_sha256="0", params={}) as shard:
        shard.put("frame_index", np.arange(T, dtype=np.int32))
        shard.create_frames("frames", (T, 32, 48, 3), np.uint8)[...] = rng.integers(0, 256, (T, 32, 48, 3))
    with write_shard(root / "depth" / f"{video}.h5", stage="depth", dataset="t", video=video, n_frames=T,
                     source_sha256="0", params={}, weights="random-init") as shard:
        shard.put("frame_index", np.arange(0, T, 2, dtype=np.int32))  # every 2nd frame, held between
        shard.create_frames("disparity", (T // 2, *SHAPE), np.float16)[...] = rng.random((T // 2, *SHAPE))


def test_salbce_inputs_hold_sampled_depth(store):
    for i, video in enumerate(("001", "601")):
        _write_image_shards(store, video, i)
    ds = FrameFeatures(video_shards([store / "gt" / "001.h5"], ("frames", "depth")), ("frames", "depth"))
    assert ds.image_size == (32, 48) and ds.target_size == (32, 48)
    assert ds.items[:, 3].tolist() == [0, 0, 1, 1, 2, 2]  # depth of frames 0, 2, 4 held for 1, 3, 5
    x, y = ds[3]
    assert x.shape == (4, 32, 48) and y.shape == (1, 32, 48)
    with h5py.File(store / "frames" / "001.h5", "r") as h5:
        # uint8 / 255 in float32 vs float64: at most 2 float32 roundings of values <= 1
        np.testing.assert_allclose(x[:3].numpy(), h5["frames"][3].transpose(2, 0, 1) / 255, rtol=0,
                                   atol=float_bound(np.float32, 1.0, 1, 2))
    x2, _ = ds[2]
    assert torch.equal(x[3], x2[3])  # frame 3 holds frame 2's depth: the same stored entry, converted alike
    assert ds.input_key(3) == (0, 3, 1)  # video, frames entry, depth entry


def test_salbce_trains_and_evaluates(store, tmp_path):
    for i, video in enumerate(("001", "002", "601")):
        _write_image_shards(store, video, i)
    # the thesis's augmentation and plateau schedule on the validation loss (patience 0: the lr
    # drops after any epoch whose val loss does not improve)
    settings = {"epochs": 3, "batch_size": 4, "width": 0.125, "lr": 1e-3, "prior_bias": True, "plateau_patience": 0,
                "plateau_factor": 0.5}
    assert _train(store, tmp_path / "train", ["--val-gt", str(store / "gt" / "601.h5")], settings=settings,
                  model="salbce_depth_coord") == 0
    record = json.loads((tmp_path / "train" / "train.json").read_text())
    assert record["plateau_on"] == "val" and record["val_videos"] == ["601"]
    assert record["settings"]["augment"] == "thesis" and record["settings"]["batchnorm"] is True
    epochs = record["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and all(e["val_loss"] > 0 for e in epochs)
    # the recorded lrs are what ReduceLROnPlateau makes of the recorded validation losses
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    replay = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    lrs = []
    for e in epochs:
        replay.step(e["val_loss"])
        lrs.append(opt.param_groups[0]["lr"])
    assert [e["lr"] for e in epochs] == lrs
    state = torch.load(tmp_path / "train" / "model.pt", weights_only=True)
    assert state["model"] == "salbce_depth_coord" and state["state_dict"]["features.0.weight"].shape[1] == 6
    out = tmp_path / "results" / "salbce_depth_coord"
    assert main(["evaluate", "--model", "salbce_depth_coord", "--checkpoint", str(tmp_path / "train" / "model.pt"),
                 "--split", "val", str(store / "gt" / "601.h5"), "--out-dir", str(out), "--workers", "1",
                 "--scheduler", "sync", "--overlays", "0", "--device", "cpu"]) == 0
    assert json.loads((out / "metrics.json").read_text())["val"]["n_frames"] == T
    assert "salbce_depth_coord" in json.loads((tmp_path / "train" / "train.json").read_text())["model"]


def test_salbce_starts_from_the_model_of_an_earlier_run(store, tmp_path, capsys):
    """The thesis's two steps in small: salbce_rgb trained first (the SALICON run), then
    salbce_depth_coord with ``init`` = that model.pt: every conv and BatchNorm as trained, the
    depth and y, x filters the mean of the B, G, R ones."""
    for i, video in enumerate(("001", "002", "601")):
        _write_image_shards(store, video, i)
    small = {"epochs": 1, "batch_size": 4, "width": 0.125, "lr": 1e-3, "augment": "none"}
    assert _train(store, tmp_path / "salicon", settings=small, model="salbce_rgb") == 0
    first = torch.load(tmp_path / "salicon" / "model.pt", weights_only=True)["state_dict"]
    init = str(tmp_path / "salicon" / "model.pt")
    spec = get_model("salbce_depth_coord")
    model = spec.build(spec.settings({**small, "init": init}))
    assert model.channel_names == ("B", "G", "R", "depth", "y", "x")
    for key, value in model.state_dict().items():
        if key == "features.0.weight":
            assert torch.equal(value[:, :3], first[key])
            mean = first[key].mean(dim=1)
            for j in (3, 4, 5):
                assert torch.allclose(value[:, j], mean, rtol=0, atol=float_bound(torch.float32, 1.0, 3, 1))
        else:
            assert torch.equal(value, first[key]), key
    # through the training command, recorded in train.json; a model of another width is one line
    assert _train(store, tmp_path / "dhf1k", ["--val-gt", str(store / "gt" / "601.h5")],
                  settings={**small, "init": init}, model="salbce_depth_coord") == 0
    assert json.loads((tmp_path / "dhf1k" / "train.json").read_text())["settings"]["init"] == init
    capsys.readouterr()
    assert _train(store, tmp_path / "wide", settings={**small, "width": 0.25, "init": init}, model="salbce_rgb") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"salprep: error: {init}: ") and "width" in err, err


def test_a_salbce_model_pt_from_before_batchnorm_still_loads(store, tmp_path):
    """model.pt files written before the ``batchnorm`` / ``init`` / ``augment`` keys existed have
    settings without them and a network without BatchNorm: they load as that network."""
    from salprep.models.artifacts import read_model

    for i, video in enumerate(("001", "002")):
        _write_image_shards(store, video, i)
    settings = {"epochs": 1, "batch_size": 4, "width": 0.125, "batchnorm": False, "augment": "none"}
    assert _train(store, tmp_path / "old", settings=settings, model="salbce_rgb") == 0
    state = torch.load(tmp_path / "old" / "model.pt", weights_only=True)
    for key in ("batchnorm", "init", "augment", "rotate"):
        del state["settings"][key]
    torch.save(state, tmp_path / "old" / "model.pt")
    _, model, _ = read_model(str(tmp_path / "old" / "model.pt"), "cpu")
    assert model.batchnorm is False and not model.training


def test_failed_evaluation_leaves_no_partial_results(trained, tmp_path, capsys):
    store = shutil.copytree(trained[0], tmp_path / "store" / "t")  # this test removes a shard
    out = tmp_path / "results" / "lsts_flow"
    args = ["evaluate", "--model", "lsts_flow", "--checkpoint", str(trained[1]), "--split",
            "val", str(store / "gt" / "601.h5"), "--out-dir", str(out), "--workers", "1", "--scheduler", "sync",
            "--overlays", "0", "--device", "cpu"]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (store / "i3d_flow" / "601.h5").unlink()  # the val video's features are gone
    capsys.readouterr()
    assert main(args) == 2
    assert "i3d_flow/601.h5: shard not found" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier results, untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["lsts_flow"]  # no temporary folder left
