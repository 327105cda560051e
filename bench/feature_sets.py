#!/usr/bin/python3
"""Which feature sets let USAD detect a campaign's faults: retrains the campaign's detector offline on
feature subsets of its dataset.csv, with the campaign's own splits (dataset/card.json), and prints
ROC-AUC, best F1, best F1 point-adjusted and the share of injected faults detected at the
validation-chosen threshold, per subset.

Usage: PYTHONPATH=workers/training/usad /usr/bin/python3 bench/feature_sets.py <campaign dir> [--out F.json]
It answers the question on the campaign it is given; choose a demo's features on one campaign and
judge them on the next (docs/detection.md).
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import sys
import tempfile

import numpy as np
import torch

from usad import msl
from usad.train import TrainConfig, reconstruction_errors, train

SETS = {
    "all": ["*"],
    "node (reference)": ["node_*", "cpu_util", "mem_util", "disk_*", "net_*", "fs_util"],
    "service": ["svc_*"],
    "service without latency": ["svc_*_request_rate", "svc_*_error_rate", "svc_*_ready_replicas", "svc_*_restarts"],
    "request rates": ["svc_*_request_rate"],
    "readiness + errors": ["svc_*_ready_replicas", "svc_*_error_rate"],
}


def load(campaign: str):
    card = json.load(open(os.path.join(campaign, "dataset", "card.json")))
    with open(os.path.join(campaign, "dataset", "dataset.csv")) as f:
        rows = list(csv.reader(f))
    head, rows = rows[0], rows[1:]
    t = np.array([float(r[0]) for r in rows])
    y = np.array([r[2] != "Normal" for r in rows], dtype=np.uint8)
    x = np.array([[float(v) if v not in ("", "NaN") else np.nan for v in r[3:]] for r in rows])
    faults, by = [], {}
    log = card["labelling"].get("faultLog")
    if log and os.path.exists(log):
        for line in open(log):
            e = json.loads(line)
            if e["ev"] == "planned":
                by[e["id"]] = {"type": e["type"]}
            elif e["ev"] == "applied" and e["id"] in by:
                by[e["id"]]["from"] = e.get("startedMs", e["ts"])
            elif e["ev"] in ("recovered", "removed") and e["id"] in by:
                by[e["id"]]["to"] = max(by[e["id"]].get("to", 0), e["ts"])
        faults = [f for f in by.values() if "from" in f]
    return card, head[3:], t, y, x, faults


def split_mask(card, t, split):
    m = np.zeros(len(t), bool)
    for r in card["splits"][split]["ranges"]:
        if r["startMs"] is not None:
            m |= (t >= r["startMs"]) & (t <= r["endMs"])
    return m


def windows(xs, y, t, m, w, last):
    out, lab, ends = [], [], []
    for e in range(w - 1, len(t)):
        s = e - w + 1
        if m[s:e + 1].all():
            out.append(xs[s:e + 1].reshape(-1))
            lab.append(y[e] if last else y[s:e + 1].max())
            ends.append(t[e])
    return np.array(out, dtype=np.float32), np.array(lab, dtype=np.uint8), np.array(ends)


def evaluate(card, names, t, y, x, faults, patterns, cfg, w, margin_ms, clip=1.0):
    idx = [i for i, n in enumerate(names) if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not idx:
        return None
    v = x[:, idx]
    v = np.where(np.isnan(v), np.nanmean(v, 0), v)
    tr = split_mask(card, t, "train")
    lo, hi = v[tr].min(0), v[tr].max(0)
    xs = np.clip((v - lo) / np.where(hi > lo, hi - lo, 1), -clip, 1 + clip)
    last = card["labelling"].get("windowLabel") == "last"
    xtr, _, _ = windows(xs, y, t, tr, w, last)
    xv, yv, _ = windows(xs, y, t, split_mask(card, t, "val"), w, last)
    xte, yte, tte = windows(xs, y, t, split_mask(card, t, "test"), w, last)
    with tempfile.TemporaryDirectory() as d:
        model, _, info = train(xtr, xv[yv == 0], cfg, d)

    def score(a):
        e = reconstruction_errors(model, torch.from_numpy(a), 4096).numpy()
        return 0.5 * e[:, 0] + 0.5 * e[:, 2]

    sv, ste = score(xv), score(xte)
    m = msl.all_metrics(yte, ste)
    thr = msl.best_f1(yv, sv)["threshold"] if 0 < yv.sum() < len(yv) else float(np.quantile(sv, 0.99))
    pred = ste >= thr
    per = {}
    for f in faults:
        if not (tte[0] <= f["from"] <= tte[-1]):
            continue
        to = f.get("to", float("inf")) + margin_ms
        hit = bool(pred[(tte >= f["from"]) & (tte < to)].any())
        r = per.setdefault(f["type"], {"faults": 0, "detected": 0})
        r["faults"] += 1
        r["detected"] += int(hit)
    return {"features": len(idx), "auc": m["auc"], "best_f1": m["best_f1"]["f1"], "best_f1_pa": m["best_f1_pa"]["f1"],
            "faults_detected": per, "best_epoch": info["best_epoch"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("campaign")
    ap.add_argument("--out", default="")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=0, help="window size (default: the campaign's)")
    ap.add_argument("--margin", type=float, default=-1, help="label margin in s (default: the campaign's); relabels "
                    "the points from the fault log")
    ap.add_argument("--sets", default="", help="comma-separated names of SETS to run (default: all)")
    a = ap.parse_args()
    card, names, t, y, x, faults = load(a.campaign)
    w = a.window or card["window"]["size"]
    margin = card["labelling"]["marginMs"] if a.margin < 0 else a.margin * 1000
    if a.margin >= 0:
        chaos = [p for p in card["phases"] if p["name"] == "chaos"]
        c0, c1 = (chaos[0]["startMs"], chaos[0]["endMs"]) if chaos else (float("inf"), float("inf"))
        y = np.zeros(len(t), dtype=np.uint8)
        for f in faults:
            y |= ((t >= f["from"]) & (t < f.get("to", float("inf")) + margin) & (t >= c0) & (t <= c1)).astype(np.uint8)
    cfg = TrainConfig(epochs=a.epochs, batch_size=32, latent_size=40, seed=a.seed, patience=8, threads=1, device="cpu")
    res = {}
    print(f"{'feature set':26s} {'F':>3s} {'AUC':>6s} {'F1':>6s} {'F1-PA':>6s}  faults detected at the val threshold")
    for name, pats in SETS.items():
        if a.sets and name not in a.sets.split(","):
            continue
        r = evaluate(card, names, t, y, x, faults, pats, cfg, w, margin)
        if r is None:
            continue
        res[name] = {"patterns": pats, **r}
        fd = " ".join(f"{k} {v['detected']}/{v['faults']}" for k, v in sorted(r["faults_detected"].items()))
        print(f"{name:26s} {r['features']:3d} {r['auc']:6.3f} {r['best_f1']:6.3f} {r['best_f1_pa']:6.3f}  {fd}",
              flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"campaign": card["campaignId"], "window": w, "sets": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
