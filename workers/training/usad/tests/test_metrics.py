"""The benchmark's metrics (usad/msl.py), the only ones behind bench/results/msl.json: hand-checked cases and a
literal point-by-point reading of the VUS reference definition (Paparrizos et al., VLDB 2022) to compare with the
vectorised implementation."""
import math

import numpy as np
import pytest

from usad import msl

Y = np.array([0, 0, 1, 1, 0, 0, 0, 0])
S = np.array([0.1, 0.2, 0.9, 0.5, 0.8, 0.3, 0.0, 0.4])


def test_average_precision_by_hand():
    # ranks: 0.9 (+), 0.8 (-), 0.5 (+): AP = 1/2 * 1 + 1/2 * 2/3
    assert msl.average_precision(Y, S) == pytest.approx(0.5 + 1 / 3)
    # ties enter together: both positives tied with one negative at the top -> AP = 1 * 2/3
    assert msl.average_precision(np.array([1, 1, 0, 0]), np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(2 / 3)


def test_f1_at_a_given_threshold():
    r = msl.f1_at(Y, S, 0.45)  # predicts 0.9, 0.5, 0.8: tp 2, fp 1
    assert r["f1"] == pytest.approx(0.8) and r["precision"] == pytest.approx(2 / 3) and r["recall"] == 1.0
    assert r["alarm_fraction"] == pytest.approx(3 / 8)
    assert msl.f1_at(Y, S, 2.0)["f1"] == 0.0


def test_a_score_equal_to_the_threshold_does_not_alarm():
    # 0.5 ties the threshold: not above it, so only 0.9 and 0.8 alarm
    r = msl.f1_at(Y, S, 0.5)
    assert r["alarm_fraction"] == pytest.approx(2 / 8) and r["recall"] == 0.5
    # a constant validation stretch: its 0.99 quantile is the constant, and test windows equal to it are normal
    val = np.full(300, 0.25)
    test = np.r_[np.full(90, 0.25), np.full(10, 3.0)]
    y = np.r_[np.zeros(90), np.ones(10)]
    th = float(np.quantile(val, 0.99))
    assert np.mean(val > th) <= 0.01  # the quantile's promise on normal validation windows holds
    assert msl.f1_at(y, test, th)["f1"] == 1.0


def test_vus_pr_by_hand():
    # 8 thresholds on 8 points = every score; buffers l = 0, 1, 2.
    # l = 0, 1 (no buffer): precision/recall steps (1, 1/2), (1/2, 1/2), (2/3, 1): AP = 1/2 + 1/2 * (2/3 + 1/2) / 2
    ap0 = 0.5 + 0.5 * (2 / 3 + 0.5) / 2
    # l = 2: one buffer point each side with weight sqrt(1 - 1/2); P_new = (2 + 2 + 2 w) / 2
    w = math.sqrt(0.5)
    pn = (4 + 2 * w) / 2
    r1, r2 = 1 / pn, (1 + w) / pn
    p1, p2, p3 = 1.0, (1 + w) / 2, (2 + w) / 3
    ap2 = r1 * (1 + p1) / 2 + (r2 - r1) * (p1 + p2) / 2 + (1 - r2) * (p2 + p3) / 2
    assert msl.vus_pr(Y, S, max_buffer=2, n_thresholds=8) == pytest.approx((2 * ap0 + ap2) / 3, abs=1e-12)
    assert msl.vus_pr(Y, S, max_buffer=0, n_thresholds=8) == pytest.approx(ap0)


def vus_pr_literal(y, s, max_buffer, n_thresholds=250):
    """The reference definition point by point, one threshold and one buffer at a time, no shortcuts."""
    n = len(y)
    runs, i = [], 0
    while i < n:
        if y[i]:
            j = i
            while j + 1 < n and y[j + 1]:
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    desc = sorted(s, reverse=True)
    thresholds = [desc[int(k)] for k in np.linspace(0, n - 1, n_thresholds)]
    total = 0.0
    for l in range(max_buffer + 1):
        h = l // 2
        soft = [float(v) for v in y]
        for a, b in runs:
            for x in range(b + 1, min(b + h + 1, n)):
                soft[x] += math.sqrt(1 - (x - b) / l)
            for x in range(max(a - h, 0), a):
                soft[x] += math.sqrt(1 - (a - x) / l)
        soft = [min(v, 1.0) for v in soft]
        groups = [list(runs[0])]
        for a, b in runs[1:]:
            if groups[-1][1] + h < a - h:
                groups.append([a, b])
            else:
                groups[-1][1] = b
        p_new = (sum(y) + sum(soft)) / 2
        rec, prec = [0.0], [1.0]
        for t in thresholds:
            pred = [v >= t for v in s]
            tp = sum(w for w, p in zip(soft, pred) if p)
            hit = sum(any(pred[x] and soft[x] > 0 for x in range(max(a - h, 0), min(b + h, n - 1) + 1))
                      for a, b in groups)
            rec.append(min(tp / p_new, 1) * hit / len(groups))
            prec.append(tp / sum(pred))
        total += sum((rec[k] - rec[k - 1]) * (prec[k] + prec[k - 1]) / 2 for k in range(1, len(rec)))
    return total / (max_buffer + 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vus_pr_equals_the_literal_definition(seed):
    rng = np.random.default_rng(seed)
    n = 400
    y = np.zeros(n, dtype=np.int8)
    y[[0, 1, 2]] = 1  # a run at the series start
    y[50:60] = 1
    y[64:70] = 1  # close to the previous one: buffers merge for larger l
    y[200] = 1  # a one-point run
    y[396:] = 1  # a run to the series end
    s = rng.random(n) + 0.6 * y * rng.random(n)
    s[100:140] = 0.25  # ties
    for buf, thr in ((0, 250), (7, 250), (12, 400), (12, 37)):
        assert msl.vus_pr(y, s, buf, thr) == pytest.approx(vus_pr_literal(y, s, buf, thr), abs=1e-10)


def test_vus_pr_ranks_a_perfect_score_first():
    y = np.zeros(300, dtype=np.int8)
    y[100:120] = 1
    perfect = y.astype(float)
    noise = np.random.default_rng(0).random(300)
    assert msl.vus_pr(y, perfect, 12) > msl.vus_pr(y, noise, 12)
    assert msl.vus_pr(y, perfect, 0) == pytest.approx(1.0)


def test_stream_normalisation_is_causal_and_scale_free():
    rng = np.random.default_rng(0)
    s = rng.random(200) + 1.0
    x = msl.stream_normalise(s, seed_median=1.5)
    assert x[:msl.MIN_HISTORY] == pytest.approx(s[:msl.MIN_HISTORY] / (1.5 + 1e-6))
    assert x[50] == pytest.approx(s[50] / (np.median(s[:50]) + 1e-6))
    assert x[51] == pytest.approx(s[51] / (np.median(s[:51]) + 1e-6))
    changed = s.copy()
    changed[120:] *= 10  # the future does not move the past
    assert msl.stream_normalise(changed, 1.5)[:120] == pytest.approx(x[:120])
    assert msl.stream_normalise(3 * s, 4.5) == pytest.approx(x, rel=1e-5)  # a channel's scale drops out


def test_stream_floor_is_the_validation_mean():
    assert msl.validation_floor(np.array([0.0, 0.0, 0.0, 3.0])) == pytest.approx(0.75)
    assert msl.validation_floor(np.array([1.0, 2.0, 6.0])) == pytest.approx(3.0)
    assert msl.validation_floor(np.array([])) == 0.0
    # a stream busier than validation is divided by its own running median, the floor does not touch it
    busy = np.full(40, 10.0)
    assert msl.stream_normalise(busy, 3.0, floor=3.0)[-1] == pytest.approx(10.0 / (10.0 + 1e-6))
    s = np.array([0.0] * 30 + [1.5])
    assert msl.stream_normalise(s, 0.0, floor=0.75)[-1] == pytest.approx(1.5 / (0.75 + 1e-6))
    assert msl.stream_normalise(s, 0.0)[-1] == pytest.approx(1.5 / 1e-6)  # what the floor prevents


def test_lagged_windows_end_at_the_given_points_and_pad_the_front():
    x = np.arange(10.0)
    w = msl.lagged_windows(x, np.array([1, 5]), 4)
    assert w.tolist() == [[0, 0, 0, 1], [2, 3, 4, 5]]
    assert msl.first_difference(np.array([1.0, 3.0, 2.0])).tolist() == [0, 2, -1]
    xf = np.arange(12.0).reshape(6, 2)  # rows of 2 features flatten row-major, as the dataset's [W, F] windows
    assert msl.lagged_windows(xf, np.array([2]), 2).tolist() == [[2, 3, 4, 5]]


def test_multiscale_needs_a_training_run_as_long_as_its_longest_window():
    with pytest.raises(ValueError, match="fewer than the largest window"):
        msl.multiscale_raw(np.zeros(40), 39, {"test": (np.zeros(20), np.arange(11, 20))})


def test_validation_exceedance_empirical_then_exponential_tail():
    val = np.arange(100.0)  # u = the 0.99 quantile = 98.01, one excess (99 - 98.01) -> sigma 0.99
    s = np.array([-5.0, 50.0, 200.0])
    x = msl.validation_exceedance(s, val)
    assert x[0] == pytest.approx(0.0)  # every validation score >= it
    assert x[1] == pytest.approx(-math.log(0.5))  # 50 of 100 validation scores >= 50
    assert x[2] == pytest.approx(-math.log(0.01) + (200 - 98.01) / 0.99)
    assert np.all(np.diff(msl.validation_exceedance(np.linspace(-1, 300, 500), val)) >= 0)  # monotone
    # a constant validation set: at it nothing is surprising, above it everything is (sigma = eps)
    c = msl.validation_exceedance(np.array([1.0, 1.5]), np.ones(50))
    assert c[0] == pytest.approx(0.0) and c[1] > 1e9
    with pytest.raises(ValueError, match="validation scores"):
        msl.validation_exceedance(s, np.array([]))


def test_stream_exceedance_is_a_causal_conformal_p_value():
    val = np.array([1.0, 2.0, 3.0])
    x = msl.stream_exceedance(np.array([2.0, 10.0, 0.0]), val)
    # history {1,2,3}: 2 of 3 >= 2 -> (1+2)/4; then {1,2,2,3}: none >= 10 -> 1/5; then 5 of 5 >= 0 -> 6/6
    assert x == pytest.approx([-math.log(3 / 4), -math.log(1 / 5), 0.0])
    rng = np.random.default_rng(0)
    s = rng.random(300)
    later = s.copy()
    later[200:] += 5  # the future does not move the past
    assert msl.stream_exceedance(later, val)[:200] == pytest.approx(msl.stream_exceedance(s, val)[:200])
    assert msl.stream_exceedance(7 * s, 7 * val) == pytest.approx(msl.stream_exceedance(s, val))  # scale-free
    # the validation scores against the others: (1 + others >= v) / n
    assert msl.stream_exceedance_validation(val) == pytest.approx([0.0, -math.log(2 / 3), -math.log(1 / 3)])
