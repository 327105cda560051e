#!/usr/bin/env python3
"""The dataset pipeline of bench/dataset.ts written with pandas/numpy, for a side-by-side timing.

Same input (the synthetic campaign; numeric tables as .npy because the machine has no pyarrow),
same rules: label from the fault log (applied <= t < (recovered or removed) + margin), drop
empty/constant series, fill gaps up to max_gap points within each split range, as the Node side
does (interior: linear in time; range edges: nearest value), fail on longer gaps, min-max scaler
fit on normal training points only, scaled values clipped to [-1, 2] (the Node default, clip 1),
windows of `size`/`stride` inside each split range (label 'any'), then write train/val/test .npy
(float32 [n, W, F]), labels, times, fault types and the reference CSV.
Prints one JSON line: seconds per stage, total, and peak RSS.
Usage: dataset_pandas.py <input dir> <output dir> <window> <stride> <margin ms> <max gap ms>
"""
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

FAULT_TYPES = ['pod-kill', 'pod-failure', 'network-delay', 'network-loss', 'cpu-stress', 'memory-stress', 'http-abort', 'http-delay']


def peak_rss_kb() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def main() -> None:
    src, out, W, stride, margin, max_gap_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    os.makedirs(out, exist_ok=True)
    t = {}
    t0 = time.perf_counter()
    start = t0
    ru0 = resource.getrusage(resource.RUSAGE_SELF)

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        t[name] = round((now - t0) * 1000)
        t0 = now

    names = json.load(open(os.path.join(src, 'names.json')))
    parts = [np.load(os.path.join(src, f'{p}.npy')) for p in ('baseline', 'chaos')]
    seg_len = [len(p) for p in parts]
    df = pd.DataFrame(np.concatenate(parts), columns=['timestamp'] + names)
    ts = df['timestamp'].to_numpy()
    step = ts[1] - ts[0]
    segments = [(0, seg_len[0]), (seg_len[0], seg_len[0] + seg_len[1])]
    lap('read')

    faults = pd.read_json(os.path.join(src, 'chaos', 'faults.jsonl'), lines=True)
    faults = faults[faults['appliedMs'].notna()]
    end = faults['recoveredMs'].fillna(faults['removedMs'])
    to = np.where(end.isna(), np.inf, np.maximum(end.fillna(0), faults['appliedMs']) + margin)
    c0, c1 = segments[1]
    a = np.clip(np.searchsorted(ts, faults['appliedMs'].to_numpy(), 'left'), c0, c1)
    b = np.clip(np.where(np.isinf(to), len(ts), np.searchsorted(ts, np.where(np.isinf(to), 0, to), 'left')), c0, c1)
    types = sorted(set(faults['type']), key=lambda x: FAULT_TYPES.index(x) if x in FAULT_TYPES else len(FAULT_TYPES))
    mask = np.zeros(len(ts), dtype=np.uint32)
    for bit, ty in enumerate(types):
        sel = (faults['type'] == ty).to_numpy()
        diff = np.zeros(len(ts) + 1, dtype=np.int32)
        np.add.at(diff, a[sel], 1)
        np.add.at(diff, b[sel], -1)
        mask |= (np.cumsum(diff[:-1]) > 0).astype(np.uint32) << bit
    is_anomaly = (mask != 0).astype(np.uint8)
    lap('label')

    # Split ranges (train = baseline head, val = baseline tail + chaos head, test = chaos rest);
    # gaps are filled within each, never across a split boundary (as buildDataset does).
    n_train = int(round(seg_len[0] * 0.8))
    n_valc = int(round(seg_len[1] * 0.2))
    ranges = {'train': [(0, n_train)], 'val': [(n_train, seg_len[0]), (c0, c0 + n_valc)], 'test': [(c0 + n_valc, c1)]}
    fill_ranges = [r for rs in ranges.values() for r in rs if r[1] > r[0]]

    max_gap = int(max_gap_ms // step)
    kept = []
    for name in names:
        s = df[name]
        if s.notna().sum() == 0 or s.min() == s.max():
            df.drop(columns=name, inplace=True)
            continue
        for lo, hi in fill_ranges:
            part = df[name].iloc[lo:hi]
            na = part.isna().to_numpy()
            if not na.any():
                continue
            run_id = np.cumsum(np.diff(np.concatenate(([0], na.astype(np.int8)))) == 1)
            run_len = pd.Series(na).groupby(run_id).transform('sum').to_numpy()
            if (na & (run_len > max_gap)).any():
                raise SystemExit(f'NaN would remain in {name}')
            idx = pd.Index(ts[lo:hi])
            filled = pd.Series(part.to_numpy(), index=idx).interpolate(method='index', limit_area='inside').ffill().bfill()
            df.iloc[lo:hi, df.columns.get_loc(name)] = filled.to_numpy()
        kept.append(name)
    lap('clean')

    X = df[kept].to_numpy()
    fit = X[:n_train][is_anomaly[:n_train] == 0]
    mn, mx = fit.min(axis=0), fit.max(axis=0)
    scale = np.where(mx - mn > 0, mx - mn, 1.0)
    Xs = ((X - mn) / scale).astype(np.float32)
    np.clip(Xs, -1.0, 2.0, out=Xs)
    lap('scale')

    wins = {}
    for split, rs in ranges.items():
        starts, labels, masks = [], [], []
        for lo, hi in rs:
            if hi - lo < W:
                continue
            st = np.arange(lo, hi - W + 1, stride)
            starts.append(st)
            labels.append(sliding_window_view(is_anomaly[lo:hi], W)[::stride].max(axis=1))
            masks.append(np.bitwise_or.reduce(sliding_window_view(mask[lo:hi], W)[::stride], axis=1))
        wins[split] = (np.concatenate(starts), np.concatenate(labels), np.concatenate(masks))
    lap('window')

    F = len(kept)
    names_of = {}
    for split, (st, lab, msk) in wins.items():
        view = sliding_window_view(Xs, (W, F))[:, 0]  # [n - W + 1, W, F]
        np.save(os.path.join(out, f'{split}.npy'), view[st])
        np.save(os.path.join(out, f'{split}_labels.npy'), lab.astype(np.uint8))
        np.save(os.path.join(out, f'{split}_times.npy'), np.stack([ts[st], ts[st + W - 1]], axis=1))
        for m in np.unique(msk):
            names_of.setdefault(int(m), '+'.join(ty for bit, ty in enumerate(types) if int(m) & (1 << bit)) or None)
        json.dump([names_of[int(m)] for m in msk], open(os.path.join(out, f'{split}_fault_types.json'), 'w'))
    json.dump(kept, open(os.path.join(out, 'features.json'), 'w'))
    json.dump({'kind': 'minmax', 'features': kept, 'offset': mn.tolist(), 'scale': scale.tolist()}, open(os.path.join(out, 'scaler.json'), 'w'))
    lap('write-npy')

    csv = pd.DataFrame({'window_start': (ts - step).astype(np.int64), 'window_end': ts.astype(np.int64), 'Normal/Attack': np.where(is_anomaly == 1, 'Attack', 'Normal')})
    csv = pd.concat([csv, df[kept]], axis=1)
    csv.to_csv(os.path.join(out, 'dataset.csv'), index=False)
    lap('write-csv')

    total = time.perf_counter() - start
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru.ru_utime - ru0.ru_utime) + (ru.ru_stime - ru0.ru_stime)
    print(json.dumps({'engine': 'pandas', 'timings': t, 'seconds': total, 'cpuSeconds': cpu, 'peakRssKb': peak_rss_kb(),
                      'windows': {k: int(len(v[0])) for k, v in wins.items()}, 'features': len(kept),
                      'anomalousWindows': {k: int(v[1].sum()) for k, v in wins.items()}}))


if __name__ == '__main__':
    main()
