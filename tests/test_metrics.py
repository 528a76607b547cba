"""salprep.metrics against hand-computed values, METRICS.md's edge cases and a literal port.

The literal port (benchmarks/metrics_reference.py) follows the MATLAB files line by line; with
the same rng the two must agree to rounding (relative to max(1, |value|): CC and NSS near 0 have
no meaningful relative error). The tolerances follow from the computation (tests/tolerance.py):
the two evaluate the same float64 formulas with sums in other orders (salprep's blocked BLAS dots,
whose kernels differ by CPU, vs numpy's pairwise sums), each within float_bound of the exact
value, so they agree within twice that (:func:`port_tol`, :func:`auc_tol`, :func:`sauc_tol`).
Counts (AUC thresholds) are integers and must agree exactly.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from tolerance import float_bound

from salprep.metrics import judd as M  # the AUC-Judd machinery, patched by the tests below
from salprep.metrics import maps, matlab, sauc
from salprep.metrics import EPS, all_metrics, auc_judd, auc_shuffled, cc, kld, nss, resize_to, sim

_REF_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "metrics_reference.py"
_spec = importlib.util.spec_from_file_location("metrics_reference", _REF_PATH)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)  # type: ignore[union-attr]

NAMES = ("auc_judd", "auc_shuffled", "nss", "cc", "sim", "kld")


def close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(b))


# Hand-computed values on 2x2 / 1x4 maps: at most 16 correctly rounded float64 operations between
# the exact value and either side (small-integer sums are exact: no cancellation), relative.
HAND = float_bound(np.float64, 1.0, 1, 16)


def auc_tol(fix) -> float:
    """AUC-Judd, salprep vs the port: the counts are exact integers; the area sums the
    n_fix + 2 curve points' trapezoids (values in [0, 1]; two divisions, a difference and a
    product each: depth 4), in two orders."""
    return 2 * float_bound(np.float64, 1.0, int(np.count_nonzero(fix)) + 2, 4)


def sauc_tol(n_splits: int = 100, step: float = 0.1) -> float:
    """sAUC, salprep vs the port: per split at most 1 / step + 3 curve points (values in
    [0, 1], depth 4 as for AUC-Judd), averaged over n_splits splits, in two orders."""
    return 2 * float_bound(np.float64, 1.0, (int(round(1 / step)) + 3) * n_splits, 4)


def port_tol(name: str, s, fix) -> float:
    """One metric of an n-pixel map, salprep vs the port: two float64 evaluations of n-term sums
    (normalise, product, square root or log, sum: depth 4), each within float_bound of the exact
    value. Scale: NSS -- the largest |z-score| (the centring is the same numpy mean in both; what
    rounds differently is the spread, scaled by it); KLD -- ln(1 / EPS) = 36, the largest factor
    |ln(EPS + Q / (P + EPS))| of a term Q * ln(...) (sum Q = 1); CC and SIM -- 1 (CC's cross sum is
    <= the product of the root sums of squares it is divided by; SIM sums values <= 1)."""
    if name == "auc_judd":
        return auc_tol(fix)
    if name == "auc_shuffled":
        return sauc_tol()
    s = np.asarray(s, np.float64)
    n = s.size
    if name == "nss":
        scale = max(1.0, float(np.abs(s - s.mean()).max() / s.std(ddof=1)))
    elif name == "kld":
        scale = math.log(1 / EPS)
    else:
        scale = 1.0
    return 2 * float_bound(np.float64, scale, n, 4)


def ref_all(s, f, g, o, seed, jitter=True):
    """The reference functions in all_metrics' rng order: AUC-Judd's jitter, then sAUC."""
    gen = np.random.default_rng(seed)
    return {
        "auc_judd": ref.auc_judd(s, f, jitter=jitter, rng=gen),
        "auc_shuffled": ref.auc_shuffled(s, f, o, rng=gen),
        "nss": ref.nss(s, f),
        "cc": ref.cc(s, g),
        "sim": ref.sim(s, g),
        "kld": ref.kld(s, g),
    }


def smooth_map(rng, shape, blobs=4):
    """A smooth positive float map in (0, 1] (blobs + a little noise), like a model output."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    out = 0.05 + 0.01 * rng.random(shape)
    for _ in range(blobs):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        sy, sx = rng.uniform(3, shape[0] / 3 + 3), rng.uniform(3, shape[1] / 3 + 3)
        out += np.exp(-(((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))
    return out / out.max()


def frame(rng, shape, n_fix, n_other, kind="smooth"):
    """(prediction, fixation map, GT map, other map) of one synthetic frame."""
    if kind == "smooth":
        s = smooth_map(rng, shape)
    elif kind == "uint8":  # an 8-bit PNG prediction: many ties
        s = np.rint(255 * smooth_map(rng, shape)).astype(np.uint8)
    elif kind == "coarse":  # few levels, many ties, zeros
        s = np.floor(4 * smooth_map(rng, shape)) / 4
    elif kind == "random":
        s = rng.random(shape)
    elif kind == "offset":  # large offset, small range: cancellation-prone statistics
        s = 1e4 + smooth_map(rng, shape)
    elif kind == "negative":
        s = smooth_map(rng, shape) - 0.5
    else:
        raise AssertionError(kind)
    fix = np.zeros(shape, dtype=bool)
    fix.flat[rng.choice(fix.size, n_fix, replace=False)] = True
    g = np.zeros(shape)
    g.flat[rng.choice(g.size, max(1, g.size // 4), replace=False)] = rng.random(max(1, g.size // 4))
    other = np.zeros(shape)
    np.add.at(other.reshape(-1), rng.integers(0, other.size, n_other), 1.0)
    return s, fix, g, other


# --------------------------------------------------------------------------------------------
# Hand-computed values
# --------------------------------------------------------------------------------------------


def test_nss_by_hand():
    s = np.array([[0.0, 1.0], [2.0, 3.0]])
    # mean 1.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; sample std = sqrt(5 / 3)
    # fixations on 2 and 3: z = 0.5 / std and 1.5 / std, mean 1 / std = sqrt(3 / 5)
    fix = np.array([[0, 0], [1, 1]], dtype=bool)
    assert nss(s, fix) == pytest.approx(math.sqrt(3 / 5), rel=HAND)
    # one fixation on 3: 1.5 / sqrt(5/3)
    assert nss(s, np.array([[0, 0], [0, 1]])) == pytest.approx(1.5 / math.sqrt(5 / 3), rel=HAND)
    # repeated fixations on one pixel count once (a count map 5 is the same as a 1)
    assert nss(s, np.array([[0, 0], [0, 5]])) == nss(s, np.array([[0, 0], [0, 1]]))


def test_cc_by_hand():
    s = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[1.0, 3.0], [2.0, 4.0]])
    # deviations from 2.5: s (-1.5, -0.5, 0.5, 1.5), g (-1.5, 0.5, -0.5, 1.5)
    # sum of products 2.25 - 0.25 - 0.25 + 2.25 = 4; sums of squares 5 and 5: CC = 4 / 5
    assert cc(s, g) == pytest.approx(0.8, rel=HAND)
    assert cc(s, -g) == pytest.approx(-0.8, rel=HAND)


def test_sim_by_hand():
    s = np.array([[0.0, 1.0], [2.0, 1.0]])
    g = np.array([[1.0, 1.0], [0.0, 0.0]])
    # s: min-max (0, .5, 1, .5), sum 2 -> P = (0, .25, .5, .25)
    # g: min-max (1, 1, 0, 0), sum 2 -> Q = (.5, .5, 0, 0); min(P, Q) = (0, .25, 0, 0)
    assert sim(s, g) == pytest.approx(0.25, rel=HAND)
    assert sim(g, g) == pytest.approx(1.0, rel=HAND)


def test_kld_by_hand():
    s = np.array([[1.0, 1.0], [2.0, 0.0]])
    g = np.array([[1.0, 0.0], [1.0, 0.0]])
    # P = (.25, .25, .5, 0), Q = (.5, 0, .5, 0)
    # KLD = .5 ln(eps + .5 / (.25 + eps)) + .5 ln(eps + .5 / (.5 + eps)) (~ .5 ln 2); Q = 0 terms are 0
    want = 0.5 * math.log(EPS + 0.5 / (0.25 + EPS)) + 0.5 * math.log(EPS + 0.5 / (0.5 + EPS))
    assert kld(s, g) == pytest.approx(want, rel=HAND)
    # the EPS terms move each log by <= 4 EPS (ln(eps + 2 / (1 + 4 eps)) vs ln 2): <= 4 EPS in
    # all, relative to 0.5 ln 2
    assert kld(s, g) == pytest.approx(0.5 * math.log(2.0), rel=HAND + 4 * EPS / (0.5 * math.log(2.0)))


def test_auc_judd_by_hand():
    s = np.array([[0.1, 0.4], [0.35, 0.8]])
    fix = np.array([[0, 0], [1, 1]], dtype=bool)  # on 0.35 and 0.8
    # N = 4, n = 2. Thresholds descending 0.8, 0.35 (order survives the min-max normalisation).
    # t = 0.8: 1 pixel >= t -> tp 1/2, fp (1 - 1) / 2 = 0
    # t = 0.35: 3 pixels >= t -> tp 1, fp (3 - 2) / 2 = 0.5
    # curve (0,0) (0,.5) (.5,1) (1,1): area .5 * (.5 + 1) / 2 + .5 * 1 = 0.875
    assert auc_judd(s, fix, jitter=False) == 0.875
    assert ref.auc_judd(s, fix, jitter=False) == pytest.approx(0.875, rel=HAND)


def test_auc_judd_tie_rule_is_matlabs_not_rank_average():
    # Sparse map: one non-zero pixel; both fixations on zeros (N = 6, n = 2).
    s = np.array([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    fix = np.array([[0, 1, 1, 0, 0, 0]], dtype=bool)
    # Both thresholds are 0 and all 6 pixels are >= 0. MATLAB advances TP by 1/n per fixation:
    # i = 1: tp .5, fp (6 - 1) / 4 = 1.25;  i = 2: tp 1, fp (6 - 2) / 4 = 1
    # trapezoids: 1.25 * (0 + .5) / 2 - .25 * (.5 + 1) / 2 + 0 = .3125 - .1875 = 0.125
    assert auc_judd(s, fix, jitter=False) == 0.125
    assert ref.auc_judd(s, fix, jitter=False) == pytest.approx(0.125, rel=HAND)
    # The rank-average (Mann-Whitney) convention would give P(tie) / 2 = (3/4) / 2 = 0.375.
    pos, neg = s[fix], s[~fix]
    mann_whitney = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert mann_whitney == 0.375


def test_auc_shuffled_by_hand_deterministic_when_k_le_n():
    s = np.array([[0.0, 0.25, 0.5, 1.0]])
    fix = np.array([[0, 0, 1, 1]], dtype=bool)  # positives 0.5, 1.0
    other = np.array([[0, 1, 0, 1]])  # negatives 0.25, 1.0 (k = 2 <= n = 2: every split uses both)
    # thresholds 1.0, .9, ..., 0:  t in [.6, 1]: tp .5 fp .5;  t in [.3, .5]: tp 1 fp .5;
    # t <= .2: tp 1 fp 1.  Curve (0,0) (.5,.5) (.5,1) (1,1): area .125 + 0 + .5 = 0.625
    for seed in (0, 1, 2):
        assert auc_shuffled(s, fix, other, rng=seed) == 0.625
    assert ref.auc_shuffled(s, fix, other, rng=0) == pytest.approx(0.625, rel=HAND)


# --------------------------------------------------------------------------------------------
# METRICS.md edge cases
# --------------------------------------------------------------------------------------------

SHAPE = (30, 40)


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    s, fix, g, other = frame(rng, SHAPE, 12, 40)
    return s, fix, g, other


def test_no_fixated_pixel():
    s, _, g, other = _maps()
    none = np.zeros(SHAPE, dtype=bool)
    assert math.isnan(nss(s, none))
    assert math.isnan(auc_judd(s, none))
    assert math.isnan(auc_judd(s, none, jitter=False))
    assert math.isnan(auc_shuffled(s, none, other))
    out = all_metrics(s, none, g, other, rng=0)
    assert all(math.isnan(out[k]) for k in ("nss", "auc_judd", "auc_shuffled"))
    assert all(math.isfinite(out[k]) for k in ("cc", "sim", "kld"))


@pytest.mark.parametrize("value", [0.5, 0.3])
def test_constant_prediction(value):
    _, fix, g, other = _maps()
    s = np.full(SHAPE, value)
    # 0.3: MATLAB's rounded mean leaves std ~2e-14 and NSS ~1; NaN is the intended answer
    assert math.isnan(nss(s, fix))
    assert math.isnan(cc(s, g))
    assert math.isnan(sim(s, g))
    assert math.isfinite(kld(s, g))
    assert math.isnan(auc_judd(s, fix, jitter=False))
    jittered = auc_judd(s, fix, rng=0)
    assert 0.0 <= jittered <= 1.0 and close(jittered, ref.auc_judd(s, fix, rng=0), auc_tol(fix))
    assert math.isnan(auc_shuffled(s, fix, other))


def test_all_zero_prediction():
    _, fix, g, other = _maps()
    s = np.zeros(SHAPE)
    assert math.isnan(nss(s, fix))
    assert math.isnan(cc(s, g))
    assert sim(s, g) == 0.0
    q = g / g.sum()
    want = float(np.sum(q * np.log(EPS + q / EPS)))  # P stays 0: sum Q ln(eps + Q/eps)
    # two evaluations of a sum of n positive terms (divide, add, log, product: depth 4), relative
    assert kld(s, g) == pytest.approx(want, rel=2 * float_bound(np.float64, 1.0, q.size, 4))
    assert want > 20.0
    assert math.isnan(auc_judd(s, fix, jitter=False))
    assert 0.0 <= auc_judd(s, fix, rng=3) <= 1.0
    assert math.isnan(auc_shuffled(s, fix, other))


def test_empty_other_map():
    s, fix, _, _ = _maps()
    assert math.isnan(auc_shuffled(s, fix, np.zeros(SHAPE)))
    assert math.isnan(ref.auc_shuffled(s, fix, np.zeros(SHAPE)))


def test_prediction_equals_gt():
    rng = np.random.default_rng(5)
    g = 0.01 + rng.random((360, 640))  # positive everywhere: every pixel has a KLD term
    n = g.size
    # ratios of n-term sums of positive values (squares; normalised maps), relative: 1 up to
    # the rounding of the two sums (depth 3: centre or normalise, product or min, sum)
    assert cc(g, g) == pytest.approx(1.0, abs=2 * float_bound(np.float64, 1.0, n, 3))
    assert sim(g, g) == pytest.approx(1.0, abs=2 * float_bound(np.float64, 1.0, n, 3))
    # each term Q ln(eps + Q / (Q + eps)) = Q (-eps / Q + eps) to first order: the sum is
    # -(N - 1) eps, 1 / N from -N eps; rounding: the argument of each log (~1) is off by <= 2 ulp
    # halves (EPS), so each log by <= EPS, each term by <= EPS * Q: <= EPS in all, another 1 / N
    assert kld(g, g) == pytest.approx(-n * EPS, rel=2 / n + float_bound(np.float64, 1.0, n, 2))
    # salprep vs the port: P may differ by an ulp (another summation order), moving each term by
    # <= EPS / 2 * Q: <= EPS / 2 in all, i.e. 1 / (2 N) relative
    assert kld(g, g) == pytest.approx(ref.kld(g, g), rel=1 / (2 * n) + 2 * float_bound(np.float64, 1.0, n, 4))


def test_every_pixel_fixated_auc_judd_is_nan():
    s = np.random.default_rng(0).random((4, 5))
    fix = np.ones((4, 5), dtype=bool)
    assert math.isnan(auc_judd(s, fix, jitter=False))  # fp = 0/0
    assert math.isnan(auc_judd(s, fix, rng=1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_a_map_gives_nan(bad):
    s, fix, g, other = _maps()
    s = s.copy()
    s[3, 4] = bad
    for jitter in (True, False):
        out = all_metrics(s, fix, g, other, rng=0, jitter=jitter)
        assert all(math.isnan(v) for v in out.values())
    g = g.copy()
    g[5, 6] = bad
    assert math.isnan(cc(fix * 1.0, g)) and math.isnan(sim(fix * 1.0, g)) and math.isnan(kld(fix * 1.0, g))


# --------------------------------------------------------------------------------------------
# sAUC details
# --------------------------------------------------------------------------------------------


def test_sauc_one_fixation_on_the_maximum_scores_one():
    rng = np.random.default_rng(2)
    s = rng.random((20, 30))
    fix = np.zeros(s.shape, dtype=bool)
    fix.flat[np.argmax(s)] = True
    other = np.zeros(s.shape)
    order = np.argsort(s, axis=None)
    other.flat[order[-30:-1]] = 1  # high negatives (>= 0.9) but not the maximum itself
    assert s.flat[order[-2]] > 0.9
    # MATLAB's 0:0.1:1 ends with 1.0 itself: TP = 1 at FP = 0. A list that stops below 1
    # (numpy arange) would put the first point at (FP(0.9) > 0, 1).
    assert auc_shuffled(s, fix, other, rng=0) == 1.0
    assert ref.auc_shuffled(s, fix, other, rng=0) == 1.0


def test_sauc_same_seed_same_score_and_generators():
    s, fix, _, other = _maps(3)
    a = auc_shuffled(s, fix, other, rng=11)
    assert auc_shuffled(s, fix, other, rng=11) == a
    assert auc_shuffled(s, fix, other, rng=np.random.default_rng(11)) == a
    assert auc_shuffled(s, fix, other, rng=12) != a  # k > n here: the splits are random


def test_sauc_k_le_n_has_no_randomness():
    rng = np.random.default_rng(4)
    s = rng.random((25, 25))
    fix = np.zeros(s.shape, dtype=bool)
    fix.flat[rng.choice(s.size, 30, replace=False)] = True
    other = np.zeros(s.shape)
    other.flat[rng.choice(s.size, 20, replace=False)] = 2.0  # k = 20 <= n = 30
    scores = {auc_shuffled(s, fix, other, rng=seed) for seed in range(5)}
    assert len(scores) == 1


def test_sauc_converges_to_the_expectation_curve():
    rng = np.random.default_rng(8)
    s = rng.random((40, 50))
    fix = np.zeros(s.shape, dtype=bool)
    fix.flat[rng.choice(s.size, 10, replace=False)] = True
    s[fix] = np.sqrt(s[fix])  # positives a bit higher than chance
    other = np.zeros(s.shape)
    other.flat[rng.choice(s.size, 60, replace=False)] = 1
    sn = (s - s.min()) / (s.max() - s.min())
    pos, cand = sn[fix], sn[other > 0]
    # expectation: one curve with FP(t) = share of all k candidates >= t
    grid = ref.matlab_colon(0.0, 0.1, float(max(pos.max(), cand.max())))[::-1]
    tp = np.r_[0, [(pos >= t).mean() for t in grid], 1]
    fp = np.r_[0, [(cand >= t).mean() for t in grid], 1]
    expected = np.trapezoid(tp, fp)
    got = auc_shuffled(s, fix, other, n_splits=4000, rng=0)
    assert got == pytest.approx(expected, abs=3e-3)  # per-split sd ~0.05 -> SE ~1e-3


def test_sauc_threshold_06_is_exact_on_8bit_maps():
    # MATLAB's 0:0.1:1 is built symmetrically: its 7th element is 1 - 4 * 0.1 = 0.6 exactly,
    # while 6 * 0.1 = 0.6000000000000001. An 8-bit pixel 153 normalises to 153/255 = 0.6.
    row = matlab.colon_grid(0.1, np.array([1.0]))[0]
    assert row[6] == 0.6 and 6 * 0.1 != 0.6
    assert np.array_equal(row, ref.matlab_colon(0.0, 0.1, 1.0))
    s = np.zeros((1, 6), dtype=np.uint8)
    s[0] = [255, 153, 140, 51, 0, 10]
    fix = np.array([[1, 1, 0, 0, 0, 0]], dtype=bool)  # positives 1.0 and 0.6
    other = np.array([[0, 0, 1, 1, 0, 0]])  # negatives 140/255 = 0.549 and 0.2 (k = n: no randomness)
    # exact 0.6: TP reaches 1 at t = 0.6 with FP still 0 -> area 1.0
    # with 0.6000000000000001 instead: (0, .5) -> (.5, 1) at t = 0.5 -> area 0.875
    assert auc_shuffled(s, fix, other, rng=0) == 1.0
    assert ref.auc_shuffled(s, fix, other, rng=0) == 1.0


@pytest.mark.parametrize("step", [0.1, 0.05, 0.25, 1.0, 2.0, 0.3])
def test_colon_grid_matches_matlab_construction(step):
    ends = np.array([0.0, 1e-3, 0.05, 0.3, 0.6, 0.6000000000000001, 0.95, 0.99999999999999989, 1.0, 0.7])
    grid = matlab.colon_grid(step, ends)
    padded = matlab.colon_grid(step, ends, sentinels=True)
    for row, prow, end in zip(grid, padded, ends):
        want = ref.matlab_colon(0.0, step, float(end))
        assert np.array_equal(row[: want.size], want)
        assert np.all(np.isinf(row[want.size :]))
        assert np.array_equal(matlab.colon(step, float(end)), want)  # the one-row version
        assert prow[0] == -np.inf and np.array_equal(prow[1 : want.size + 1], want)
        assert np.all(prow[want.size + 1 :] == np.inf) and prow.size > want.size + 1


def _sauc_twice_area_per_split(pos, cand, sel, step):
    """sAUC's summed twice-areas (count units) with each split's own MATLAB threshold list."""
    total = 0
    for row in sel:
        neg = cand[row]
        thr = ref.matlab_colon(0.0, step, float(max(pos.max(), neg.max())))[::-1]
        tp = np.r_[0, [np.sum(pos >= t) for t in thr], pos.size]
        fp = np.r_[0, [np.sum(neg >= t) for t in thr], neg.size]
        total += int(np.sum(np.diff(fp) * (tp[1:] + tp[:-1])))
    return total


@pytest.mark.parametrize("step", [0.1, 0.05, 0.25, 1.0, 0.3])
def test_sauc_one_threshold_list_equals_one_list_per_split(step):
    """The shortcut (one threshold list for every split) agrees exactly, or declines."""
    rng = np.random.default_rng(31)
    used = declined = 0
    for trial in range(60):
        n, k = int(rng.integers(1, 30)), int(rng.integers(1, 80))
        if trial % 3 == 0:  # 8-bit values (153/255 = 0.6 ...), and one on a multiple of the step
            pos, cand = rng.integers(0, 256, n) / 255, rng.integers(0, 256, k) / 255
            cand[-1] = ref.matlab_colon(0.0, step, 1.0)[-2] if step < 1.0 else 0.5
        else:  # continuous values, with the map's 0 and 1 among them now and then
            pos, cand = rng.random(n), rng.random(k)
            if trial % 3 == 1:
                pos[0], cand[0] = 0.0, 1.0
        pos = np.sort(pos)
        m = min(n, k)
        sel = np.stack([rng.permutation(k)[:m] for _ in range(7)])
        got = sauc._sauc_twice_area_one_grid(pos, cand, sel, step)
        if got is None:
            declined += 1
            continue
        used += 1
        assert got == _sauc_twice_area_per_split(pos, cand, sel, step)
    assert used >= 30 and declined >= (10 if step < 1.0 else 0)


def test_sauc_shortcut_and_per_split_fallback_match_the_port(monkeypatch):
    calls = []
    grid = matlab.colon_grid
    monkeypatch.setattr(sauc, "colon_grid", lambda *a, **k: calls.append(1) or grid(*a, **k))
    s, fix, _, other = frame(np.random.default_rng(32), (60, 80), 15, 120, "smooth")
    assert close(auc_shuffled(s, fix, other, rng=3), ref.auc_shuffled(s, fix, other, rng=3), sauc_tol())
    assert not calls  # continuous values: one threshold list
    s8 = np.rint(255 * s).astype(np.uint8)  # 8-bit values on multiples of 0.1
    assert close(auc_shuffled(s8, fix, other, rng=3), ref.auc_shuffled(s8, fix, other, rng=3), sauc_tol())
    assert calls  # each split's own list


# --------------------------------------------------------------------------------------------
# Against the literal port
# --------------------------------------------------------------------------------------------

CASES = [
    ((7, 9), 5, 15, "random"),
    ((40, 50), 12, 60, "smooth"),
    ((40, 50), 12, 60, "uint8"),
    ((60, 80), 20, 200, "coarse"),
    ((90, 160), 20, 200, "smooth"),
    ((90, 160), 20, 200, "uint8"),
    ((90, 160), 150, 1500, "smooth"),
    ((72, 128), 20, 5, "random"),
    ((72, 128), 20, 200, "offset"),
    ((72, 128), 20, 200, "negative"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_literal_port(case):
    shape, n_fix, n_other, kind = CASES[case]
    rng = np.random.default_rng(case)
    s, fix, g, other = frame(rng, shape, n_fix, n_other, kind)
    for seed in (0, 1):
        got = all_metrics(s, fix, g, other, rng=seed)
        want = ref_all(s, fix, g, other, seed)
        for name in NAMES:
            assert close(got[name], want[name], port_tol(name, s, fix)), (name, got[name], want[name])
        got = all_metrics(s, fix, g, other, rng=seed, jitter=False)
        want = ref_all(s, fix, g, other, seed, jitter=False)
        assert close(got["auc_judd"], want["auc_judd"], auc_tol(fix))
        assert close(got["auc_shuffled"], want["auc_shuffled"], sauc_tol())


def test_auc_judd_exact_on_adversarial_values():
    """Counts must equal MATLAB's loop exactly: ties, merges under normalisation, offsets."""
    rng = np.random.default_rng(21)
    shape = (80, 100)
    maps = [
        np.floor(rng.random(shape) * 3),  # 3 levels
        1.0 + EPS * rng.integers(0, 8, shape),  # range 7 ulps: normalisation is coarse
        1e8 + rng.random(shape),  # offset: (s - min) rounds
        -rng.random(shape) ** 8,  # negative, clustered near 0
        np.where(rng.random(shape) < 0.9, 0.0, rng.random(shape)),  # mostly zero
    ]
    for k, s in enumerate(maps):
        fix = np.zeros(shape, dtype=bool)
        fix.flat[rng.choice(fix.size, 25, replace=False)] = True
        fix.flat[np.argmin(s)] = True
        for jitter in (False, True):
            got = auc_judd(s, fix, jitter=jitter, rng=k)
            want = ref.auc_judd(s, fix, jitter=jitter, rng=k)
            assert close(got, want, auc_tol(fix)), (k, jitter, got, want)


def test_auc_judd_jitter_with_other_bit_generators():
    s, fix, _, _ = frame(np.random.default_rng(9), (60, 90), 15, 10)
    for bg in (np.random.MT19937(4), np.random.Philox(4), np.random.SFC64(4), np.random.PCG64DXSM(4)):
        state = bg.state
        got = auc_judd(s, fix, rng=np.random.Generator(bg))
        bg.state = state
        want = ref.auc_judd(s, fix, rng=np.random.Generator(bg))
        assert close(got, want, auc_tol(fix))


# --------------------------------------------------------------------------------------------
# rng consumption
# --------------------------------------------------------------------------------------------


def _state(gen):
    st = gen.bit_generator.state
    return st["state"], st.get("has_uint32"), st.get("uinteger")


@pytest.mark.parametrize("n_fix,buffered", [(20, False), (20, True), (300, False), (300, True)])
def test_auc_judd_leaves_the_generator_where_the_full_draw_does(n_fix, buffered, monkeypatch):
    # 20 fixations: only the jitter that matters is drawn; 300 scattered ones: the whole map
    calls = []
    exact = M._judd_counts_exact
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: calls.append(1) or exact(*a))
    s, fix, _, _ = frame(np.random.default_rng(1), (360, 640), n_fix, 10, "smooth")
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    if buffered:  # a pending 32-bit half in the bit generator must survive
        g1.integers(0, 2**32, dtype=np.uint32)
        g2.integers(0, 2**32, dtype=np.uint32)
    got = auc_judd(s, fix, rng=g1)
    assert bool(calls) == (n_fix == 300)
    want = ref.auc_judd(s, fix, rng=g2)
    assert close(got, want, auc_tol(fix))
    assert _state(g1) == _state(g2)
    assert g1.integers(0, 2**32, dtype=np.uint32) == g2.integers(0, 2**32, dtype=np.uint32)


def test_sparse_jitter_path_is_taken_and_exact(monkeypatch):
    calls = []
    exact = M._judd_counts_exact
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: calls.append(1) or exact(*a))
    s, fix, _, _ = frame(np.random.default_rng(2), (90, 120), 20, 10, "smooth")
    for seed in range(4):
        assert close(auc_judd(s, fix, rng=seed), ref.auc_judd(s, fix, rng=seed), auc_tol(fix))
    assert not calls  # no full-map draw was needed
    s8 = np.rint(255 * s).astype(np.uint8)  # ties: the pixels tied with a fixation are drawn too
    assert close(auc_judd(s8, fix, rng=0), ref.auc_judd(s8, fix, rng=0), auc_tol(fix))
    assert not calls
    big = resize_to(s, (360, 640))
    many = np.zeros(big.shape, dtype=bool)
    many.flat[np.random.default_rng(0).choice(many.size, 300, replace=False)] = True
    assert close(auc_judd(big, many, rng=0), ref.auc_judd(big, many, rng=0), auc_tol(many))
    assert calls  # too many scattered pixels to draw one by one: the whole map


def test_sparse_jitter_merge_guard(monkeypatch):
    """A drawn value 1 ulp below a threshold might merge with it when normalised: full draw."""
    shape = (60, 80)
    n = shape[0] * shape[1]
    seed = 3
    u = np.random.default_rng(seed).random(n)
    s = smooth_map(np.random.default_rng(4), shape)
    fix = np.zeros(shape, dtype=bool)
    q, p = 1000, 2500  # q fixated; p placed so that its jittered value is just below q's
    fix.flat[[q, 77, 3001]] = True
    jq = s.flat[q] + u[q] / 1e7
    target = np.nextafter(jq, -np.inf)
    sp = target - u[p] / 1e7
    for _ in range(64):  # find s_p with fl(s_p + u_p / 1e7) == the float just below J_q
        if sp + u[p] / 1e7 == target:
            break
        sp = np.nextafter(sp, np.inf if sp + u[p] / 1e7 < target else -np.inf)
    assert sp + u[p] / 1e7 == target
    s.flat[p] = sp
    calls = []
    exact = M._judd_counts_exact
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: calls.append(1) or exact(*a))
    assert close(auc_judd(s, fix, rng=seed), ref.auc_judd(s, fix, rng=seed), auc_tol(fix))
    assert calls  # the guard sent it to the full draw


def test_bucketize_against_brute_force():
    """above[q] counts the values > hi[q] outside the special buckets, and every value in a
    window is special; narrow windows (a bucket or two) and wide ones (many buckets)."""
    rng = np.random.default_rng(33)
    for trial in range(40):
        v = rng.random(5000) if trial % 2 else np.round(rng.random(5000), 3)
        vmin, vmax = float(v.min()), float(v.max())
        n = int(rng.integers(1, 25))
        centre = np.sort(rng.choice(v, n))
        width = 10.0 ** rng.uniform(-12, -1)  # from far inside one bucket to many buckets
        lo, hi = centre - width * rng.random(), centre + width * rng.random()
        lo, hi = np.sort(lo), np.sort(hi)
        hi = np.maximum(hi, lo)
        above, special = M._bucketize(v, vmin, vmax, lo, hi)
        is_special = np.zeros(v.size, dtype=bool)
        is_special[special] = True
        in_window = ((v[:, None] >= lo) & (v[:, None] <= hi)).any(axis=1)
        assert np.all(is_special[in_window])
        free = v[~is_special]
        assert np.array_equal(above, [(free > h).sum() for h in hi])


def _near_and_crowded(s, fix):
    """Pixels within [t - 3e-7, t + 2e-7] of a fixated value t, and those of them with another
    one within 1e-6 (brute force)."""
    v, t = s.ravel(), s[fix]
    near = np.flatnonzero(((v[:, None] >= t - 3e-7) & (v[:, None] <= t + 2e-7)).any(axis=1))
    nv = v[near]
    return near, near[(np.abs(nv[:, None] - nv[None, :]) <= 1e-6).sum(axis=1) > 1]


def test_sparse_jitter_draws_only_the_crowded_near_pixels(monkeypatch):
    drawn, exact_calls = [], []
    draw, exact = M._draw_at, M._judd_counts_exact
    monkeypatch.setattr(M, "_draw_at", lambda g, p, total: drawn.append(p.tolist()) or draw(g, p, total))
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: exact_calls.append(1) or exact(*a))
    rng = np.random.default_rng(34)
    shape = (90, 120)
    s = rng.permutation(shape[0] * shape[1]).reshape(shape) / 1e4  # values 1e-4 apart
    fix = np.zeros(shape, dtype=bool)
    fixed = rng.choice(s.size, 20, replace=False)
    fix.flat[fixed] = True
    # no other near pixel: nothing is drawn, the generator only advances
    for seed in range(3):
        g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
        assert close(auc_judd(s, fix, rng=g1), ref.auc_judd(s, fix, rng=g2), auc_tol(fix))
        assert _state(g1) == _state(g2)
    assert drawn == [[]] * 3
    # company within 1e-7, 2.5e-7 (near) and 8e-7 (not near) of three fixated values
    free = rng.choice(np.flatnonzero(~fix), 6, replace=False)
    for k, (f, gap) in enumerate(zip(fixed[:3], (1e-7, 2.5e-7, 8e-7))):
        s.flat[free[2 * k]] = s.flat[f] + gap
        s.flat[free[2 * k + 1]] = s.flat[f] - gap
    near, crowded = _near_and_crowded(s, fix)
    assert near.size == 23 and crowded.size == 5  # 2 fixations and their 3 near companions
    drawn.clear()
    for seed in range(6):
        g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
        assert close(auc_judd(s, fix, rng=g1), ref.auc_judd(s, fix, rng=g2), auc_tol(fix))
        assert _state(g1) == _state(g2)
    assert drawn == [crowded.tolist()] * 6
    assert not exact_calls


def test_sparse_jitter_many_near_pixels_are_all_drawn(monkeypatch):
    drawn, exact_calls = [], []
    draw, exact = M._draw_at, M._judd_counts_exact
    monkeypatch.setattr(M, "_draw_at", lambda g, pos, total: drawn.append(len(pos)) or draw(g, pos, total))
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: exact_calls.append(1) or exact(*a))
    s, fix, _, _ = frame(np.random.default_rng(2), (90, 120), 20, 10, "smooth")
    s8 = np.rint(255 * s) / 255  # ties: dozens of pixels share each fixated value
    near, _ = _near_and_crowded(s8, fix)
    for seed in range(3):
        g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
        assert close(auc_judd(s8, fix, rng=g1), ref.auc_judd(s8, fix, rng=g2), auc_tol(fix))
        assert _state(g1) == _state(g2)
    assert not exact_calls and drawn == [near.size] * 3 and near.size > M._SPARSE_JITTER_FEW


@pytest.mark.parametrize("kind", ["too many near pixels", "too many runs"])
def test_sparse_jitter_falls_back_to_the_full_draw(kind, monkeypatch):
    calls = []
    exact = M._judd_counts_exact
    monkeypatch.setattr(M, "_judd_counts_exact", lambda *a: calls.append(1) or exact(*a))
    rng = np.random.default_rng(37)
    if kind == "too many near pixels":  # 4 levels: every pixel ties with a fixated value
        s = np.floor(4 * smooth_map(rng, (120, 160))) / 4
    else:  # 200 pixels 300 apart, in 10 groups of ties: too many runs to draw one by one
        s = rng.random((300, 400))
        ties = np.arange(150, s.size, 300)[:200]
        s.flat[ties] = np.repeat(rng.random(10), 20)
    fix = np.zeros(s.shape, dtype=bool)
    fix.flat[rng.choice(s.size, 20, replace=False) if kind == "too many near pixels" else ties[::10]] = True
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    assert close(auc_judd(s, fix, rng=g1), ref.auc_judd(s, fix, rng=g2), auc_tol(fix))
    assert _state(g1) == _state(g2)
    assert calls


def test_all_zero_gt_map():
    s, _, _, _ = _maps()
    g = np.zeros(SHAPE)
    assert kld(s, g) == 0.0 == ref.kld(s, g)  # Q = 0: every term is 0
    assert sim(s, g) == 0.0 == ref.sim(s, g)
    assert math.isnan(cc(s, g)) and math.isnan(ref.cc(s, g))


def test_dot_in_blocks():
    rng = np.random.default_rng(36)
    for n in (1, 100, 8192, 8193, 3 * 8192, 3 * 8192 + 17, 230400):
        a, b = rng.random(n) - 0.5, rng.random(n)
        exact = math.fsum(a * b)
        # n-term sum in blocks (BLAS kernels differ by CPU); partial sums of these zero-mean
        # terms stay within |exact| + the root sum of squares of the terms
        scale = abs(exact) + float(np.sqrt(np.sum((a * b) ** 2)))
        assert maps.dot(a, b) == pytest.approx(exact, rel=0, abs=float_bound(np.float64, scale, n, 1))


def test_sauc_consumes_one_permutation_per_split():
    s, fix, _, other = _maps(6)
    k = int(np.count_nonzero(other))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    auc_shuffled(s, fix, other, n_splits=7, rng=g1)
    for _ in range(7):
        g2.permutation(k)
    assert _state(g1) == _state(g2)


def test_all_metrics_equals_the_individual_functions_exactly():
    for kind in ("smooth", "uint8", "random"):
        s, fix, g, other = frame(np.random.default_rng(10), (72, 96), 18, 150, kind)
        for seed in (0, 1):
            got = all_metrics(s, fix, g, other, rng=seed)
            gen = np.random.default_rng(seed)
            want = {
                "auc_judd": auc_judd(s, fix, rng=gen),  # the jitter first,
                "auc_shuffled": auc_shuffled(s, fix, other, rng=gen),  # then sAUC's splits
                "nss": nss(s, fix),
                "cc": cc(s, g),
                "sim": sim(s, g),
                "kld": kld(s, g),
            }
            assert list(got) == list(NAMES)
            assert got == want
        gen = np.random.default_rng(3)
        got = all_metrics(s, fix, g, other, rng=gen, jitter=False, n_splits=20, step_size=0.05)
        assert got["auc_judd"] == auc_judd(s, fix, jitter=False)
        assert got["auc_shuffled"] == auc_shuffled(s, fix, other, n_splits=20, step_size=0.05, rng=3)


# --------------------------------------------------------------------------------------------
# Inputs: dtypes, no modification, resizing, validation
# --------------------------------------------------------------------------------------------


def test_inputs_are_not_modified_and_read_only_inputs_work():
    s, fix, g, other = frame(np.random.default_rng(12), (50, 70), 15, 100, "smooth")
    arrays = [s, fix, g, other, s.astype(np.float32)]
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.setflags(write=False)
    for pred in (s, arrays[4]):
        all_metrics(pred, fix, g, other, rng=0)
        auc_judd(pred, fix, rng=0)
        auc_judd(pred, fix, jitter=False)
        auc_shuffled(pred, fix, other, rng=0)
        nss(pred, fix), cc(pred, g), sim(pred, g), kld(pred, g)
        all_metrics(pred[::2, ::2], fix, g, other, rng=0)  # resize path
    for a, c in zip(arrays, copies):
        assert np.array_equal(a, c)


def test_float32_and_uint8_inputs_are_cast_to_float64_first():
    s, fix, g, other = frame(np.random.default_rng(13), (50, 70), 15, 100, "smooth")
    s32 = s.astype(np.float32)
    s8 = np.rint(255 * s).astype(np.uint8)
    g32 = g.astype(np.float32)
    for low in (s32, s8):
        assert all_metrics(low, fix, g32, other, rng=4) == all_metrics(
            low.astype(np.float64), fix, g32.astype(np.float64), other, rng=4
        )
    # fixation and other maps: bool, uint8 or counts (> 0 marks a pixel)
    assert nss(s, fix.astype(np.uint8) * 3) == nss(s, fix)
    assert auc_shuffled(s, fix, other > 0, rng=1) == auc_shuffled(s, fix, other, rng=1)


def test_resize_path_equals_explicit_resize():
    s, fix, g, other = frame(np.random.default_rng(14), (60, 96), 15, 100, "smooth")
    small = s[::3, ::2] + 0.0  # 20 x 48 prediction for a 60 x 96 GT
    big = resize_to(small, fix.shape)
    assert big.shape == fix.shape and big.dtype == np.float64
    assert all_metrics(small, fix, g, other, rng=2) == all_metrics(big, fix, g, other, rng=2)
    assert nss(small, fix) == nss(big, fix)
    assert cc(small, g) == cc(big, g)
    assert auc_judd(small, fix, jitter=False) == auc_judd(big, fix, jitter=False)
    large = resize_to(s, (150, 200))  # shrinking path too
    assert sim(large, g) == sim(resize_to(large, g.shape), g)


def test_resize_matches_matlab_imresize():
    # imresize([0 1], [1 4]) by hand: scale 2, output x samples u = x/2 + 1/4; Keys a = -0.5
    # weights c(.25) = .8671875, c(.75) = .2265625, c(1.25) = -.0703125, c(1.75) = -.0234375.
    # x = 1 (u = .75): taps at 0, 1 (clamped to 1), 2 -> in(1) * (c(1.75) + c(.75) + c(.25))
    #   + in(2) * c(1.25) = -0.0703125 for in = [0 1] (replicated edge, no renormalisation);
    # x = 2 (u = 1.25): in(1) * (c(1.25) + c(.25)) + in(2) * (c(.75) + c(1.75)) = 0.203125
    out = resize_to(np.array([[0.0, 1.0]]), (1, 4))
    assert np.array_equal(out, [[-0.0703125, 0.203125, 0.796875, 1.0703125]])
    a = np.random.default_rng(0).random((13, 17))
    assert np.array_equal(resize_to(a, a.shape), a)
    # weights summing to 1 applied to 0.7: <= 12 taps per output (4 x the shrink 11 / 5, rounded
    # up), weights from a cubic (~4 operations) and 2 passes (depth 6), sum |w| <= 1.25 (Keys)
    assert np.allclose(resize_to(np.full((9, 11), 0.7), (20, 5)), 0.7, rtol=0,
                       atol=float_bound(np.float64, 0.7 * 1.25, 12, 6))


@pytest.mark.parametrize("src,dst", [((40, 60), (90, 160)), ((120, 200), (45, 70)), ((50, 50), (32, 32))])
def test_resize_interior_matches_torch_antialiased_bicubic(src, dst):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).random(src)
    ours = resize_to(a, dst)
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(a)[None, None], size=dst, mode="bicubic", antialias=True, align_corners=False
    )[0, 0].numpy()
    # same kernel and support; only the border differs (MATLAB replicates, torch renormalises)
    mh = int(3 * max(1, src[0] / dst[0]) * max(1, dst[0] / src[0])) + 2
    mw = int(3 * max(1, src[1] / dst[1]) * max(1, dst[1] / src[1])) + 2
    # two float64 evaluations: <= 4 x the shrink factor taps (<= 12 here), weights from a cubic
    # (~4 operations) and 2 passes (depth 6), values in [0, 1], sum |w| <= 1.25 (Keys kernel)
    taps = 4 * math.ceil(max(1, src[0] / dst[0], src[1] / dst[1]))
    assert np.abs(ours - theirs)[mh:-mh, mw:-mw].max() <= 2 * float_bound(np.float64, 1.25, taps, 6)
    assert np.abs(ours - theirs).max() < 0.1


def test_bad_arguments():
    s, fix, g, other = _maps()
    with pytest.raises(ValueError):
        nss(s[None], fix)
    with pytest.raises(ValueError):
        auc_shuffled(s, fix, other[:5])
    with pytest.raises(ValueError):
        auc_shuffled(s, fix, other, step_size=0)
    with pytest.raises(ValueError):
        auc_shuffled(s, fix, other, n_splits=0)
    with pytest.raises(ValueError):
        all_metrics(s, fix, g[:5], other)
    with pytest.raises(ValueError):
        cc(np.zeros((0, 3)), g)


def test_threads_do_not_share_work_arrays():
    from concurrent.futures import ThreadPoolExecutor

    frames = [frame(np.random.default_rng(20 + k), (90, 160), 20, 200, "smooth") for k in range(6)]
    frames = [(s.astype(np.float32), f, g.astype(np.float32), o) for s, f, g, o in frames]
    serial = [all_metrics(*fr, rng=k) for k, fr in enumerate(frames)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(lambda k: all_metrics(*frames[k], rng=k), range(6)))
    assert threaded == serial
