#!/usr/bin/python3
"""Stock-cluster vs service-level detection on one campaign: retrains the campaign's detector offline (as
bench/feature_sets.py does, same splits, same training) on the stock-cluster feature subsets and on the
service-level demo's subset, and prints ROC-AUC, best F1, F1 at the validation-chosen threshold and the
faults detected per kind. Run it on a campaign of examples/demo-stock-cluster.yaml, whose dataset.csv holds
both sets' columns over the same faults (features.requestMetrics: app).

Usage: PYTHONPATH=workers/training/usad:bench /usr/bin/python3 bench/stock_cluster_sets.py <campaign dir> [--out F.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile

import numpy as np

import feature_sets as fs
from usad.train import TrainConfig

READY_CHURN = ["svc_*_ready_replicas", "svc_*_pods_created"]
SETS = {
    "service-level (demo)": READY_CHURN + ["svc_*_error_rate"],
    "stock: readiness+churn": READY_CHURN,
    "stock: +cpu": READY_CHURN + ["svc_*_cpu"],
    "stock: +cpu+mem": READY_CHURN + ["svc_*_cpu", "svc_*_mem"],
    "stock: +cpu+net": READY_CHURN + ["svc_*_cpu", "svc_*_net_rx", "svc_*_net_tx"],
    "stock: +cpu+mem+net": READY_CHURN + ["svc_*_cpu", "svc_*_mem", "svc_*_net_rx", "svc_*_net_tx"],
    "stock: resources only": ["svc_*_cpu", "svc_*_mem", "svc_*_net_rx", "svc_*_net_tx"],
    "node (reference)": ["node_*", "cpu_util", "mem_util", "disk_*", "net_*", "fs_util"],
}


def evaluate(card, names, t, y, x, faults, patterns, cfg, w, margin_ms, clip=1.0):
    """bench/feature_sets.py's evaluate, plus the test split's F1 at the validation-chosen threshold."""
    idx = [i for i, n in enumerate(names) if any(fs.fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not idx:
        return None
    v = x[:, idx]
    v = np.where(np.isnan(v), np.nanmean(v, 0), v)
    tr = fs.split_mask(card, t, "train")
    lo, hi = v[tr].min(0), v[tr].max(0)
    xs = np.clip((v - lo) / np.where(hi > lo, hi - lo, 1), -clip, 1 + clip)
    last = card["labelling"].get("windowLabel") == "last"
    xtr, _, _ = fs.windows(xs, y, t, tr, w, last)
    xv, yv, _ = fs.windows(xs, y, t, fs.split_mask(card, t, "val"), w, last)
    xte, yte, tte = fs.windows(xs, y, t, fs.split_mask(card, t, "test"), w, last)
    with tempfile.TemporaryDirectory() as d:
        model, _, info = fs.train(xtr, xv[yv == 0], cfg, d)

    def score(a):
        e = fs.reconstruction_errors(model, fs.torch.from_numpy(a), 4096).numpy()
        return 0.5 * e[:, 0] + 0.5 * e[:, 2]

    sv, ste = score(xv), score(xte)
    m = fs.msl.all_metrics(yte, ste)
    thr = fs.msl.best_f1(yv, sv)["threshold"] if 0 < yv.sum() < len(yv) else float(np.quantile(sv, 0.99))
    pred = ste >= thr
    tp = int((pred & (yte == 1)).sum())
    fp = int((pred & (yte == 0)).sum())
    fn = int((~pred & (yte == 1)).sum())
    per = {}
    for f in faults:
        if not (tte[0] <= f["from"] <= tte[-1]):
            continue
        to = f.get("to", float("inf")) + margin_ms
        hit = bool(pred[(tte >= f["from"]) & (tte < to)].any())
        r = per.setdefault(f["type"], {"faults": 0, "detected": 0})
        r["faults"] += 1
        r["detected"] += int(hit)
    return {"features": len(idx), "auc": m["auc"], "best_f1": m["best_f1"]["f1"],
            "f1_at_threshold": 2 * tp / max(1, 2 * tp + fp + fn), "faults_detected": per,
            "best_epoch": info["best_epoch"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("campaign")
    ap.add_argument("--out", default="")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default="", help="comma-separated names of SETS to run (default: all)")
    a = ap.parse_args()
    card, names, t, y, x, faults = fs.load(a.campaign)
    w = card["window"]["size"]
    margin = card["labelling"]["marginMs"]
    cfg = TrainConfig(epochs=a.epochs, batch_size=32, latent_size=40, seed=a.seed, patience=8, threads=1, device="cpu")
    res = {}
    print(f"{'feature set':24s} {'F':>3s} {'AUC':>6s} {'F1':>6s} {'F1@thr':>6s}  faults detected at the val threshold")
    for name, pats in SETS.items():
        if a.sets and name not in a.sets.split(","):
            continue
        r = evaluate(card, names, t, y, x, faults, pats, cfg, w, margin)
        if r is None:
            print(f"{name:24s} (no column matches {pats})")
            continue
        res[name] = {"patterns": pats, **r}
        fd = " ".join(f"{k} {v['detected']}/{v['faults']}" for k, v in sorted(r["faults_detected"].items()))
        print(f"{name:24s} {r['features']:3d} {r['auc']:6.3f} {r['best_f1']:6.3f} {r['f1_at_threshold']:6.3f}  {fd}",
              flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"campaign": card["campaignId"], "window": w, "sets": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
