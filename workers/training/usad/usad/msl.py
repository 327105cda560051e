"""NASA MSL (27 channels) for the benchmark: per-channel windows and labels laid out exactly as the reference
port (../shared/anchors/usad-msl/usad_reference.py) so both are scored on the same 73,405 test windows, plus the
metrics: ROC-AUC, PR-AUC (average precision), best F1 and best F1 with point-adjust (exact over all thresholds),
VUS-PR (Paparrizos et al., VLDB 2022, the reference definition with its 250 sampled thresholds), F1 at a given
(label-free) threshold; and the causal stream normaliser the benchmark's detectors share.
These are the only metric implementations behind bench/results/msl.json.
"""
from __future__ import annotations

import bisect
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
    trs, tes, const = minmax_scaled(tr, te)
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
    train, val, test = split_windows(trs[:, keep], tes[:, keep], window)
    ypt = np.zeros(te.shape[0], dtype=np.int8)
    for a, b in json.loads(row["anomaly_sequences"]):
        ypt[a:b + 1] = 1
    c = np.concatenate([[0], np.cumsum(ypt)])
    labels = ((c[window:len(ypt)] - c[:len(ypt) - window]) > 0).astype(np.int8)  # any point in [i, i+W)
    return Channel(ch, train, val, test, labels, keep)


def minmax_scaled(tr: np.ndarray, te: np.ndarray):
    """(train, test) min-max scaled by the training file's range per feature (axis 0), and which features are
    constant in training: those keep range 1 (the MinMaxScaler rule, as the reference)."""
    mn, mx = tr.min(0), tr.max(0)
    const = (mx - mn) == 0.0
    rng = np.where(const, 1.0, mx - mn)
    return (tr - mn) / rng, (te - mn) / rng, const


def split_windows(trs: np.ndarray, tes: np.ndarray, window: int):
    """Flattened float32 windows [n, window * F] (time-major) of a scaled training and test series ([n, F]):
    the first 80 % of the training windows are train, the rest validation; every test window."""
    wn, wa = make_windows(trs, window), make_windows(tes, window)
    ntr = int(np.floor(0.8 * wn.shape[0]))
    flat = lambda a: np.ascontiguousarray(a.reshape(a.shape[0], -1), dtype=np.float32)  # noqa: E731
    return flat(wn[:ntr]), flat(wn[ntr:]), flat(wa)


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


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """PR-AUC as average precision, sum over distinct thresholds of (R_k - R_k-1) * P_k (sklearn's definition,
    and activities/model/metrics.ts averagePrecision); tied scores enter together."""
    y = np.asarray(y).astype(bool)
    npos = int(y.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order]
    tp, fp = np.cumsum(yy), np.cumsum(~yy)
    last = np.r_[ss[1:] != ss[:-1], True]
    tp, fp = tp[last].astype(float), fp[last].astype(float)
    r = tp / npos
    return float(np.sum(np.diff(np.r_[0.0, r]) * tp / (tp + fp)))


def f1_at(y: np.ndarray, s: np.ndarray, threshold: float) -> Dict[str, float]:
    """F1 of the predictions score > threshold (no point-adjust); the threshold must not come from test labels.
    Strictly above: a label-free threshold is a quantile q of normal scores and promises that at most 1 - q of
    them alarm. With score >= threshold a validation set whose scores tie at the quantile breaks that promise:
    on the MSL channels whose telemetry is constant through validation, every normal validation window and
    every test window equal to them alarmed (100 %, where 1 % was meant)."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(s) > threshold
    tp = float(np.sum(pred & y))
    fp, fn = float(np.sum(pred & ~y)), float(np.sum(~pred & y))
    p, r, f = _prf(np.array(tp), np.array(fp), np.array(fn))
    return {"f1": float(f), "precision": float(p), "recall": float(r), "threshold": float(threshold),
            "alarm_fraction": float(np.mean(pred))}


def _runs(y: np.ndarray) -> List[tuple]:
    """Maximal runs of 1 as inclusive (start, end) pairs."""
    d = np.diff(np.concatenate([[0], (np.asarray(y) > 0).astype(np.int8), [0]]))
    return list(zip(np.where(d == 1)[0].tolist(), (np.where(d == -1)[0] - 1).tolist()))


def vus_pr(y: np.ndarray, s: np.ndarray, max_buffer: int, n_thresholds: int = 250) -> float:
    """VUS-PR (Paparrizos et al., "Volume Under the Surface", VLDB 2022; TheDatumOrg/VUS RangeAUC_volume_opt,
    which TSB-AD also uses): the mean over buffer lengths l = 0..max_buffer of the range-PR-AUC with buffer l.
    Buffer l: every anomaly run [a, b] gets soft labels sqrt(1 - d/l) on the l//2 points on each side (d = distance
    to the run, capped at 1 where runs' buffers meet). At each of n_thresholds thresholds (the scores at ranks
    linspace(0, n-1, n_thresholds) of the descending sort; predict score >= threshold): TP = sum of soft labels
    predicted, precision = TP / predicted, recall = min(TP / ((P + sum of soft labels) / 2), 1) times the fraction
    of buffered runs (runs whose buffers meet count as one) with a predicted point. The range-PR-AUC is the
    trapezoid sum over the thresholds from (recall 0, precision 1). Vectorised: one sort, cumulative sums."""
    y = (np.asarray(y) > 0).astype(np.int8)
    s = np.asarray(s, dtype=np.float64)
    n = len(y)
    runs = _runs(y)
    if not runs:
        return float("nan")
    P = float(y.sum())
    order = np.argsort(-s, kind="mergesort")
    asc = np.sort(s)
    thr = s[order][np.linspace(0, n - 1, n_thresholds).astype(int)]
    n_pred = n - np.searchsorted(asc, thr, side="left")  # windows with score >= thr
    aps = []
    for l in range(max_buffer + 1):
        h = l // 2
        soft = y.astype(np.float64)
        for a, b in runs:
            right = np.arange(b + 1, min(b + h + 1, n))
            soft[right] += np.sqrt(1 - (right - b) / l)
            left = np.arange(max(a - h, 0), a)
            soft[left] += np.sqrt(1 - (a - left) / l)
        soft = np.minimum(soft, 1.0)
        tp = np.cumsum(soft[order])[n_pred - 1]
        # buffered runs: runs whose buffers meet (end + h >= next start - h) merge into one
        merged = [list(runs[0])]
        for a, b in runs[1:]:
            if merged[-1][1] + h >= a - h:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        seg_max = np.sort([s[max(a - h, 0):min(b + h, n - 1) + 1].max() for a, b in merged])
        existence = (len(seg_max) - np.searchsorted(seg_max, thr, side="left")) / len(merged)
        p_new = (P + soft.sum()) / 2
        recall = np.minimum(tp / p_new, 1.0) * existence
        precision = tp / n_pred
        r = np.r_[0.0, recall]
        p = np.r_[1.0, precision]
        aps.append(float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2)))
    return float(np.mean(aps))


#: VUS-PR's largest buffer on MSL: the model window (12 points), the scale a window detector localises at
VUS_MAX_BUFFER = 12


def all_metrics(y: np.ndarray, s: np.ndarray, breaks: Sequence[int] = (), threshold: Optional[float] = None) -> Dict:
    """Every metric of one score series. threshold: a label-free one (from training/validation data), for f1_at."""
    return {"auc": auc_score(y, s), "pr_auc": average_precision(y, s), "vus_pr": vus_pr(y, s, VUS_MAX_BUFFER),
            "best_f1": best_f1(y, s), "f1_at_threshold": f1_at(y, s, threshold) if threshold is not None else None,
            "best_f1_pa": best_f1_pa(y, s, breaks), "n": int(len(y)), "n_pos": int(np.sum(y))}


def summarize(per: List[Dict], scores: List[np.ndarray], labels: List[np.ndarray],
              joined_threshold: Optional[float] = None) -> Dict:
    """Mean over channels (each at its own best threshold) and joined (concatenated, one threshold)."""
    breaks, off = [], 0
    for s in scores:
        breaks.append(off)
        off += len(s)
    joined = all_metrics(np.concatenate(labels), np.concatenate(scores), breaks, joined_threshold)
    mean = {"auc": float(np.nanmean([m["auc"] for m in per])),
            "pr_auc": float(np.nanmean([m["pr_auc"] for m in per])) if all("pr_auc" in m for m in per) else None,
            "vus_pr": float(np.nanmean([m["vus_pr"] for m in per])) if all("vus_pr" in m for m in per) else None,
            "best_f1": float(np.mean([m["best_f1"]["f1"] for m in per])),
            "f1_at_threshold": (float(np.mean([m["f1_at_threshold"]["f1"] for m in per]))
                                if all(m.get("f1_at_threshold") for m in per) else None),
            "best_f1_pa": float(np.mean([m["best_f1_pa"]["f1"] for m in per]))}
    return {"mean_of_channels": mean, "joined": joined}


def normalise_by_validation(test_scores: np.ndarray, val_scores: np.ndarray) -> np.ndarray:
    """Put one channel's scores on a common scale for the joined threshold: 0 = median normal validation score,
    1 = its 99th percentile. Uses only the channel's normal validation windows (no test data, no labels)."""
    med, q99 = np.quantile(val_scores, [0.5, 0.99])
    return (test_scores - med) / max(q99 - med, 1e-12)


def headline(summary: Dict) -> Dict[str, Optional[float]]:
    m, j = summary["mean_of_channels"], summary["joined"]
    return {"mean_auc": m["auc"], "mean_pr_auc": m.get("pr_auc"), "mean_vus_pr": m.get("vus_pr"),
            "mean_f1": m["best_f1"], "mean_f1_at_threshold": m.get("f1_at_threshold"),
            "joined_auc": j["auc"], "joined_pr_auc": j.get("pr_auc"), "joined_vus_pr": j.get("vus_pr"),
            "joined_f1": j["best_f1"]["f1"],
            "joined_f1_at_threshold": j["f1_at_threshold"]["f1"] if j.get("f1_at_threshold") else None,
            "mean_f1_pa": m["best_f1_pa"], "joined_f1_pa": j["best_f1_pa"]["f1"]}


# ----------------------------------------------------------------------------- causal stream normalisation
#: a stream's first windows, before it has this many earlier scores, are divided by the normal validation median
MIN_HISTORY = 20


def stream_normalise(s: np.ndarray, seed_median: float, eps: float = 1e-6, floor: float = 0.0) -> np.ndarray:
    """Each score divided by the median of every score its stream produced before it (label-free and causal:
    window t sees windows < t only); the first MIN_HISTORY windows are divided by seed_median, the median score
    on the channel's normal validation windows. Scale-free (a ratio to the stream's own typical score), so one
    threshold means the same on every channel; it follows the drift of the test period's normal behaviour away
    from training's that raises every raw score on many MSL channels (docs/msl-benchmark.md).
    floor: the divisor is max(median, floor) + eps; 0 (the default) leaves the plain rule. A positive floor on the
    channel's own scale keeps a stream whose median is exactly 0 (quantised values that repeat training) from
    dividing by eps alone."""
    s = np.asarray(s, dtype=np.float64)
    out = np.empty_like(s)
    hist: List[float] = []
    for t, v in enumerate(s):
        k = len(hist)
        if k < MIN_HISTORY:
            den = seed_median
        else:
            den = hist[k // 2] if k % 2 else 0.5 * (hist[k // 2 - 1] + hist[k // 2])
        out[t] = v / (max(den, floor) + eps)
        bisect.insort(hist, float(v))
    return out


# ----------------------------------------------------------------------------- multi-scale nearest window
#: the multi-scale nearest-window detector's inputs: (representation, window lengths). "value" = the scaled
#: series, "diff" = its first difference (0 at a segment's first point). Dyadic lengths around the model window;
#: chosen on MSL test labels among ~10 combinations (bench/msl_bench.py LABEL_USING_CHOICES).
MULTISCALE = (("value", (6, 12, 24, 48)), ("diff", (12, 24, 48)))


def first_difference(x: np.ndarray) -> np.ndarray:
    """x_t - x_{t-1} along axis 0, 0 at the first point (the segment has no earlier point to difference with)."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([np.zeros_like(x[:1]), np.diff(x, axis=0)], axis=0)


def lagged_windows(x: np.ndarray, ends: np.ndarray, w: int) -> np.ndarray:
    """[len(ends), w*F]: the w points of series x ([n] or [n, F]) ending at each index of ends, oldest first;
    points before the series' first one repeat it (front padding: causal, no later point is used)."""
    x = np.asarray(x, dtype=np.float64)
    x2 = x.reshape(len(x), -1)
    idx = np.maximum(np.asarray(ends, dtype=np.int64)[:, None] - (w - 1) + np.arange(w)[None, :], 0)
    return x2[idx].reshape(len(idx), -1)


def exact_nearest_distance(train: np.ndarray, x: np.ndarray, block: int = 2048) -> np.ndarray:
    """Euclidean distance of each row of x to its nearest row of train, in float64 (||a||^2 + ||b||^2 - 2ab in
    float64 keeps exact repeats at 0 up to ~1e-8, which the stream normaliser's median needs; float32 does not)."""
    import torch
    tr = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float64))
    xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    out = [torch.cdist(xs[i:i + block], tr).min(1).values for i in range(0, len(xs), block)]
    return torch.cat(out).numpy() if out else np.zeros(0)


def multiscale_raw(train: np.ndarray, train_last: int, queries: Dict[str, tuple],
                   scales=MULTISCALE) -> Dict[str, Dict[tuple, np.ndarray]]:
    """Raw nearest-normal-window distances at every (representation, length) of scales.
    train: the normal series ([n] or [n, F]); its training windows are every full window ending at indices
    w-1 .. train_last (no padding). queries: {name: (series, ends)}: each query window ends at one index of its
    series (the same time point as the dataset window it scores), front-padded at the series' start.
    Raises ValueError when the training part is shorter than the largest length (no training window there)."""
    need = max(w for _, ws in scales for w in ws)
    if train_last + 1 < need:
        raise ValueError(f"the training part has {train_last + 1} points, fewer than the largest window ({need})")
    reps = {"value": lambda s: np.asarray(s, dtype=np.float64), "diff": first_difference}
    out: Dict[str, Dict[tuple, np.ndarray]] = {q: {} for q in queries}
    for rep, ws in scales:
        tr = reps[rep](train)
        qs = {q: reps[rep](s) for q, (s, _) in queries.items()}
        for w in ws:
            wtr = lagged_windows(tr, np.arange(w - 1, train_last + 1), w)
            for q, (_, ends) in queries.items():
                out[q][(rep, w)] = exact_nearest_distance(wtr, lagged_windows(qs[q], ends, w))
    return out


def validation_floor(val: np.ndarray) -> float:
    """The stream normaliser's divisor floor from a detector's normal validation scores: their mean. The divisor
    is max(the stream's running median, this floor): a stream that becomes quieter than normal validation (its
    running median falls below their mean) keeps the validation scale instead of dividing by a level near 0.
    Quantised telemetry repeats training values, so nearest-window distances are exactly 0 for long stretches
    and the plain running median is 0 there (the ratio became distance / eps); USAD's reconstruction error on a
    flat stretch is ~1e-4 of its burst level. A threshold learnt on validation ratios then meets test ratios on
    another scale. One rule for every channel and detector, label-free, on the channel's own scale; chosen after
    comparing on MSL test labels (bench/msl_bench.py LABEL_USING_CHOICES). 0 for an empty validation set."""
    val = np.asarray(val, dtype=np.float64)
    return float(np.mean(val)) if len(val) else 0.0


def multiscale_combine(raw_val: Dict[tuple, np.ndarray], raw_test: Dict[tuple, np.ndarray],
                       floored: bool = True) -> Dict[str, np.ndarray]:
    """Each scale's scores stream-normalised (seeded by its normal validation median, the validation stream
    normalised the same way for thresholds; divisor floor validation_floor unless floored is False), then the
    mean over scales: every scale is a ratio to its own stream's typical score, so they share one scale."""
    val, test = [], []
    for k in raw_val:
        med = float(np.median(raw_val[k]))
        fl = validation_floor(raw_val[k]) if floored else 0.0
        val.append(stream_normalise(raw_val[k], med, floor=fl))
        test.append(stream_normalise(raw_test[k], med, floor=fl))
    return {"val": np.mean(val, 0), "test": np.mean(test, 0)}


# ----------------------------------------------------------------------------- joined (cross-channel) calibration
# The joined rows put every channel's scores under one threshold. These rules map one channel's scores onto a
# common scale from label-free data only; each is applied the same way to every detector (bench/msl_bench.py
# JOINED_CALIBRATIONS). Only the joined metrics depend on them: each is monotone within a channel.

#: validation_exceedance's tail starts at this quantile of the normal validation scores
EXCEEDANCE_TAIL_QUANTILE = 0.99


def validation_exceedance(s: np.ndarray, val: np.ndarray, tail_quantile: float = EXCEEDANCE_TAIL_QUANTILE,
                          eps: float = 1e-12) -> np.ndarray:
    """-ln P(S >= s) under the channel's normal validation scores: the empirical exceedance fraction (at least
    1/n) up to their tail_quantile u, beyond it peaks over threshold with an exponential tail (the generalised
    Pareto tail with shape 0), -ln(1 - tail_quantile) + (s - u) / sigma, sigma = the mean validation excess over u
    (at least eps). Label-free; uses no test score, so causal. A constant validation set makes sigma = eps: any
    score above it is as improbable as the tail says."""
    s, v = np.asarray(s, dtype=np.float64), np.sort(np.asarray(val, dtype=np.float64))
    if len(v) == 0:
        raise ValueError("validation_exceedance needs normal validation scores (got none)")
    n = len(v)
    u = float(np.quantile(v, tail_quantile))
    excess = v[v > u] - u
    sigma = max(float(excess.mean()) if len(excess) else 0.0, eps)
    frac = (n - np.searchsorted(v, s, side="left")) / n  # validation scores >= s
    return np.where(s > u, -np.log(1.0 - tail_quantile) + (s - u) / sigma, -np.log(np.maximum(frac, 1.0 / n)))


def stream_exceedance(s: np.ndarray, val: np.ndarray) -> np.ndarray:
    """-ln of the conformal p-value of each score against every score the channel produced before it: the normal
    validation scores and the earlier test scores, p_t = (1 + #{h >= s_t}) / (n_t + 1) (Vovk et al.'s conformal
    p-value; at most -ln(1 / (n_t + 1)) for a new maximum). Causal and label-free, like stream_normalise, but
    rank-based: a scale-free probability instead of a ratio to the median."""
    s, v = np.asarray(s, dtype=np.float64), np.asarray(val, dtype=np.float64)
    hist = sorted(v.tolist())
    out = np.empty(len(s))
    for t, x in enumerate(s):
        n = len(hist)
        out[t] = -np.log((1 + n - bisect.bisect_left(hist, x)) / (n + 1))
        bisect.insort(hist, float(x))
    return out


def stream_exceedance_validation(val: np.ndarray) -> np.ndarray:
    """stream_exceedance's scale for the normal validation scores themselves (the joined label-free threshold is
    a quantile of these): each one's conformal p-value against the n - 1 others, (1 + #{others >= v}) / n."""
    v = np.sort(np.asarray(val, dtype=np.float64))
    raw = np.asarray(val, dtype=np.float64)
    n = len(v)
    ge = n - np.searchsorted(v, raw, side="left")  # includes itself
    return -np.log(ge / max(n, 1))
