#!/usr/bin/python3
"""MSL benchmark driver (Python half of bench/msl.ts): USAD per channel, 27 channels, window 12.

Phases (each writes <work>/<phase>.json; bench/msl.ts runs them and the Node ONNX scoring in between):
  ours       faultline's trainer at its MSL settings (chosen a priori / on train+val only, see CONFIG_NOTE);
             per-channel and joined metrics; ONNX + test windows written for the Node scorer
  timing     faultline's trainer at the reference's hyperparameters (batch 7919, z = 12*100, 55 features,
             no clipping, no shuffling): per-epoch training time, PyTorch scoring throughput, ONNX for Node
  reference  ../shared/anchors/usad-msl/usad_reference.py at its measured settings (30 epochs, variant reference)
  random     uniform random scores (seed 0) on the same windows and labels
  summary    joins the phase files and the Node scoring file into one JSON
Usage: PYTHONPATH=workers/training/usad /usr/bin/python3 bench/msl_bench.py --phase ours --data DIR --work DIR
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np
import torch

from usad import msl
from usad.export import export_onnx
from usad.train import TrainConfig, reconstruction_errors, set_threads, train

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.environ.get("FAULTLINE_USAD_REFERENCE") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "anchors", "usad-msl", "usad_reference.py"))
# ../shared/anchors/usad-msl/usad-msl-reference.md: the same script, all 27 channels, labels "ref", seed 0,
# measured earlier on this machine (2 threads, unloaded). The script is deterministic (fixed seed, no shuffling).
DOCUMENTED_REFERENCE = {
    "10": {"mean_auc": 0.5842, "mean_f1": 0.3798, "mean_f1_pa": 0.7705, "joined_auc": 0.4036, "joined_f1": 0.2011,
           "joined_f1_pa": 0.3376},
    "30": {"mean_auc": 0.6373, "mean_f1": 0.4439, "mean_f1_pa": 0.9003, "joined_auc": 0.6102, "joined_f1": 0.2678,
           "joined_f1_pa": 0.4167},
    "timing": {"msl_epoch_s": 25.01, "epoch_per_channel_median_s": 0.898, "scoring_windows_per_s": 13197,
               "total_wall_30_epochs_s": 836.5, "threads": 2},
}
GOALS = {"mean_f1_pa": 0.92, "mean_f1": 0.55, "mean_auc": 0.75, "joined_auc": 0.75, "joined_f1": 0.40}
CONFIG_NOTE = (
    "Chosen before looking at any test label, from train/validation behaviour only: scaled test values clipped to "
    "[-1, 2] (faultline's dataset.clip default; the reference's unclipped values reach 2,000 on P-14; until "
    "2026-11-26 the benchmark clipped to [0, 1], which erased drops below a value constant in training, M-6's "
    "anomaly); command features never set "
    "in a channel's training data dropped (feature 0 always kept); batch 32, lr 1e-3, latent 40; one torch thread "
    "(batch-32 GEMMs are too small to gain from two); the paper's schedule n = epoch. The exported epoch is the one "
    "with the lowest normal validation reconstruction error (MSE(w,w1)+MSE(w,w2))/2, patience 5 (the earlier "
    "criterion alpha*MSE(w,w1)+beta*MSE(w,w3) contains the term AE2 is trained to raise; on MSL both pick epoch "
    "1-3, because the validation reconstruction itself degrades once the adversarial term starts). Score "
    "alpha = beta = 0.5. A candidate chosen on validation data - 20 warm-up epochs at n = 1, which halved the "
    "validation reconstruction error - scored worse on test (see rejected_candidates) and is not the default; "
    "that decision used the test result, and is the only one that did. "
    "Joined scores: each channel's test scores are put on a common scale with its own normal validation scores, "
    "(s - median_val) / (q99_val - median_val), so one threshold means 'this far above this channel's normal'.")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rows_of(a) -> List[Dict[str, str]]:
    rows = msl.channel_rows(a.data)
    if a.channels:
        keep = set(a.channels.split(","))
        rows = [r for r in rows if r["chan_id"] in keep]
    return rows


def write_bin(path: str, arr: np.ndarray, dtype) -> None:
    np.ascontiguousarray(arr, dtype=dtype).tofile(path)


def scores_of(model, x: np.ndarray, alpha=0.5, beta=0.5, batch=8192) -> np.ndarray:
    e = reconstruction_errors(model, torch.from_numpy(x), batch).cpu().numpy().astype(np.float64)
    return alpha * e[:, 0] + beta * e[:, 2]


def ours_train_config(a) -> TrainConfig:
    """faultline's trainer at its MSL settings (the "ours" phase; the telemetry-only baseline uses the same)."""
    return TrainConfig(epochs=a.epochs, batch_size=a.batch, latent_size=a.latent, learning_rate=a.lr, seed=0,
                       patience=a.patience, threads=a.ours_threads or a.threads, device=a.device, update="paper",
                       warmup_epochs=a.warmup, stop_on=a.stop_on)


def phase_ours(a) -> Dict:
    cfg = ours_train_config(a)
    set_threads(cfg.threads)
    t_all = time.perf_counter()
    per, scores, norm, labels, chans = [], [], [], [], []
    for r in rows_of(a):
        t0 = time.perf_counter()
        ch = msl.load_channel(a.data, r, window=12, clip=a.clip, drop_constant_commands=True)
        d = os.path.join(a.work, "ours", ch.name)
        os.makedirs(d, exist_ok=True)
        model, state, info = train(ch.train, ch.val, cfg, d)
        t_train = time.perf_counter() - t0
        ts = time.perf_counter()
        s, sv = scores_of(model, ch.test), scores_of(model, ch.val)
        t_score = time.perf_counter() - ts
        m = msl.all_metrics(ch.labels, s)
        per.append({"chan": ch.name, **m, "features_kept": len(ch.features), "train_windows": int(len(ch.train)),
                    "test_windows": int(len(ch.test)), "epochs_run": info["epochs_run"], "best_epoch": info["best_epoch"],
                    "epoch_seconds": [h["seconds"] for h in state.history], "train_seconds": t_train,
                    "score_seconds": t_score, "device": info["device"]})
        scores.append(s)
        norm.append(msl.normalise_by_validation(s, sv))
        labels.append(ch.labels)
        chans.append({"chan": ch.name, "dim": int(ch.test.shape[1]), "n": int(len(ch.test))})
        export_onnx(model, os.path.join(d, "model.onnx"))
        write_bin(os.path.join(d, "test.f32"), ch.test, np.float32)
        write_bin(os.path.join(d, "torch_scores.f64"), s, np.float64)
        log(f"[ours {ch.name}] AUC {m['auc']:.3f} F1 {m['best_f1']['f1']:.3f} F1-PA {m['best_f1_pa']['f1']:.3f} "
            f"epochs {info['epochs_run']} (best {info['best_epoch']}) {t_train:.1f}s")
    wall = time.perf_counter() - t_all
    raw = msl.summarize(per, scores, labels)
    normed = msl.summarize(per, norm, labels)
    ep = [e for p in per for e in p["epoch_seconds"]]
    return {"config": {**cfg.__dict__, "window": 12, "clip": [-a.clip, 1 + a.clip],
                       "drop_constant_command_features": True, "alpha": 0.5, "beta": 0.5, "note": CONFIG_NOTE},
            "per_channel": per, "mean_of_channels": raw["mean_of_channels"], "joined_raw": raw["joined"],
            "joined_normalised": normed["joined"],
            "headline": {**msl.headline(normed), "joined_auc_raw": raw["joined"]["auc"],
                         "joined_f1_raw": raw["joined"]["best_f1"]["f1"]},
            "timing": {"wall_seconds": wall, "train_seconds": sum(p["train_seconds"] for p in per),
                       "epoch_seconds_median_per_channel": float(np.median(ep)), "epochs_total": len(ep),
                       "threads": torch.get_num_threads()},
            "onnx_channels": chans}


def phase_timing(a) -> Dict:
    """Our trainer at the reference's hyperparameters: same data layout, batch, z, features, no shuffling."""
    cfg = TrainConfig(epochs=a.timing_epochs, batch_size=7919, latent_size=1200, seed=0, patience=0,
                      threads=a.threads, device=a.device, shuffle=False, update="paper")
    mats, chans, score_s, score_n = [], [], 0.0, 0
    for r in rows_of(a):
        ch = msl.load_channel(a.data, r, window=12, clip=False, drop_constant_commands=False)
        d = os.path.join(a.work, "timing", ch.name)
        os.makedirs(d, exist_ok=True)
        model, state, info = train(ch.train, ch.val, cfg, d)
        mats.append([h["seconds"] for h in state.history])
        t0 = time.perf_counter()
        s = scores_of(model, ch.test, batch=7919)
        score_s += time.perf_counter() - t0
        score_n += len(s)
        if a.onnx_timing:
            export_onnx(model, os.path.join(d, "model.onnx"))
            write_bin(os.path.join(d, "test.f32"), ch.test, np.float32)
            write_bin(os.path.join(d, "torch_scores.f64"), s, np.float64)
            chans.append({"chan": ch.name, "dim": int(ch.test.shape[1]), "n": int(len(ch.test))})
        log(f"[timing {ch.name}] epochs {np.round(mats[-1], 3).tolist()}")
    paired = paired_timing(a) if a.paired_reps > 0 else None
    mat = np.array(mats)  # [channels, epochs]
    sums = mat.sum(0)
    # epoch 1 carries no adversarial term (weight 1-1/n = 0) and skips the w3 path: leave it out of the median
    steady = sums[1:] if len(sums) > 1 else sums
    return {"config": {**cfg.__dict__, "features": 55, "clip": False, "note": "reference hyperparameters"},
            "epoch_sums_s": sums.tolist(), "msl_epoch_median_s": float(np.median(steady)),
            "epoch_median_per_channel_s": float(np.median(mat[:, 1:] if mat.shape[1] > 1 else mat)),
            "channels": [r["chan_id"] for r in rows_of(a)],
            "epoch_seconds_per_channel": {r["chan_id"]: m for r, m in zip(rows_of(a), mats)},
            "torch_scoring_windows_per_s": score_n / score_s, "score_windows": score_n,
            "threads": torch.get_num_threads(), "device": info["device"], "onnx_channels": chans, "paired": paired}


def _load_reference():
    import importlib.util
    spec = importlib.util.spec_from_file_location("usad_reference", REFERENCE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def paired_timing(a) -> Dict:
    """Reference loop and ours alternated epoch by epoch on the same data in one process, so load from other
    jobs on the machine hits both alike; the minimum over repetitions estimates the unloaded cost."""
    from usad.model import UsadModel
    from usad.train import _adam, resolve_device, train_step
    R = _load_reference()
    dev = resolve_device(a.device)  # both loops on the same device; CUDA work is asynchronous, so sync to time it
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows = {r["chan_id"]: r for r in msl.channel_rows(a.data)}
    out = []
    for name in [c for c in a.paired_channels.split(",") if c in rows]:
        ch = msl.load_channel(a.data, rows[name], window=12, clip=False, drop_constant_commands=False)
        x = torch.from_numpy(ch.train).to(dev)
        w = x.shape[1]
        torch.manual_seed(0)
        rm = R.UsadModel(w, 1200).to(dev)
        r1 = torch.optim.Adam(list(rm.encoder.parameters()) + list(rm.decoder1.parameters()))
        r2 = torch.optim.Adam(list(rm.encoder.parameters()) + list(rm.decoder2.parameters()))
        ours = {}
        for mode in ("paper", "sequential"):
            torch.manual_seed(0)
            m = UsadModel(w, 1200).to(dev)
            ours[mode] = (m, _adam(m.params1(), 1e-3), _adam(m.params2(), 1e-3))
        times = {"reference": [], "paper": [], "sequential": []}
        for k in range(a.paired_reps + 1):
            n = k + 1
            sync()
            t0 = time.perf_counter()
            for batch in R.batches(x, 7919):  # usad.py lines 86-101, verbatim order
                loss1, loss2 = rm.training_step(batch, n)
                loss1.backward()
                r1.step()
                r1.zero_grad()
                loss1, loss2 = rm.training_step(batch, n)
                loss2.backward()
                r2.step()
                r2.zero_grad()
            sync()
            tr = time.perf_counter() - t0
            tm = {}
            for mode, (m, o1, o2) in ours.items():
                t0 = time.perf_counter()
                for i in range(0, x.shape[0], 7919):
                    train_step(m, o1, o2, x[i:i + 7919], n, mode)
                sync()
                tm[mode] = time.perf_counter() - t0
            if k == 0:
                continue  # epoch 1 has no adversarial term (ours skips the w3 path there): warm-up, not timed
            times["reference"].append(tr)
            for mode in tm:
                times[mode].append(tm[mode])
        row = {"chan": name, "train_windows": int(x.shape[0]), "seconds": times, "device": dev.type}
        for mode in ("paper", "sequential"):
            row[f"speedup_{mode}_min"] = min(times["reference"]) / min(times[mode])
            row[f"speedup_{mode}_median"] = float(np.median(np.array(times["reference"]) / np.array(times[mode])))
        log(f"[paired {name}] ref {np.round(times['reference'], 3).tolist()} paper {np.round(times['paper'], 3).tolist()} "
            f"seq {np.round(times['sequential'], 3).tolist()}")
        out.append(row)
    tot = {k: sum(min(r["seconds"][k]) for r in out) for k in ("reference", "paper", "sequential")}
    return {"channels": out, "speedup_paper_sum_of_min": tot["reference"] / tot["paper"],
            "speedup_sequential_sum_of_min": tot["reference"] / tot["sequential"],
            "speedup_paper_median_of_pairs": float(np.median([x for r in out for x in
                                                              np.array(r["seconds"]["reference"]) / np.array(r["seconds"]["paper"])])),
            "what": "epochs 2.. of batch 7919, z 1200, 55 features; reference = its exact loop (leaky variant), "
                    "paper = ours default, sequential = ours in the reference's update order"}


def phase_reference(a) -> Dict:
    out = os.path.join(a.work, "reference_raw.json")
    cmd = [sys.executable, REFERENCE, "--data", a.data, "--epochs", str(a.ref_epochs), "--variant", "reference",
           "--out", out, "--threads", str(a.threads)]
    if a.channels:
        cmd += ["--channels", a.channels]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"reference run failed ({p.returncode})")
    raw = json.load(open(out))
    res = raw["results"][str(a.ref_epochs)]
    per = [{"chan": m["chan"], **m["ref"]} for m in res["per_channel"]]
    agg = res["aggregate_concat"]["ref"]
    mean = res["mean_of_channels"]["ref"]
    return {"command": " ".join(cmd), "config": raw["config"], "channels": [m["chan"] for m in res["per_channel"]],
            "per_channel": per, "mean_of_channels": mean, "joined_raw": agg,
            "headline": {"mean_auc": mean["auc"], "mean_f1": mean["best_f1"], "mean_f1_pa": mean["best_f1_pa"],
                         "joined_auc": agg["auc"], "joined_f1": agg["best_f1"]["f1"],
                         "joined_f1_pa": agg["best_f1_pa"]["f1"]},
            "timing": {"wall_seconds": wall, "msl_epoch_median_s": raw["timing"]["epoch_time_sum_over_channels_median_per_epoch_s"],
                       "epoch_median_per_channel_s": raw["timing"]["epoch_time_median_s_all_channels"],
                       "torch_scoring_windows_per_s": raw["timing"]["score_windows_per_s"][str(a.ref_epochs)],
                       "epoch_per_channel_median_s": raw["timing"]["epoch_time_per_channel_median_s"],
                       "total_wall_s": raw["timing"]["total_wall_s"], "threads": raw["env"]["torch_threads"]}}


def phase_random(a) -> Dict:
    rng = np.random.default_rng(0)
    per, scores, labels = [], [], []
    for r in rows_of(a):
        ch = msl.load_channel(a.data, r, window=12, clip=False, drop_constant_commands=False)
        s = rng.random(len(ch.labels))
        per.append({"chan": ch.name, **msl.all_metrics(ch.labels, s)})
        scores.append(s)
        labels.append(ch.labels)
    sm = msl.summarize(per, scores, labels)
    return {"per_channel": per, "mean_of_channels": sm["mean_of_channels"], "joined_raw": sm["joined"],
            "headline": msl.headline(sm), "note": "uniform random scores, numpy default_rng(0)"}


def nearest_normal_distance(train: np.ndarray, x: np.ndarray, block: int = 4096) -> np.ndarray:
    """Euclidean distance of each window in x to its nearest normal training window (exact, blocked cdist)."""
    tr = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32))
    xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.cat([torch.cdist(xs[i:i + block], tr).min(1).values for i in range(0, len(xs), block)]
                     ).numpy().astype(np.float64)


def telemetry_splits(ch: msl.Channel) -> Dict[str, np.ndarray]:
    """train/val/test windows of feature 0 (the telemetry value) alone, out of load_channel's [n, W*F] layout."""
    nf = len(ch.features)
    return {k: np.ascontiguousarray(x.reshape(len(x), -1, nf)[:, :, 0])
            for k, x in (("train", ch.train), ("val", ch.val), ("test", ch.test))}


def phase_baselines(a) -> Dict:
    """Detectors beside USAD on the same windows, labels and metrics, none tuned on test labels:
    knn           distance to the nearest normal training window (the non-learned baseline that window
                  reconstruction models are measured against), on the windows "ours" models
    knn_telemetry the same on feature 0 alone (the telemetry value; features 1.. are command flags)
    knn_telemetry_unclipped  the same on unclipped values (one feature cannot drown others, so nothing to bound)
    usad_telemetry faultline's trainer at the "ours" settings on feature 0 alone
    Each channel's validation scores normalise its test scores for the joined figures, as for "ours"."""
    cfg = ours_train_config(a)
    set_threads(cfg.threads)
    names = ("knn", "knn_telemetry", "knn_telemetry_unclipped", "usad_telemetry")
    acc = {n: {"per": [], "norm": [], "labels": [], "seconds": 0.0} for n in names}
    for r in rows_of(a):
        ch = msl.load_channel(a.data, r, window=12, clip=a.clip, drop_constant_commands=True)
        tel = telemetry_splits(ch)
        windows = {"knn": {"train": ch.train, "val": ch.val, "test": ch.test}, "knn_telemetry": tel,
                   "knn_telemetry_unclipped": telemetry_splits(
                       msl.load_channel(a.data, r, window=12, clip=None, drop_constant_commands=True))}
        for n in names:
            t0 = time.perf_counter()
            if n == "usad_telemetry":
                model, _, _ = train(tel["train"], tel["val"], cfg, os.path.join(a.work, "baselines", ch.name))
                s, sv = scores_of(model, tel["test"]), scores_of(model, tel["val"])
            else:
                src = windows[n]
                s = nearest_normal_distance(src["train"], src["test"])
                sv = nearest_normal_distance(src["train"], src["val"])
            acc[n]["seconds"] += time.perf_counter() - t0
            acc[n]["per"].append({"chan": ch.name, **msl.all_metrics(ch.labels, s)})
            acc[n]["norm"].append(msl.normalise_by_validation(s, sv))
            acc[n]["labels"].append(ch.labels)
        log(f"[baselines {ch.name}] " + " ".join(f"{n} AUC {acc[n]['per'][-1]['auc']:.3f}" for n in names))
    out = {}
    for n in names:
        sm = msl.summarize(acc[n]["per"], acc[n]["norm"], acc[n]["labels"])
        out[n] = {"headline": msl.headline(sm), "seconds": acc[n]["seconds"],
                  "per_channel": [{"chan": p["chan"], "auc": p["auc"], "f1": p["best_f1"]["f1"],
                                   "f1_pa": p["best_f1_pa"]["f1"]} for p in acc[n]["per"]]}
    out["config"] = {"clip": [-a.clip, 1 + a.clip], "usad": {**cfg.__dict__}}
    return out


def goals_met(h: Dict) -> Dict:
    return {k: (h.get(k) is not None and h[k] >= v) for k, v in GOALS.items()}


def phase_summary(a) -> Dict:
    ph = {}
    for name in ("ours", "timing", "reference", "random", "node", "baselines"):
        p = os.path.join(a.work, f"{name}.json")
        ph[name] = json.load(open(p)) if os.path.exists(p) else None
    ours, ref, tim, rnd, node = ph["ours"], ph["reference"], ph["timing"], ph["random"], ph["node"]
    reused = os.path.join(a.work, "node_reused.json")  # Node scorings of model sets not re-exported in this work dir
    if os.path.exists(reused):
        node = (node or []) + [{**x, "reused_from_earlier_run": True} for x in json.load(open(reused))]
    out = {"benchmark": "USAD on NASA MSL, 27 channels, one model per channel, window 12, window label = any "
                        "anomalous point (reference notebook); same 73,405 test windows for every method",
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "goals": GOALS,
           "env": {"torch": torch.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
                   "cuda": torch.cuda.is_available(),
                   "note": (f"{torch.cuda.get_device_name(0)} with {os.cpu_count()} CPU cores, not shared"
                            if torch.cuda.is_available() else
                            "shared 2-core machine (other developers' jobs ran at the same time: timings are noisy, "
                            "both sides measured in the same run)")}}
    heads = {}
    for name, p in (("ours", ours), ("reference", ref), ("random", rnd)):
        if p:
            heads[name] = {**p["headline"], "goals_met": goals_met(p["headline"])}
    out["headline"] = heads
    base = ph["baselines"]
    if base:
        for name in ("knn", "knn_telemetry", "knn_telemetry_unclipped", "usad_telemetry"):
            if name in base:
                heads[name] = {**base[name]["headline"], "goals_met": goals_met(base[name]["headline"])}
        heads["baselines_note"] = (
            "knn: distance to the nearest normal training window, on the windows the 'ours' models see; "
            "knn_telemetry: the same on feature 0 alone (the telemetry value), knn_telemetry_unclipped: on unclipped "
            "values; usad_telemetry: faultline's trainer "
            "at the 'ours' settings on feature 0 alone. None uses test labels; the feature-0 variants are here "
            "because the ablation (test-set sensitivity) pointed at feature 0, so they are not a headline choice")
    out["headline"]["reference_documented"] = {
        e: {**DOCUMENTED_REFERENCE[e], "goals_met": goals_met(DOCUMENTED_REFERENCE[e])} for e in ("10", "30")}
    if ref and len(ref.get("channels", [])) < 27:
        heads["reference"]["note"] = f"this run's reference covers only {ref['channels']}: not comparable to 27-channel figures"
    if ours:
        by = lambda p: {x["chan"]: x for x in p["per_channel"]} if p else {}  # noqa: E731
        rb, xb = by(ref), by(rnd)
        short = lambda x: {"auc": x["auc"], "f1": x["best_f1"]["f1"], "f1_pa": x["best_f1_pa"]["f1"]} if x else None  # noqa: E731
        bb = {n: {x["chan"]: x for x in base[n]["per_channel"]}
              for n in ("knn", "knn_telemetry", "knn_telemetry_unclipped", "usad_telemetry")
              if base and n in base}
        out["per_channel"] = [{"chan": o["chan"], "ours": short(o), "reference_this_run": short(rb.get(o["chan"])),
                               "random": short(xb.get(o["chan"])), **{n: v.get(o["chan"]) for n, v in bb.items()}}
                              for o in ours["per_channel"]]
    timing = {}
    if tim and tim.get("paired"):
        timing["paired_same_process"] = tim["paired"]
    if tim:
        timing["reference_documented"] = DOCUMENTED_REFERENCE["timing"]
        per_ours = tim.get("epoch_seconds_per_channel") or {
            c: [json.loads(l)["seconds"] for l in open(os.path.join(a.work, "timing", c, "history.jsonl"))]
            for c in (tim.get("channels") or sorted(os.listdir(os.path.join(a.work, "timing"))))
            if os.path.exists(os.path.join(a.work, "timing", c, "history.jsonl"))}
        ref_pc = (ref or {}).get("timing", {}).get("epoch_per_channel_median_s")
        raw_path = os.path.join(a.work, "reference_raw.json")
        if ref_pc is None and os.path.exists(raw_path):
            ref_pc = json.load(open(raw_path))["timing"]["epoch_time_per_channel_median_s"]
        ref_pc = ref_pc or {}
        rows = []
        for c, eps in per_ours.items():
            o = float(np.median(eps[1:] if len(eps) > 1 else eps))
            r = ref_pc.get(c)
            rows.append({"chan": c, "ours_epoch_s": o, "reference_epoch_s": r, "speedup": (r / o) if r else None})
        timing["same_hyperparameters_per_channel"] = {
            "what": "median training seconds of one epoch (batch 7919 = 1 step, z 1200, 55 features, no validation "
                    "inside), ours from the timing phase (epochs 2..), reference from its own run (its median over "
                    "all epochs); different moments of one benchmark on a loaded machine",
            "channels": rows}
    tim_channels = (tim or {}).get("channels") or (sorted(os.listdir(os.path.join(a.work, "timing")))
                                                    if os.path.isdir(os.path.join(a.work, "timing")) else [])
    if tim and ref and len(tim_channels) == 27 and len(ref.get("channels") or tim_channels) == 27:
        timing["same_hyperparameters"] = {
            "what": "one MSL epoch = one training epoch of all 27 channels (median over epochs), batch 7919, z 1200, "
                    "55 features, no validation/scoring inside; same thread count",
            "reference_msl_epoch_s": ref["timing"]["msl_epoch_median_s"], "ours_msl_epoch_s": tim["msl_epoch_median_s"],
            "speedup": ref["timing"]["msl_epoch_median_s"] / tim["msl_epoch_median_s"],
            "reference_epoch_per_channel_median_s": ref["timing"]["epoch_median_per_channel_s"],
            "ours_epoch_per_channel_median_s": tim["epoch_median_per_channel_s"],
            "ours_epoch_sums_s": tim["epoch_sums_s"], "goal_speedup": 1.5}
    if ours:
        timing["ours_wall_s"] = ours["timing"]["wall_seconds"]
        timing["ours_goals_met"] = heads["ours"]["goals_met"]
    if ours and ref:
        timing["wall_to_quality"] = {
            "ours_wall_s": ours["timing"]["wall_seconds"], "ours_goals_met": heads["ours"]["goals_met"],
            "reference_wall_s": ref["timing"]["wall_seconds"], "reference_goals_met": heads["reference"]["goals_met"],
            "note": "wall = load + train + score + metrics for all 27 channels (ours: early stopping; reference: "
                    f"{ref['config']['epochs']} epochs incl. its per-epoch validation)"}
    if tim or ref or node:
        timing["scoring"] = {"reference_pytorch_windows_per_s": ref["timing"]["torch_scoring_windows_per_s"] if ref else None,
                             "ours_pytorch_same_shape_windows_per_s": tim["torch_scoring_windows_per_s"] if tim else None,
                             "node_onnx": node}
    out["timing"] = timing
    if ours:
        out["ours_config"] = ours["config"]
        out["ours_epochs"] = [{"chan": p["chan"], "epochs_run": p["epochs_run"], "best_epoch": p["best_epoch"]}
                              for p in ours["per_channel"]]
    abl = sorted(f for f in os.listdir(a.work) if f.startswith("ablation") and f.endswith(".json"))
    if abl:
        out["ablation"] = {
            "what": "bench/msl_ablation.py: one fixed-length run per channel (same trainer and settings, patience "
                    "off), test metrics of epoch-selection rules that use validation data only and of scoring "
                    "variants. TEST-SET SENSITIVITY, not used to choose the headline settings. score: mean = over "
                    "the whole window, last = the window's last step, f0* = feature 0 (telemetry value) only, "
                    "valnorm = each feature's error divided by its mean error on normal validation windows, then "
                    "averaged over features",
            "runs": []}
        for f in abl:
            ab = json.load(open(os.path.join(a.work, f)))
            out["ablation"]["runs"].append({
                "config": ab.get("config"), "epochs": ab["epochs"],
                "rows": [{k: v for k, v in r.items() if k != "epochs_chosen"} for r in ab["results"]
                         if not r["rule"].startswith("epoch_") or r["rule"] in ab.get("keep_rules", [])]})
    cand = os.path.join(a.work, "candidates.json")
    if os.path.exists(cand):
        out["rejected_candidates"] = json.load(open(cand))
    if a.carry and os.path.exists(a.carry):
        # sections measured by earlier runs (their work dirs are gone), kept with the date they were measured
        old = json.load(open(a.carry))
        for key in ("ablation", "rejected_candidates"):
            if key not in out and key in old:
                out[key] = {"measured": old.get("date"), "config_then": "test values clipped to [0, 1]",
                            **(old[key] if isinstance(old[key], dict) else {"items": old[key]})}
    # the phase files stay in the work dir; the committed summary keeps headline, per-channel and timing only
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", required=True, choices=["ours", "timing", "reference", "random", "baselines", "summary"])
    ap.add_argument("--data", default=os.path.normpath(os.path.join(HERE, "..", "..", "shared", "datasets", "msl")))
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", default="")
    ap.add_argument("--channels", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--clip", type=float, default=1.0,
                    help="ours: scaled test values clipped to [-CLIP, 1 + CLIP] (faultline's dataset.clip default)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latent", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=0,
                    help="epochs with the paper's epoch-1 losses before its schedule (TrainConfig.warmup_epochs); "
                         "20 was tried and rejected, see CONFIG_NOTE")
    ap.add_argument("--stop-on", default="recon", choices=["recon", "score"])
    ap.add_argument("--ours-threads", type=int, default=1,
                    help="threads for the ours phase: its batch-32 GEMMs are too small to gain from a second thread")
    ap.add_argument("--timing-epochs", type=int, default=4)
    ap.add_argument("--onnx-timing", type=int, default=1)
    ap.add_argument("--paired-reps", type=int, default=4)
    ap.add_argument("--paired-channels", default="P-10,M-1,T-9")
    ap.add_argument("--ref-epochs", type=int, default=30)
    ap.add_argument("--carry", default="", help="summary: an earlier results file whose ablation and "
                                                "rejected_candidates sections are kept when this work dir has none")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    set_threads(a.threads)
    res = {"ours": phase_ours, "timing": phase_timing, "reference": phase_reference, "random": phase_random,
           "baselines": phase_baselines, "summary": phase_summary}[a.phase](a)
    path = a.out or os.path.join(a.work, f"{a.phase}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    log(f"[{a.phase}] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
