"""The CUDA path of the trainer. Skipped (with the reason) where torch sees no GPU, as on the CI box;
run on a GPU machine with `python3 -m pytest tests/test_cuda.py`."""
import numpy as np
import pytest
import torch

from usad.data import flatten
from usad.export import export_onnx
from usad.model import score
from usad.train import TrainConfig, resolve_device, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch.cuda.is_available() is False")


def cfg(**kw):
    base = dict(epochs=8, batch_size=32, latent_size=8, seed=3, patience=3, threads=1, device="cuda")
    base.update(kw)
    return TrainConfig(**base)


def auc(y, s):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(y, s)


def test_auto_picks_cuda():
    assert resolve_device("auto").type == "cuda"


def test_trains_on_cuda_and_separates_injected_anomalies(tmp_path, synth):
    tr, va, te, y = synth
    model, state, info = train(flatten(tr), flatten(va), cfg(), str(tmp_path))
    assert info["device"] == "cuda" and info["device_name"] == torch.cuda.get_device_name(0)
    assert next(model.parameters()).device.type == "cuda"
    s = score(model.cpu(), torch.from_numpy(flatten(te))).numpy()
    assert auc(y, s) > 0.95


def test_cuda_resume_equals_an_uninterrupted_cuda_run(tmp_path, synth):
    tr, va, _, _ = synth
    full, sf, _ = train(flatten(tr), flatten(va), cfg(epochs=4, patience=0), str(tmp_path / "full"))
    part = str(tmp_path / "part")
    train(flatten(tr), flatten(va), cfg(epochs=2, patience=0), part)
    resumed, sr, info = train(flatten(tr), flatten(va), cfg(epochs=4, patience=0), part, resume=True)
    assert info["resumed_from_epoch"] == 2
    np.testing.assert_allclose([h["loss1"] for h in sr.history], [h["loss1"] for h in sf.history], rtol=1e-5)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-5), k


def test_a_cuda_model_exports_onnx_that_matches_torch_on_cpu(tmp_path, synth):
    ort = pytest.importorskip("onnxruntime")
    tr, va, te, _ = synth
    model, _, _ = train(flatten(tr), flatten(va), cfg(epochs=2, patience=0), str(tmp_path))
    path = export_onnx(model, str(tmp_path / "model.onnx"))
    x = flatten(te)[:257].astype(np.float32)
    r1, r2 = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["recon1", "recon2"], {"input": x})
    with torch.no_grad():
        w1, w3 = model.cpu()(torch.from_numpy(x))
    np.testing.assert_allclose(r1, w1.numpy(), atol=1e-5)
    np.testing.assert_allclose(r2, w3.numpy(), atol=1e-5)
