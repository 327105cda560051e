#!/usr/bin/python3
"""MSL: causal stream normalisation of nearest-normal-window scores (TEST-SET SENSITIVITY, not a headline choice).

The test period's normal behaviour has drifted from training's on many channels (docs/msl-benchmark.md), so raw
distances to training windows rise for normal test windows too. A detector running on a live stream can divide
each score by a statistic of the scores it has already produced on that stream: label-free and causal (window t
only sees windows < t), deployable online. This script measures that rule on the nearest-normal-window baseline:
score_t / median(score_{t-L} .. score_{t-1}) for several horizons L ("all" = every earlier window, no parameter),
beside the validation normalisation the benchmark uses. The horizons are compared on test labels, so none of them
is adopted: the numbers say how far such a rule moves this baseline. (Since 2026-12-05 the suite in msl_bench.py
uses the parameter-free form as usad.msl.stream_normalise, with a causal start: the first windows are divided by
the validation median instead of the median of the stream's first 20 windows; bench/results/msl-stream-norm.json
is this script's earlier measurement.)

Usage: PYTHONPATH=workers/training/usad /usr/bin/python3 bench/msl_stream_norm.py [--out bench/results/msl-stream-norm.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np

from usad import msl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from msl_bench import nearest_normal_distance, telemetry_splits  # noqa: E402

DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "datasets", "msl"))
#: windows before a stream has this many earlier scores are divided by the median of its first ones
MIN_HISTORY = 20


def stream_normalise(s: np.ndarray, horizon: Optional[int]) -> np.ndarray:
    """Each score over the median of the `horizon` scores before it (all earlier ones when None); causal."""
    out = np.empty_like(s)
    first = float(np.median(s[:MIN_HISTORY])) + 1e-6
    for t in range(len(s)):
        lo = 0 if horizon is None else max(0, t - horizon)
        out[t] = s[t] / (float(np.median(s[lo:t])) + 1e-6 if t - lo >= MIN_HISTORY else first)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "msl-stream-norm.json"))
    a = ap.parse_args()
    horizons: Dict[str, Optional[int]] = {"all": None, "5000": 5000, "2000": 2000, "1000": 1000, "500": 500}
    inputs = ("knn_telemetry_unclipped", "knn")
    acc: Dict[str, Dict[str, List]] = {}
    t0 = time.perf_counter()
    for r in msl.channel_rows(a.data):
        unclipped = msl.load_channel(a.data, r, window=12, clip=None, drop_constant_commands=True)
        clipped = msl.load_channel(a.data, r, window=12, clip=1.0, drop_constant_commands=True)
        tel = telemetry_splits(unclipped)
        src = {"knn_telemetry_unclipped": tel, "knn": {"train": clipped.train, "val": clipped.val, "test": clipped.test}}
        for name in inputs:
            s = nearest_normal_distance(src[name]["train"], src[name]["test"])
            sv = nearest_normal_distance(src[name]["train"], src[name]["val"])
            variants = {"validation": (s, msl.normalise_by_validation(s, sv))}
            for h, n in horizons.items():
                x = stream_normalise(s, n)
                variants[f"stream_{h}"] = (x, x)
            for v, (per_channel, joined) in variants.items():
                d = acc.setdefault(f"{name}/{v}", {"per": [], "norm": [], "labels": []})
                d["per"].append({"chan": unclipped.name, **msl.all_metrics(unclipped.labels, per_channel)})
                d["norm"].append(joined)
                d["labels"].append(unclipped.labels)
        print(f"[{unclipped.name}] done", file=sys.stderr)
    rows = {}
    for k, d in acc.items():
        h = msl.headline(msl.summarize(d["per"], d["norm"], d["labels"]))
        rows[k] = {m: round(v, 4) if isinstance(v, float) else v for m, v in h.items()}
        print(f"{k:48s} " + " ".join(f"{m} {v:.3f}" for m, v in rows[k].items() if v is not None))
    out = {"what": __doc__.split("\n\n")[1].replace("\n", " "), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "clip": "knn: [-1, 2] as the benchmark; knn_telemetry_unclipped: none", "min_history": MIN_HISTORY,
           "seconds": round(time.perf_counter() - t0, 1), "results": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
