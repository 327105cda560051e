"""`python -m usad train --data DIR --out DIR [--epochs N] [--seed S] [--resume] ...`

stdout: one JSON object per line ({"event": "start" | "epoch" | "done", ...}); logs go to stderr.
Outputs in --out: checkpoint.pt (each epoch, atomic), history.jsonl, model.onnx + model.json, result.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from typing import Dict, List, Optional

import numpy as np
import torch

from .data import load_dataset_dir
from .export import export_onnx
from .train import TrainConfig, reconstruction_errors, train


def _emit(obj: Dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m usad")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train USAD on a dataset dir and export ONNX")
    t.add_argument("--data", required=True, help="dataset dir: {train,val,test}.npy [n,W,F], features.json")
    t.add_argument("--out", required=True, help="output dir (checkpoint, history, ONNX)")
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--latent-size", type=int, default=d.latent_size)
    t.add_argument("--lr", type=float, default=d.learning_rate)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs; 0 = off")
    t.add_argument("--min-delta", type=float, default=d.min_delta)
    t.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs,
                   help="epochs with the paper's epoch-1 losses (no adversarial term) before n = 1, 2, ...")
    t.add_argument("--stop-on", choices=["recon", "score"], default=d.stop_on,
                   help="validation criterion for early stopping and the exported epoch (README)")
    t.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads; 0 = all cores")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default=d.device)
    t.add_argument("--alpha", type=float, default=d.alpha)
    t.add_argument("--beta", type=float, default=d.beta)
    t.add_argument("--update", choices=["paper", "sequential"], default=d.update)
    t.add_argument("--no-shuffle", action="store_true")
    t.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt if present")
    t.add_argument("--log-level", default="INFO")
    return ap


def cmd_train(a: argparse.Namespace) -> int:
    cfg = TrainConfig(epochs=a.epochs, batch_size=a.batch_size, latent_size=a.latent_size, learning_rate=a.lr,
                      seed=a.seed, patience=a.patience, min_delta=a.min_delta, stop_on=a.stop_on, warmup_epochs=a.warmup_epochs, threads=a.threads, device=a.device,
                      alpha=a.alpha, beta=a.beta, shuffle=not a.no_shuffle, update=a.update)
    t0 = time.perf_counter()
    data = load_dataset_dir(a.data)
    logging.getLogger("usad").info("data %s: train %s val %s window %d features %d", a.data, data.train.shape,
                                   data.val.shape, data.window, len(data.features))
    model, state, info = train(data.train, data.val, cfg, a.out, resume=a.resume, emit=_emit,
                               meta={"data": os.path.abspath(a.data)})
    # Normal validation scores of the exported model: the scorer's percentile threshold and per-dataset scale.
    dev = next(model.parameters()).device
    err = reconstruction_errors(model, torch.from_numpy(data.val).to(dev), cfg.eval_batch_size).cpu().numpy()
    val_scores = cfg.alpha * err[:, 0] + cfg.beta * err[:, 2]
    q = [0.5, 0.9, 0.95, 0.99, 0.999, 1.0]
    onnx_path = os.path.join(a.out, "model.onnx")
    export_onnx(model, onnx_path, meta={"window": data.window, "features": data.features, "alpha": cfg.alpha,
                                        "beta": cfg.beta, "best_epoch": state.best_epoch,
                                        "val_score_quantiles": {str(k): float(v) for k, v in
                                                                zip(q, np.quantile(val_scores, q))}
                                        if len(val_scores) else {}})
    result = {"event": "done", "onnxPath": os.path.abspath(onnx_path),
              "checkpointPath": os.path.abspath(info["checkpoint"]), "historyPath": os.path.abspath(info["history"]),
              "device": info["device"], "device_name": info["device_name"], "threads": info["threads"],
              "epochs": info["epochs_run"], "best_epoch": info["best_epoch"], "stopped_early": info["stopped_early"],
              "resumed_from_epoch": info["resumed_from_epoch"], "seconds": time.perf_counter() - t0,
              "config": asdict(cfg)}
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    _emit(result)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    a = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, a.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if a.cmd == "train":
        try:
            return cmd_train(a)
        except (ValueError, FileNotFoundError) as e:  # bad dataset or checkpoint: retrying will not help
            logging.getLogger("usad").error("%s: %s", type(e).__name__, e)
            return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
