"""ONNX export per the contract in activities/model/types.ts: input "input" float32 [N, W*F], outputs
"recon1" = AE1(w) and "recon2" = AE2(AE1(w)), dynamic batch axis. Uses torch's own exporter (no onnx package).
"""
from __future__ import annotations

import copy
import inspect
import json
import os
from typing import Dict, Optional

import torch

from .model import UsadModel

OPSET = 13
# torch >= 2.9 exports through dynamo by default (needs onnxscript, ignores dynamic_axes); the TorchScript
# exporter gives the same small graph on every torch version we run (1.13 on CPU boxes, 2.x on GPU machines).
_LEGACY_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(model: UsadModel, path: str, meta: Optional[Dict] = None) -> str:
    cpu_model = copy.deepcopy(model).cpu().eval()
    dummy = torch.zeros(2, cpu_model.w_size, dtype=torch.float32)
    tmp = f"{path}.tmp{os.getpid()}"
    with torch.no_grad():
        torch.onnx.export(cpu_model, (dummy,), tmp, input_names=["input"], output_names=["recon1", "recon2"],
                          dynamic_axes={"input": {0: "batch"}, "recon1": {0: "batch"}, "recon2": {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True, **_LEGACY_EXPORTER)
    os.replace(tmp, path)
    if meta is not None:
        info = {"input": "input", "outputs": ["recon1", "recon2"], "opset": OPSET, "w_size": cpu_model.w_size,
                "latent_size": cpu_model.latent_size,
                "score": "alpha*mean((w-recon1)^2) + beta*mean((w-recon2)^2) per window", **meta}
        with open(os.path.splitext(path)[0] + ".json", "w") as f:
            json.dump(info, f, indent=1)
    return path
