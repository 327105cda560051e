import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

from usad.export import export_onnx
from usad.model import UsadModel

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ORT_NODE = os.path.join(REPO, "node_modules", "onnxruntime-node")

NODE_SCRIPT = r"""
const ort = require(process.argv[2]);
const fs = require('fs');
(async () => {
  const [model, inPath, n, w] = process.argv.slice(3);
  const buf = fs.readFileSync(inPath);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const s = await ort.InferenceSession.create(model);
  const out = await s.run({ input: new ort.Tensor('float32', x, [Number(n), Number(w)]) });
  process.stdout.write(JSON.stringify({ names: s.outputNames, inputs: s.inputNames,
    recon1: Array.from(out.recon1.data), recon2: Array.from(out.recon2.data) }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _model():
    torch.manual_seed(0)
    return UsadModel(40, 7).eval()


def test_export_writes_contract_names_and_metadata(tmp_path):
    path = export_onnx(_model(), str(tmp_path / "model.onnx"), meta={"window": 8, "features": list("abcde")})
    assert os.path.getsize(path) > 1000
    meta = json.load(open(tmp_path / "model.json"))
    assert meta["input"] == "input" and meta["outputs"] == ["recon1", "recon2"] and meta["w_size"] == 40
    blob = open(path, "rb").read()
    for name in (b"input", b"recon1", b"recon2", b"batch"):
        assert name in blob


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(ORT_NODE), reason="node/onnxruntime-node absent")
def test_onnx_in_node_matches_torch_for_any_batch_size(tmp_path):
    m = _model()
    path = export_onnx(m, str(tmp_path / "model.onnx"))
    for n in (1, 37):
        x = np.random.default_rng(n).random((n, 40), dtype=np.float32)
        (tmp_path / "x.bin").write_bytes(x.tobytes())
        (tmp_path / "run.js").write_text(NODE_SCRIPT)
        out = subprocess.run(["node", str(tmp_path / "run.js"), ORT_NODE, path, str(tmp_path / "x.bin"), str(n), "40"],
                             capture_output=True, text=True, check=True, timeout=60)
        r = json.loads(out.stdout)
        assert r["inputs"] == ["input"] and sorted(r["names"]) == ["recon1", "recon2"]
        with torch.no_grad():
            w1, w3 = m(torch.from_numpy(x))
        assert np.abs(np.array(r["recon1"]).reshape(n, 40) - w1.numpy()).max() < 1e-5
        assert np.abs(np.array(r["recon2"]).reshape(n, 40) - w3.numpy()).max() < 1e-5


def test_onnxruntime_python_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    m = _model()
    path = export_onnx(m, str(tmp_path / "model.onnx"))
    x = np.random.default_rng(0).random((13, 40), dtype=np.float32)
    r1, r2 = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["recon1", "recon2"], {"input": x})
    with torch.no_grad():
        w1, w3 = m(torch.from_numpy(x))
    np.testing.assert_allclose(r1, w1.numpy(), atol=1e-5)
    np.testing.assert_allclose(r2, w3.numpy(), atol=1e-5)
