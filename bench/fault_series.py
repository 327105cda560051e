#!/usr/bin/python3
"""Which series carry each fault: for every applied fault of a campaign, how far each per-service series of its
target service moves from that series' normal range, beside the same series of the other services.

Score of a series over a fault = max over [applied, recovered + margin] of |x − median| / IQR, median and IQR taken
over the train split (the baseline); capped at 99 (a series constant in the baseline, like ready replicas, has
IQR 0: any move scores 99). Per fault kind and metric it prints the median score over that kind's faults on the
target's own series, and the median over the other services' same series (a control: load shifts, overlapping
faults). Scores are invariant to the dataset's scaling, so dataset.csv serves.

Usage: PYTHONPATH=workers/training/usad:bench /usr/bin/python3 bench/fault_series.py <campaign dir> [--out F.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

import feature_sets as fs

CAP = 99.0


def fault_targets(card):
    """id → {type, app, from, to} from the campaign's fault log."""
    by = {}
    log = card["labelling"].get("faultLog")
    if not log or not os.path.exists(log):
        return []
    for line in open(log):
        e = json.loads(line)
        if e["ev"] == "planned":
            by[e["id"]] = {"type": e["type"], "app": e["target"]["app"]}
        elif e["ev"] == "applied" and e["id"] in by:
            by[e["id"]]["from"] = e.get("startedMs", e["ts"])
        elif e["ev"] in ("recovered", "removed") and e["id"] in by:
            by[e["id"]]["to"] = max(by[e["id"]].get("to", 0), e["ts"])
    return [f for f in by.values() if "from" in f]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("campaign")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    card, names, t, _y, x, _ = fs.load(a.campaign)
    margin = card["labelling"]["marginMs"]
    tr = fs.split_mask(card, t, "train")
    med = np.nanmedian(x[tr], 0)
    iqr = np.nanpercentile(x[tr], 75, 0) - np.nanpercentile(x[tr], 25, 0)
    col = {n: i for i, n in enumerate(names)}
    services = sorted({n[4:].rsplit("_", 1)[0] for n in names if n.startswith("svc_")})
    metrics = ["cpu", "mem", "net_rx", "net_tx", "ready_replicas", "pods_created", "restarts",
               "request_rate", "error_rate", "latency_p95"]

    def svc_col(svc, m):
        # service names hold underscores (svc_redis_cart_cpu); metrics are matched as a suffix
        return col.get(f"svc_{svc}_{m}")

    def score(i, lo, hi):
        w = (t >= lo) & (t <= hi)
        if i is None or not w.any():
            return None
        d = np.abs(x[w, i] - med[i])
        d = d[~np.isnan(d)]
        if d.size == 0:
            return None
        return float(min(CAP, d.max() / iqr[i])) if iqr[i] > 0 else (CAP if d.max() > 0 else 0.0)

    out = {}
    for f in fault_targets(card):
        svc = f["app"].replace("-", "_")
        lo, hi = f["from"], f.get("to", t[-1]) + margin
        for m in metrics:
            own = score(svc_col(svc, m), lo, hi)
            if own is None:
                continue
            others = [s for s in (score(svc_col(o, m), lo, hi) for o in services if o != svc) if s is not None]
            r = out.setdefault(f["type"], {}).setdefault(m, {"own": [], "others": []})
            r["own"].append(own)
            if others:
                r["others"].append(float(np.median(others)))
    summary = {}
    for kind, ms in sorted(out.items()):
        n = max(len(v["own"]) for v in ms.values())
        print(f"\n{kind} ({n} faults): median robust score of the target's own series | of the other services'")
        rows = sorted(ms.items(), key=lambda kv: -float(np.median(kv[1]["own"])))
        for m, v in rows:
            o, c = float(np.median(v["own"])), float(np.median(v["others"])) if v["others"] else float("nan")
            summary.setdefault(kind, {})[m] = {"own": o, "others": c, "faults": len(v["own"])}
            print(f"  {m:15s} {o:6.1f} | {c:6.1f}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"campaign": card["campaignId"], "scores": summary}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
