"""bench/msl_bench.py's summary on a tiny MSL-layout data set with planted scores: the derived detectors exist,
label-free thresholds come from validation scores only, point-adjusted F1 stays beside random."""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

BENCH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "bench"))


@pytest.fixture
def bench():
    sys.path.insert(0, BENCH)
    try:
        import msl_bench
        yield msl_bench
    finally:
        sys.path.remove(BENCH)


def tiny_msl(root, chans=("X-1", "X-2"), n_train=120, n_test=150):
    os.makedirs(root / "train")
    os.makedirs(root / "test")
    rows = ["chan_id,spacecraft,anomaly_sequences,class,num_values"]
    rng = np.random.default_rng(0)
    for i, c in enumerate(chans):
        np.save(root / "train" / f"{c}.npy", rng.random((n_train, 3)))
        np.save(root / "test" / f"{c}.npy", rng.random((n_test, 3)))
        rows.append(f'{c},MSL,"[[{40 + 10 * i}, {59 + 10 * i}]]",[point],{n_test}')
    (root / "labeled_anomalies.csv").write_text("\n".join(rows) + "\n")


def test_summary_derives_the_suite_and_thresholds_from_validation(tmp_path, bench):
    tiny_msl(tmp_path / "data")
    a = SimpleNamespace(data=str(tmp_path / "data"), work=str(tmp_path / "work"), channels="", carry="")
    from usad import msl
    rows = msl.channel_rows(a.data)
    labels = {r["chan_id"]: msl.load_channel(a.data, r, window=12, clip=None).labels for r in rows}
    rng = np.random.default_rng(1)
    for det in ("usad", "knn", "random"):
        for c, y in labels.items():
            test = rng.random(len(y)) + (2.0 * y if det != "random" else 0)
            bench.save_scores(a, det, c, test, rng.random(40))
    out = bench.phase_summary(a)
    # no multi-scale scores in this run: the default falls back along the product's label-free preference
    assert out["default_detector"]["name"] == "knn+stream"
    assert {"ensemble", "usad+stream", "knn+stream", "usad", "knn", "random"} <= set(out["headline"])
    h = out["headline"]["ensemble"]
    assert h["mean_auc"] > 0.95 and h["mean_pr_auc"] > 0.8 and h["mean_vus_pr"] > 0.5
    assert all("f1_pa" not in k for k in h)  # point-adjusted F1 only in its own section, beside random
    assert list(out["point_adjusted_beside_random"])[:2] == ["note", "random"]
    # the label-free threshold is the 0.99 quantile of the validation scores: test labels cannot move it
    sc = bench.detector_scores(a, list(labels))
    res = bench.evaluate_detector("knn", sc["knn"], labels)
    flipped = bench.evaluate_detector("knn", sc["knn"], {c: 1 - y for c, y in labels.items()})
    assert res["joined_f1_at_threshold"]["threshold"] == flipped["joined_f1_at_threshold"]["threshold"]
    assert res["joined_f1_at_threshold"]["threshold"] == pytest.approx(
        np.quantile(np.concatenate([msl.normalise_by_validation(sc["knn"][c]["val"], sc["knn"][c]["val"])
                                    for c in labels]), 0.99))
    # every calibration rule of the joined rows is measured for every detector; the headline's is the adopted one
    cal = out["joined_calibration"]
    assert set(cal["rules"]) == set(bench.JOINED_CALIBRATIONS) and cal["adopted"] == bench.JOINED_RULE
    for d in ("usad+stream", "knn", "random"):
        assert cal["rules"][bench.JOINED_RULE][d]["auc"] == pytest.approx(out["headline"][d]["joined_auc"])
    with pytest.raises(ValueError, match="unknown joined calibration 'nope'"):
        bench.joined_scale("knn", np.ones(3), np.ones(3), "nope")
    json.dumps(out)  # the results file is plain JSON


def test_summary_compares_usad_with_the_measured_reference_three_ways(tmp_path, bench):
    tiny_msl(tmp_path / "data")
    a = SimpleNamespace(data=str(tmp_path / "data"), work=str(tmp_path / "work"), channels="", carry="")
    from usad import msl
    labels = {r["chan_id"]: msl.load_channel(a.data, r, window=12, clip=None).labels
              for r in msl.channel_rows(a.data)}
    rng = np.random.default_rng(2)
    for det, lift in (("usad", 2.0), ("knn", 2.0), ("reference", 0.5)):
        for c, y in labels.items():
            bench.save_scores(a, det, c, rng.random(len(y)) + lift * y, rng.random(40))
    out = bench.phase_summary(a)
    raw = out["headline"]["reference"]["joined_raw_concatenation"]
    assert set(raw) == {"auc", "pr_auc", "vus_pr", "f1", "f1_at_threshold"}
    cmp = out["comparisons"]
    # the same summary code scores both: usad (lifted 2.0) is ahead of the reference (lifted 0.5) on every metric
    assert all(v["at_least"] for k, v in cmp["usad_vs_reference"].items() if k != "note" and "threshold" not in k)
    assert cmp["usad_vs_reference_raw_concatenation"]["joined_auc"]["other"] == pytest.approx(raw["auc"])
    assert set(cmp["usad_vs_reference_documented"]) == {"mean_auc", "mean_f1", "joined_auc", "joined_f1"}
    assert "reference" in out["joined_calibration"]["rules"]["stream_exceedance"]


def test_usad_input_is_the_value_and_its_difference_on_load_channels_windows(tmp_path, bench):
    from usad import msl
    tiny_msl(tmp_path)
    row = msl.channel_rows(str(tmp_path))[0]
    x = bench.value_and_difference(str(tmp_path), row)
    ch = msl.load_channel(str(tmp_path), row, window=12, clip=None, drop_constant_commands=False)
    tel = bench.telemetry_splits(ch)
    for k in ("train", "val", "test"):
        assert x[k].shape == (len(tel[k]), 24)
        # every other feature is the telemetry value exactly as load_channel scales and windows it
        assert np.allclose(x[k][:, 0::2], tel[k], atol=1e-6)
    assert len(x["test"]) == len(ch.labels)
    # the difference of the scaled value, min-max scaled on training: a test window's step is its points' change
    raw_tr = np.load(tmp_path / "train" / f"{row['chan_id']}.npy")[:, 0]
    raw_te = np.load(tmp_path / "test" / f"{row['chan_id']}.npy")[:, 0]
    v_te = (raw_te - raw_tr.min()) / (raw_tr.max() - raw_tr.min())
    d_tr = np.diff((raw_tr - raw_tr.min()) / (raw_tr.max() - raw_tr.min()))
    d_tr = np.r_[0.0, d_tr]
    expect = (v_te[5] - v_te[4] - d_tr.min()) / (d_tr.max() - d_tr.min())
    assert x["test"][0, 2 * 5 + 1] == pytest.approx(expect, abs=1e-6)
    assert x["test"][0, 1] == pytest.approx((0.0 - d_tr.min()) / (d_tr.max() - d_tr.min()), abs=1e-6)  # first point
