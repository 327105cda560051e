import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from usad.data import flatten, load_dataset_dir
from usad.model import UsadModel, score
from usad.train import TrainConfig, _adam, reconstruction_errors, train, train_step, usad_gradients

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def auc(y, s):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(y, s)


def cfg(**kw):
    base = dict(epochs=12, batch_size=64, latent_size=8, seed=3, patience=0, threads=1, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def direct_grads(model, x, n):
    a, b = 1 / n, 1 - 1 / n
    z = model.encoder(x)
    w1, w2 = model.decoder1(z), model.decoder2(z)
    w3 = model.decoder2(model.encoder(w1))
    l1 = a * torch.mean((x - w1) ** 2) + b * torch.mean((x - w3) ** 2)
    l2 = a * torch.mean((x - w2) ** 2) - b * torch.mean((x - w3) ** 2)
    return (torch.autograd.grad(l1, model.params1(), retain_graph=True), torch.autograd.grad(l2, model.params2()))


def test_each_optimizer_gets_exactly_its_own_loss_gradient():
    torch.manual_seed(0)
    model = UsadModel(24, 6)
    x = torch.rand(40, 24)
    for n in (1, 2, 7):
        _, _, g1, g2 = usad_gradients(model, x, n)
        r1, r2 = direct_grads(model, x, n)
        for g, r in zip(g1, r1):
            assert torch.allclose(g, r, atol=1e-7, rtol=1e-5)
        for g, r in zip(g2, r2):
            assert torch.allclose(g, r, atol=1e-7, rtol=1e-5)
    # no gradient is left in .grad for the other optimizer to pick up
    opt1, opt2 = _adam(model.params1(), 1e-3), _adam(model.params2(), 1e-3)
    train_step(model, opt1, opt2, x, 5, "paper")
    assert all(p.grad is None for p in model.parameters())


def test_a_paper_step_equals_two_adam_steps_on_the_separate_losses():
    torch.manual_seed(1)
    x = torch.rand(32, 24)
    m = UsadModel(24, 6)
    ref = UsadModel(24, 6)
    ref.load_state_dict(m.state_dict())
    o1, o2 = _adam(m.params1(), 1e-2), _adam(m.params2(), 1e-2)
    train_step(m, o1, o2, x, 4, "paper")
    # by hand: both gradients at the same parameters, then AE1's update, then AE2's
    r1, r2 = direct_grads(ref, x, 4)
    q1, q2 = torch.optim.Adam(ref.params1(), lr=1e-2), torch.optim.Adam(ref.params2(), lr=1e-2)
    for p, g in zip(ref.params1(), r1):
        p.grad = g.clone()
    q1.step()
    ref.zero_grad(set_to_none=True)
    for p, g in zip(ref.params2(), r2):
        p.grad = g.clone()
    q2.step()
    for (k, a), (_, b) in zip(m.state_dict().items(), ref.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_sequential_mode_matches_reference_order_without_the_leak():
    torch.manual_seed(2)
    x = torch.rand(32, 24)
    m = UsadModel(24, 6)
    ref = UsadModel(24, 6)
    ref.load_state_dict(m.state_dict())
    o1, o2 = _adam(m.params1(), 1e-2), _adam(m.params2(), 1e-2)
    train_step(m, o1, o2, x, 3, "sequential")
    q1, q2 = torch.optim.Adam(ref.params1(), lr=1e-2), torch.optim.Adam(ref.params2(), lr=1e-2)
    ref.zero_grad(set_to_none=True)
    r1, _ = direct_grads(ref, x, 3)
    for p, g in zip(ref.params1(), r1):
        p.grad = g
    q1.step()
    ref.zero_grad(set_to_none=True)
    _, r2 = direct_grads(ref, x, 3)
    for p, g in zip(ref.params2(), r2):
        p.grad = g
    q2.step()
    for (k, a), (_, b) in zip(m.state_dict().items(), ref.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_converges_and_separates_injected_anomalies(tmp_path, synth):
    tr, va, te, y = synth
    model, state, info = train(flatten(tr), flatten(va), cfg(epochs=8, batch_size=32, patience=3), str(tmp_path))
    h = state.history
    assert h[0]["loss1"] < 0.05 and state.best_val < h[0]["val_recon"]
    assert state.best_epoch > 1 and info["best_epoch"] == state.best_epoch
    s = score(model, torch.from_numpy(flatten(te))).numpy()
    assert auc(y, s) > 0.95
    assert info["device"] == "cpu"


def test_same_seed_same_model_and_history(tmp_path, synth):
    tr, va, _, _ = synth
    m1, s1, _ = train(flatten(tr), flatten(va), cfg(epochs=3), str(tmp_path / "a"))
    m2, s2, _ = train(flatten(tr), flatten(va), cfg(epochs=3), str(tmp_path / "b"))
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert [h["loss1"] for h in s1.history] == [h["loss1"] for h in s2.history]
    m3, _, _ = train(flatten(tr), flatten(va), cfg(epochs=3, seed=4), str(tmp_path / "c"))
    assert not torch.equal(m1.encoder[0].weight, m3.encoder[0].weight)


def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path, synth):
    tr, va, _, _ = synth
    full, sf, _ = train(flatten(tr), flatten(va), cfg(epochs=5), str(tmp_path / "full"))
    part = str(tmp_path / "part")
    train(flatten(tr), flatten(va), cfg(epochs=2), part)  # "killed" after epoch 2: its checkpoint remains
    resumed, sr, info = train(flatten(tr), flatten(va), cfg(epochs=5), part, resume=True)
    assert info["resumed_from_epoch"] == 2
    assert [h["loss1"] for h in sr.history] == [h["loss1"] for h in sf.history]
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("stop_on,key", [("recon", "val_recon"), ("score", "val_score")])
def test_early_stopping_keeps_the_best_epoch(tmp_path, synth, stop_on, key):
    tr, va, _, _ = synth
    _, st, info = train(flatten(tr), flatten(va), cfg(epochs=200, patience=2, stop_on=stop_on), str(tmp_path))
    assert st.stopped_early and info["epochs_run"] < 200
    assert info["best_epoch"] == info["epochs_run"] - 2
    assert st.best_val == min(h[key] for h in st.history)
    assert all(h["stop_on"] == stop_on for h in st.history)


def test_val_recon_is_the_mean_of_both_direct_reconstructions(tmp_path, synth):
    tr, va, _, _ = synth
    model, st, _ = train(flatten(tr), flatten(va), cfg(epochs=1), str(tmp_path))
    e = reconstruction_errors(model, torch.from_numpy(flatten(va)), 4096).mean(0)
    assert abs(st.history[0]["val_recon"] - 0.5 * float(e[0] + e[1])) < 1e-6


def test_cli_streams_json_progress_and_exports(tmp_path, dataset_dir):
    out = str(tmp_path / "out")
    env = dict(os.environ, PYTHONPATH=PKG)
    p = subprocess.run([sys.executable, "-m", "usad", "train", "--data", dataset_dir, "--out", out, "--epochs", "2",
                        "--threads", "1", "--batch-size", "128", "--latent-size", "6"],
                       capture_output=True, text=True, env=env, check=True)
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert [l["event"] for l in lines] == ["start", "epoch", "epoch", "done"]
    ep = lines[1]
    for k in ("epoch", "loss1", "loss2", "val_loss1", "val_loss2", "seconds", "device"):
        assert k in ep
    auto = "cuda" if torch.cuda.is_available() else "cpu"  # the CLI's default device is auto
    assert ep["device"] == auto and lines[-1]["device"] == auto
    for f in ("model.onnx", "model.json", "checkpoint.pt", "history.jsonl", "result.json"):
        assert os.path.exists(os.path.join(out, f)), f
    assert len(open(os.path.join(out, "history.jsonl")).read().splitlines()) == 2
    # --resume after completion trains nothing more
    p2 = subprocess.run([sys.executable, "-m", "usad", "train", "--data", dataset_dir, "--out", out, "--epochs", "2",
                         "--threads", "1", "--batch-size", "128", "--latent-size", "6", "--resume"],
                        capture_output=True, text=True, env=env, check=True)
    ev = [json.loads(l)["event"] for l in p2.stdout.splitlines()]
    assert ev == ["start", "done"]
    assert load_dataset_dir(dataset_dir).window == 8


def test_warmup_epochs_use_the_paper_epoch_one_losses_then_its_schedule(tmp_path, synth):
    tr, va, _, _ = synth
    _, st, _ = train(flatten(tr), flatten(va), cfg(epochs=5, warmup_epochs=3), str(tmp_path / "w"))
    assert [h["n"] for h in st.history] == [1, 1, 1, 1, 2]  # 3 warm-up epochs, then the paper's n = 1, 2
    # warm-up epochs are plain reconstruction: loss2 = MSE(w, w2) >= 0, no adversarial (negative) part
    assert all(h["loss2"] >= 0 for h in st.history[:4])
    _, s0, _ = train(flatten(tr), flatten(va), cfg(epochs=2), str(tmp_path / "p"))
    assert [h["n"] for h in s0.history] == [1, 2]
    assert s0.history[0]["loss1"] == st.history[0]["loss1"]  # same first epoch


def test_warmup_epochs_do_not_count_towards_patience(tmp_path, synth):
    tr, va, _, _ = synth
    _, st, info = train(flatten(tr), flatten(va), cfg(epochs=6, warmup_epochs=6, patience=1), str(tmp_path))
    assert info["epochs_run"] == 6 and not st.stopped_early
