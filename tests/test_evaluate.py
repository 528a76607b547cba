"""The DHF1K protocol over GT shards, the centre-bias baseline and the evaluate/train commands."""

import json

import h5py
import numpy as np
import pytest
from conftest import TINY_SHAPE
from tolerance import float_bound

from salprep import metrics
from salprep.baselines import center_bias_prior
from salprep.cli import main
from salprep.store import read_scaled
from salprep.evaluate import METRICS, PriorPredictor, evaluate_split, load_gt_index, other_map, sample_frames


@pytest.fixture
def gt_shards(tiny_dhf1k, tmp_path):
    root, _ = tiny_dhf1k
    paths = []
    for video in ("001", "601"):
        out = tmp_path / "store" / "tiny" / "gt" / f"{video}.h5"
        assert main(["gt", "--root", str(root), "--video", video, "--out", str(out)]) == 0
        paths.append(out)
    return paths


class OwnMaps:
    """Predicts each frame's own built GT map (the best possible prediction of CC/SIM/KLD)."""

    def predict(self, video, frames):
        with h5py.File(video.path, "r") as h5:
            return np.stack([read_scaled(h5["maps"], int(t)) for t in frames])


def test_perfect_prediction_scores(gt_shards):
    result = evaluate_split(gt_shards, OwnMaps(), gt_maps="built", progress=False)
    s = result["summary"]
    assert s["n_frames"] == 12
    n = TINY_SHAPE[0] * TINY_SHAPE[1]
    # CC and SIM of a map with itself: ratios of n-term float64 sums of positive values (depth 3:
    # centre or normalise, square or min, sum), 1 up to their rounding
    one = 2 * float_bound(np.float64, 1.0, n, 3)
    assert s["cc"] == pytest.approx(1.0, rel=0, abs=one) and s["sim"] == pytest.approx(1.0, rel=0, abs=one)
    # KLD of a map with itself: each term Q ln(eps + Q / (Q + eps)) ~ -eps Q + ... ~ -eps: about
    # -n eps, plus <= eps of rounding (test_metrics.test_prediction_equals_gt)
    assert abs(s["kld"]) <= (n + 2) * metrics.EPS
    assert s["auc_judd"] > 0.9 and s["nss"] > 1.5  # sigma 12.7 px blobs cover much of 80x48
    assert set(result["per_video"]) == {"001", "601"}
    assert len(result["per_frame"]) == 12


def test_per_frame_scores_follow_the_protocol(gt_shards):
    """Each frame's scores equal the metric functions called by hand with the documented rng."""
    prior = np.random.default_rng(5).random((24, 40))  # another size: resized to the GT's
    seed = 7
    result = evaluate_split(gt_shards, PriorPredictor(prior), seed=seed, progress=False, gt_maps="auto")
    index = load_gt_index(gt_shards)
    frames = sample_frames(index, 50_000, seed)
    for row in result["per_frame"][::3]:
        vi = [v.video for v in index].index(row["video"])
        t = row["frame"]
        rng = np.random.default_rng([seed, vi, t])
        other = other_map(index, frames, 10, rng)
        with h5py.File(index[vi].path, "r") as h5:
            fix = h5["fixations"][t]
            gt = h5["shipped_maps"][t] / 255.0
        expected = {
            "auc_judd": metrics.auc_judd(prior, fix, rng=rng),
            "auc_shuffled": metrics.auc_shuffled(prior, fix, other, rng=rng),
            "nss": metrics.nss(prior, fix),
            "cc": metrics.cc(prior, gt),
            "sim": metrics.sim(prior, gt),
            "kld": metrics.kld(prior, gt),
        }
        # the same metric functions on the same maps, possibly in worker processes: float64
        # n-term sums (depth 4) within float_bound, at the KLD's largest factor ln(1 / EPS) = 36
        tol = 2 * float_bound(np.float64, np.log(1 / metrics.EPS), fix.size, 4)
        for name in METRICS:
            assert row[name] == pytest.approx(expected[name], rel=tol, abs=tol, nan_ok=True), name


def test_results_do_not_depend_on_workers_and_seed_matters(gt_shards):
    prior = np.ones((48, 80))
    prior[20:30, 30:50] = 2
    a = evaluate_split(gt_shards, PriorPredictor(prior), workers=1, progress=False)
    b = evaluate_split(gt_shards, PriorPredictor(prior), workers=3, progress=False)
    c = evaluate_split(gt_shards, PriorPredictor(prior), seed=1, scheduler="sync", progress=False)
    assert a["per_frame"] == b["per_frame"]
    assert a["summary"]["auc_shuffled"] != c["summary"]["auc_shuffled"]


@pytest.fixture(scope="module")
def dask_cluster():
    """A local dask.distributed cluster reached over TCP (what --scheduler ADDRESS reaches): tasks and
    results cross the connection serialised, as to any cluster. Its two workers are threads of this
    process (worker processes would cost four Python starts, nannies included, for nothing more)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_every_scheduler_gives_the_serial_scores(gt_shards, dask_cluster):
    """Local processes (the default), threads and a distributed cluster score exactly like the
    serial path: every frame's randomness comes from the seed, not from the schedule."""
    predictor = OwnMaps()
    serial = evaluate_split(gt_shards, predictor, scheduler="sync", progress=False)
    for scheduler, workers in (("processes", 2), ("threads", 2), (dask_cluster, 1)):
        other = evaluate_split(gt_shards, predictor, scheduler=scheduler, workers=workers, progress=False)
        assert other["per_frame"] == serial["per_frame"], scheduler
        assert other["summary"] == serial["summary"]


def test_unreachable_scheduler_is_one_line(gt_shards, monkeypatch):
    from salprep import evaluate
    from salprep.errors import SalprepError

    monkeypatch.setattr(evaluate, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SalprepError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        evaluate_split(gt_shards, OwnMaps(), scheduler="tcp://127.0.0.1:9", progress=False)


def test_subsample_and_nan_pooling(gt_shards):
    with h5py.File(gt_shards[0], "a") as h5:  # frame 2 of 001 loses its fixations
        fp = h5["fixation_points"][...]
        del h5["fixation_points"]
        h5["fixation_points"] = fp[fp[:, 0] != 2]
        h5["fixations"][2] = 0
    prior = np.random.default_rng(0).random((48, 80))
    result = evaluate_split(gt_shards, PriorPredictor(prior), progress=False)
    empty = [r for r in result["per_frame"] if r["video"] == "001" and r["frame"] == 2][0]
    assert np.isnan(empty["auc_judd"]) and np.isnan(empty["nss"]) and np.isnan(empty["auc_shuffled"])
    assert np.isfinite(empty["cc"])
    finite_nss = [r["nss"] for r in result["per_frame"] if np.isfinite(r["nss"])]
    # a mean of the same values, perhaps summed in another order
    scale = max(abs(v) for v in finite_nss)
    assert result["summary"]["nss"] == pytest.approx(np.mean(finite_nss), rel=0,
                                                    abs=2 * float_bound(np.float64, scale, len(finite_nss), 1))
    assert result["summary"]["n_frames"] == 12
    sub = evaluate_split(gt_shards, PriorPredictor(prior), max_frames=5, progress=False)
    assert sub["summary"]["n_frames"] == 5 and len(sub["per_frame"]) == 5


def test_center_bias_prior_is_mean_map(gt_shards):
    prior = center_bias_prior(gt_shards, progress=False)
    with h5py.File(gt_shards[0], "r") as a, h5py.File(gt_shards[1], "r") as b:
        mean = np.concatenate([read_scaled(a["maps"]), read_scaled(b["maps"])]).astype(np.float64).mean(axis=0)
    # float64 sums of the same float32 maps (values in [0, 1]) over the 12 frames, then / max:
    # two evaluations, relative
    np.testing.assert_allclose(prior, mean / mean.max(), rtol=2 * float_bound(np.float64, 1.0, 12, 2))


def test_train_and_evaluate_commands(gt_shards, tmp_path, capsys):
    train_dir, out = tmp_path / "train", tmp_path / "results" / "center_bias"
    assert main(["train", "--model", "center_bias", "--gt", str(gt_shards[0]), "--out-dir", str(train_dir),
                 "--config-json", '{"dataset": "tiny"}']) == 0
    assert main(["evaluate", "--model", "center_bias", "--checkpoint", str(train_dir / "model.pt"),
                 "--split", "val", str(gt_shards[1]), "--split", "train", str(gt_shards[0]),
                 "--out-dir", str(out), "--overlays", "2", "--config-json", '{"dataset": "tiny"}']) == 0
    assert "center_bias val (6 frames)" in capsys.readouterr().out
    result = json.loads((out / "metrics.json").read_text())
    assert set(result) == {"val", "train"}
    for split in result.values():
        assert set(split) == set(METRICS) | {"n_frames", "n_scored"}
        assert split["n_frames"] == 6
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["config"] == {"dataset": "tiny"} and len(prov["shards"]) == 2
    assert all(len(s["sha256"]) == 64 for s in prov["shards"])
    assert prov["train"]["train_shards"][0]["stage"] == "gt"
    assert not (out / "model.pt").exists()  # CONTRACT: no model.pt for center_bias
    for name in ("prior.png", "per_frame.csv", "per_video.csv", "scores_val.png",
                 "overlays_val.png", "overlays_train.png"):
        assert (out / name).stat().st_size > 0, name


def test_progress_is_tqdm_dask_and_follows_salprep_progress(gt_shards, monkeypatch, capsys):
    prior = center_bias_prior(gt_shards, progress=False)
    monkeypatch.setenv("SALPREP_PROGRESS", "1")
    # threads: the bar is dask's callback, the same for every local scheduler (processes are
    # scored in test_every_scheduler_gives_the_serial_scores)
    shown = evaluate_split(gt_shards, PriorPredictor(prior), workers=2, scheduler="threads")
    assert "evaluate" in capsys.readouterr().err  # tqdm.dask.TqdmCallback's bar
    monkeypatch.setenv("SALPREP_PROGRESS", "0")
    quiet = evaluate_split(gt_shards, PriorPredictor(prior), workers=2, scheduler="threads")
    assert "evaluate" not in capsys.readouterr().err
    assert shown["summary"] == quiet["summary"]
