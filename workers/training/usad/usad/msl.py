"""NASA MSL (27 channels) for the benchmark: per-channel windows and labels laid out exactly as the reference
port (../shared/anchors/usad-msl/usad_reference.py) so both are scored on the same 73,405 test windows, plus the
metrics (ROC-AUC, best F1, best F1 with point-adjust), exact over all thresholds.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np


@dataclass
class Channel:
    name: str
    train: np.ndarray  # [n, W*F'] float32, first 80 % of the normal windows
    val: np.ndarray  # last 20 %
    test: np.ndarray
    labels: np.ndarray  # window label: 1 if any point of the window is anomalous (reference nb cell 35)
    features: List[int]  # kept feature indices


def channel_rows(data_dir: str, spacecraft: str = "MSL") -> List[Dict[str, str]]:
    with open(os.path.join(data_dir, "labeled_anomalies.csv")) as f:
        return [r for r in csv.DictReader(f) if r["spacecraft"] == spacecraft]


def make_windows(x: np.ndarray, w: int) -> np.ndarray:
    # N-w windows as the reference notebook (its last full window is dropped): keeps the test sets identical
    return x[np.arange(w)[None, :] + np.arange(x.shape[0] - w)[:, None]]


def load_channel(data_dir: str, row: Dict[str, str], window: int = 12, clip: Optional[float] = 1.0,
                 drop_constant_commands: bool = True) -> Channel:
    """clip: scaled test values are clipped to [-clip, 1 + clip] (the training range is [0, 1]), the rule of
    faultline's own dataset scaler (dataset.clip, activities/dataset/scaler.ts); None leaves them unbounded."""
    ch = row["chan_id"]
    tr = np.load(os.path.join(data_dir, "train", ch + ".npy")).astype(np.float64)
    te = np.load(os.path.join(data_dir, "test", ch + ".npy")).astype(np.float64)
    mn, mx = tr.min(0), tr.max(0)
    rng = mx - mn
    const = rng == 0.0
    rng[const] = 1.0  # MinMaxScaler rule (as the reference)
    trs, tes = (tr - mn) / rng, (te - mn) / rng
    if clip is not None:
        # Test values far outside the training range (P-14 reaches 2,000 after scaling) would otherwise decide
        # every window's score on their own; clipping keeps "left the range" visible without letting one
        # channel or one feature dominate. Both sides get a margin: clipping to the range itself, [0, 1], erased
        # every drop of a feature that is constant in training (it scales to 0, so any lower value clipped back
        # to exactly the training value): M-6's telemetry is constant in training and its anomaly is a drop.
        tes = np.clip(tes, -clip, 1.0 + clip)
    keep = list(range(tr.shape[1]))
    if drop_constant_commands:
        # Features 1.. are one-hot command flags. One never set in training carries nothing a model can learn;
        # feature 0 (the telemetry value) is always kept, constant or not.
        keep = [0] + [i for i in range(1, tr.shape[1]) if not const[i]]
    trs, tes = trs[:, keep], tes[:, keep]
    wn, wa = make_windows(trs, window), make_windows(tes, window)
    ntr = int(np.floor(0.8 * wn.shape[0]))
    flat = lambda a: np.ascontiguousarray(a.reshape(a.shape[0], -1), dtype=np.float32)  # noqa: E731
    ypt = np.zeros(te.shape[0], dtype=np.int8)
    for a, b in json.loads(row["anomaly_sequences"]):
        ypt[a:b + 1] = 1
    c = np.concatenate([[0], np.cumsum(ypt)])
    labels = ((c[window:len(ypt)] - c[:len(ypt) - window]) > 0).astype(np.int8)  # any point in [i, i+W)
    return Channel(ch, flat(wn[:ntr]), flat(wn[ntr:]), flat(wa), labels, keep)


# ----------------------------------------------------------------------------- metrics
def auc_score(y: np.ndarray, s: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    _, idx, cnt = np.unique(ss, return_index=True, return_counts=True)
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.repeat(idx + (cnt - 1) / 2.0 + 1.0, cnt)  # tie-averaged ranks
    return float((ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def _prf(tp, fp, fn):
    p = tp / np.maximum(tp + fp, 1e-12)
    r = tp / np.maximum(tp + fn, 1e-12)
    return p, r, 2 * p * r / np.maximum(p + r, 1e-12)


def best_f1(y: np.ndarray, s: np.ndarray) -> Dict[str, float]:
    """Best F1 over every threshold (predict 1 iff score >= thr)."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order]
    tp, fp = np.cumsum(yy), np.cumsum(~yy)
    last = np.r_[ss[1:] != ss[:-1], True]
    tp, fp, thr = tp[last], fp[last], ss[last]
    p, r, f = _prf(tp, fp, y.sum() - tp)
    i = int(np.argmax(f))
    return {"f1": float(f[i]), "precision": float(p[i]), "recall": float(r[i]), "threshold": float(thr[i])}


def segments(y: np.ndarray, breaks: Sequence[int] = ()) -> List[tuple]:
    y = np.asarray(y).astype(np.int8).copy()
    d = np.diff(np.concatenate([[0], y, [0]]))
    starts, ends = np.where(d == 1)[0], np.where(d == -1)[0]
    br = np.array(sorted(set(breaks)), dtype=np.int64)
    segs = []
    for a, b in zip(starts, ends):
        cuts = br[(br > a) & (br < b)]
        pts = [a, *cuts.tolist(), b]
        segs += [(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]
    return segs  # half-open


def best_f1_pa(y: np.ndarray, s: np.ndarray, breaks: Sequence[int] = ()) -> Dict[str, float]:
    """Best F1 with point-adjust: a true segment with any window >= thr counts as fully detected."""
    y = np.asarray(y).astype(bool)
    segs = segments(y, breaks)
    seg_max = np.array([s[a:b].max() for a, b in segs])
    seg_len = np.array([b - a for a, b in segs])
    neg = np.sort(s[~y])
    cand = np.unique(np.concatenate([seg_max, neg]))
    fp = len(neg) - np.searchsorted(neg, cand, side="left")
    o = np.argsort(seg_max)
    sm, sl = seg_max[o], seg_len[o]
    cum = np.concatenate([np.cumsum(sl[::-1])[::-1], [0]])
    tp = cum[np.searchsorted(sm, cand, side="left")]
    p, r, f = _prf(tp.astype(float), fp.astype(float), y.sum() - tp)
    i = int(np.argmax(f))
    return {"f1": float(f[i]), "precision": float(p[i]), "recall": float(r[i]), "threshold": float(cand[i]),
            "n_segments": len(segs)}


def all_metrics(y: np.ndarray, s: np.ndarray, breaks: Sequence[int] = ()) -> Dict:
    return {"auc": auc_score(y, s), "best_f1": best_f1(y, s), "best_f1_pa": best_f1_pa(y, s, breaks),
            "n": int(len(y)), "n_pos": int(np.sum(y))}


def summarize(per: List[Dict], scores: List[np.ndarray], labels: List[np.ndarray]) -> Dict:
    """Mean over channels (each at its own best threshold) and joined (concatenated, one threshold)."""
    breaks, off = [], 0
    for s in scores:
        breaks.append(off)
        off += len(s)
    joined = all_metrics(np.concatenate(labels), np.concatenate(scores), breaks)
    mean = {"auc": float(np.nanmean([m["auc"] for m in per])),
            "best_f1": float(np.mean([m["best_f1"]["f1"] for m in per])),
            "best_f1_pa": float(np.mean([m["best_f1_pa"]["f1"] for m in per]))}
    return {"mean_of_channels": mean, "joined": joined}


def normalise_by_validation(test_scores: np.ndarray, val_scores: np.ndarray) -> np.ndarray:
    """Put one channel's scores on a common scale for the joined threshold: 0 = median normal validation score,
    1 = its 99th percentile. Uses only the channel's normal validation windows (no test data, no labels)."""
    med, q99 = np.quantile(val_scores, [0.5, 0.99])
    return (test_scores - med) / max(q99 - med, 1e-12)


def headline(summary: Dict) -> Dict[str, Optional[float]]:
    m, j = summary["mean_of_channels"], summary["joined"]
    return {"mean_auc": m["auc"], "mean_f1": m["best_f1"], "mean_f1_pa": m["best_f1_pa"], "joined_auc": j["auc"],
            "joined_f1": j["best_f1"]["f1"], "joined_f1_pa": j["best_f1_pa"]["f1"]}
