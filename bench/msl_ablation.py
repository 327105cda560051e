#!/usr/bin/python3
"""MSL ablation (train/validation-driven choices, test-set sensitivity reported separately).

`dump`: trains each channel for a fixed number of epochs (no early stopping) with faultline's trainer and, after
every epoch, stores per-window, per-position (12 window steps) squared errors of AE1 (w1), AE2 (w2) and
AE2(AE1) (w3) - mean over features and feature 0 (the telemetry value) alone - for the normal validation windows
and the test windows. `analyse`: applies epoch-selection rules that look only at validation data (best val
reconstruction, best val score, fixed epoch) and scoring variants, and reports the test metrics of each.
Usage: PYTHONPATH=workers/training/usad /usr/bin/python3 bench/msl_ablation.py dump --work DIR [--channels ..]
       ... analyse --work DIR
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from usad import msl
from usad.train import TrainConfig, set_threads, train

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "datasets", "msl"))


@torch.no_grad()
def feat_errors(model, x: np.ndarray, window: int, nfeat: int, batch: int = 8192) -> np.ndarray:
    """[n, 2, nfeat]: per-feature error of w1 and w3, mean over the window's steps."""
    model.eval()
    out = []
    xt = torch.from_numpy(x)
    for i in range(0, len(xt), batch):
        xb = xt[i:i + batch]
        w1 = model.decoder1(model.encoder(xb))
        w3 = model.decoder2(model.encoder(w1))
        out.append(torch.stack([((xb - w) ** 2).reshape(-1, window, nfeat).mean(1) for w in (w1, w3)], 1))
    model.train()
    return torch.cat(out).numpy().astype(np.float32)


@torch.no_grad()
def pos_errors(model, x: np.ndarray, window: int, nfeat: int, batch: int = 8192) -> np.ndarray:
    """[n, 6, window]: mean-over-features error of w1, w2, w3, then feature-0 error of w1, w2, w3."""
    model.eval()
    out = []
    xt = torch.from_numpy(x)
    for i in range(0, len(xt), batch):
        xb = xt[i:i + batch]
        z = model.encoder(xb)
        w1 = model.decoder1(z)
        w2 = model.decoder2(z)
        w3 = model.decoder2(model.encoder(w1))
        es = [((xb - w) ** 2).reshape(-1, window, nfeat) for w in (w1, w2, w3)]
        out.append(torch.stack([e.mean(2) for e in es] + [e[:, :, 0] for e in es], 1))
    model.train()
    return torch.cat(out).numpy().astype(np.float32)


def dump(a) -> None:
    rows = msl.channel_rows(a.data)
    if a.channels:
        keep = set(a.channels.split(","))
        rows = [r for r in rows if r["chan_id"] in keep]
    set_threads(1)
    with open(os.path.join(a.work, "config.json"), "w") as f:
        json.dump({"epochs": a.epochs, "warmup_epochs": a.warmup, "batch": a.batch, "latent": a.latent, "lr": a.lr,
                   "patience": 0, "seed": 0, "clip": [-1.0, 2.0], "drop_constant_commands": True}, f)
    for r in rows:
        ch = msl.load_channel(a.data, r, window=12, clip=1.0, drop_constant_commands=True)
        path = os.path.join(a.work, ch.name + ".npz")
        if os.path.exists(path):
            continue
        nf = len(ch.features)
        val_e, test_e, val_f, test_f = [], [], [], []

        def hook(model, n):
            val_e.append(pos_errors(model, ch.val, 12, nf))
            test_e.append(pos_errors(model, ch.test, 12, nf))
            val_f.append(feat_errors(model, ch.val, 12, nf))
            test_f.append(feat_errors(model, ch.test, 12, nf))

        cfg = TrainConfig(epochs=a.epochs, batch_size=a.batch, latent_size=a.latent, learning_rate=a.lr, seed=0,
                          patience=0, threads=1, device="cpu", warmup_epochs=a.warmup)
        t0 = time.perf_counter()
        _, state, _ = train(ch.train, ch.val, cfg, os.path.join(a.work, "ck", ch.name), on_epoch=hook)
        np.savez(path, val=np.stack(val_e), test=np.stack(test_e), val_feat=np.stack(val_f),
                 test_feat=np.stack(test_f), labels=ch.labels,
                 val_recon=np.array([h["val_recon"] for h in state.history]),
                 val_score=np.array([h["val_score"] for h in state.history]),
                 seconds=np.array([h["seconds"] for h in state.history]))
        print(f"[dump {ch.name}] {time.perf_counter() - t0:.1f}s val_recon "
              + " ".join(f"{v:.4f}" for v in state.history and [h['val_recon'] for h in state.history]), flush=True)


def score_z(f: np.ndarray, fval: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Per-feature errors [n, 2, F] divided by the feature's mean error on normal validation windows, then averaged
    over features: each feature counts alike, whatever its scale (label-free, validation data only)."""
    ref = np.maximum(fval.mean(0, dtype=np.float64), 1e-8)  # [2, F]
    z = f.astype(np.float64) / ref
    return alpha * z[:, 0, :].mean(1) + beta * z[:, 1, :].mean(1)


def score(e: np.ndarray, alpha: float, beta: float, how: str) -> np.ndarray:
    """e: [n, 6, 12] -> [n] window scores."""
    off = 3 if how.startswith("f0") else 0
    m1, m3 = e[:, off + 0, :], e[:, off + 2, :]
    if how.endswith("last"):
        m1, m3 = m1[:, -1], m3[:, -1]
    else:
        m1, m3 = m1.mean(1), m3.mean(1)
    return alpha * m1.astype(np.float64) + beta * m3.astype(np.float64)


def analyse(a) -> dict:
    files = sorted(f for f in os.listdir(a.work) if f.endswith(".npz"))
    D = {f[:-4]: np.load(os.path.join(a.work, f)) for f in files}
    E = min(len(d["val_recon"]) for d in D.values())
    rules = {"best_val_recon": lambda d: int(np.argmin(d["val_recon"][:E])),
             "best_val_score": lambda d: int(np.argmin(d["val_score"][:E]))}
    for e in range(E):
        rules[f"epoch_{e + 1}"] = (lambda k: (lambda d: k))(e)
    variants = [(0.5, 0.5, "mean"), (0.1, 0.9, "mean"), (0.9, 0.1, "mean"), (0.5, 0.5, "last"),
                (0.5, 0.5, "f0mean"), (0.5, 0.5, "f0last"), (0.5, 0.5, "valnorm"), (0.1, 0.9, "valnorm")]
    out = {"channels": list(D), "epochs": E, "results": [], "config": json.load(open(os.path.join(a.work, "config.json")))
           if os.path.exists(os.path.join(a.work, "config.json")) else None,
           "keep_rules": [f"epoch_{k}" for k in a.keep_epochs.split(",") if k]}
    for rn, rule in rules.items():
        for al, be, how in variants:
            per, sc, nm, lb = [], [], [], []
            for name, d in D.items():
                k = rule(d)
                if how == "valnorm":
                    if "test_feat" not in d:
                        break
                    s = score_z(d["test_feat"][k], d["val_feat"][k], al, be)
                    sv = score_z(d["val_feat"][k], d["val_feat"][k], al, be)
                else:
                    s = score(d["test"][k], al, be, how)
                    sv = score(d["val"][k], al, be, how)
                per.append(msl.all_metrics(d["labels"], s))
                sc.append(s)
                nm.append(msl.normalise_by_validation(s, sv))
                lb.append(d["labels"])
            if len(per) < len(D):
                continue
            h = msl.headline(msl.summarize(per, nm, lb))
            row = {"rule": rn, "alpha": al, "beta": be, "score": how, **{k: round(v, 4) for k, v in h.items()},
                   "epochs_chosen": [rule(d) + 1 for d in D.values()] if not rn.startswith("epoch_") else None}
            out["results"].append(row)
            print(f"{rn:15s} a={al} b={be} {how:6s} mAUC {h['mean_auc']:.3f} mF1 {h['mean_f1']:.3f} "
                  f"mF1PA {h['mean_f1_pa']:.3f} jAUC {h['joined_auc']:.3f} jF1 {h['joined_f1']:.3f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["dump", "analyse"])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--work", required=True)
    ap.add_argument("--channels", default="")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latent", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--keep-epochs", default="", help="analyse: fixed-epoch rules to keep in the output, e.g. 1,21")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.mode == "dump":
        dump(a)
    else:
        res = analyse(a)
        if a.out:
            json.dump(res, open(a.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
