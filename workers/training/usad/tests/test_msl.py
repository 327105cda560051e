import importlib.util
import os

import numpy as np
import pytest

from usad import msl

MSL = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "shared", "datasets", "msl"))
REF = os.path.abspath(os.path.join(MSL, "..", "..", "anchors", "usad-msl", "usad_reference.py"))


def _ref():
    spec = importlib.util.spec_from_file_location("usad_reference", REF)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not os.path.exists(REF), reason="reference port absent")
def test_metrics_equal_the_reference_ports():
    R = _ref()
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.1).astype(np.int8)
    y[100:160] = 1
    s = rng.random(3000) + y * rng.random(3000) * 0.5
    s[5:50] = 0.3  # ties
    assert msl.auc_score(y, s) == pytest.approx(R.auc_score(y, s))
    assert msl.best_f1(y, s)["f1"] == pytest.approx(R.best_f1(y, s)["f1"])
    assert msl.best_f1_pa(y, s, [0, 1000, 2000])["f1"] == pytest.approx(R.best_f1_pa(y, s, [0, 1000, 2000])["f1"])


@pytest.mark.msl
def test_msl_channel_windows_match_the_reference_layout():
    rows = msl.channel_rows(MSL)
    assert len(rows) == 27
    ch = msl.load_channel(MSL, rows[0], clip=False, drop_constant_commands=False)
    assert ch.test.shape[1] == 12 * 55 and ch.train.shape[0] + ch.val.shape[0] == 1565 - 12
    assert len(ch.labels) == ch.test.shape[0] == 2037 and int(ch.labels.sum()) == 192


@pytest.mark.msl
def test_trains_one_msl_channel_above_chance(tmp_path):
    import torch
    from usad.model import score
    from usad.train import TrainConfig, train
    row = [r for r in msl.channel_rows(MSL) if r["chan_id"] == "M-6"][0]
    ch = msl.load_channel(MSL, row)  # the benchmark's settings (bench/msl_bench.py, phase "ours")
    model, _, info = train(ch.train, ch.val, TrainConfig(epochs=30, batch_size=32, threads=1, patience=3),
                           str(tmp_path))
    assert info["stopped_early"]
    s = score(model, torch.from_numpy(ch.test)).numpy()
    assert msl.auc_score(ch.labels, s) > 0.65  # 0.736 in the benchmark run; random is 0.5


def test_clip_keeps_a_drop_below_a_feature_constant_in_training(tmp_path):
    # A feature constant in training scales to 0 (MinMaxScaler's rule for a zero range), so clipping test values to
    # the bare training range [0, 1] turned every drop below that constant back into the training value itself.
    for d in ("train", "test"):
        (tmp_path / d).mkdir()
    tr = np.zeros((40, 3))
    tr[:, 0] = 0.5  # telemetry constant in training (as MSL's M-6)
    tr[::2, 1] = 1.0  # a command flag that is set in training
    te = np.zeros((30, 3))
    te[:, 0] = 0.5
    te[10:20, 0] = 0.2  # the anomaly: a drop below the training constant
    te[25:, 0] = 9.0  # far above: bounded by the clip
    np.save(tmp_path / "train" / "X-1.npy", tr)
    np.save(tmp_path / "test" / "X-1.npy", te)
    (tmp_path / "labeled_anomalies.csv").write_text(
        'chan_id,spacecraft,anomaly_sequences,class,num_values\nX-1,MSL,"[[10, 19]]",[point],30\n')
    row = msl.channel_rows(str(tmp_path))[0]
    ch = msl.load_channel(str(tmp_path), row, window=2, clip=1.0)
    assert ch.features == [0, 1]  # feature 2 is never set in training: dropped
    x0 = ch.test.reshape(len(ch.test), 2, 2)[:, 0, 0]
    assert x0[0] == pytest.approx(0.0) and x0[10] == pytest.approx(-0.3)
    assert x0[25] == pytest.approx(2.0)  # clipped to 1 + clip
    raw = msl.load_channel(str(tmp_path), row, window=2, clip=None)
    assert raw.test.reshape(len(raw.test), 2, 2)[25, 0, 0] == pytest.approx(8.5)


@pytest.mark.msl
def test_the_benchmark_usad_settings_on_one_channel(tmp_path):
    # bench/msl_bench.py phase "ours": the telemetry value alone, unclipped, lr 1e-2, then causal stream normalisation
    import torch
    from usad.model import score
    from usad.train import TrainConfig, train
    row = [r for r in msl.channel_rows(MSL) if r["chan_id"] == "M-6"][0]
    ch = msl.load_channel(MSL, row, clip=None)
    tel = {k: np.ascontiguousarray(x.reshape(len(x), 12, -1)[:, :, 0]) for k, x in
           (("train", ch.train), ("val", ch.val), ("test", ch.test))}
    model, _, _ = train(tel["train"], tel["val"], TrainConfig(epochs=30, batch_size=32, learning_rate=1e-2, threads=1,
                                                              patience=5), str(tmp_path))
    s = score(model, torch.from_numpy(tel["test"])).numpy().astype(np.float64)
    sv = score(model, torch.from_numpy(tel["val"])).numpy().astype(np.float64)
    x = msl.stream_normalise(s, float(np.median(sv)))
    assert msl.auc_score(ch.labels, x) > 0.95  # 0.996 raw, 1.00 stream-normalised in the 2026-12-05 run
