"""USAD training: the paper's two-phase losses, one optimizer per autoencoder, early stopping, checkpoints.

Losses (Audibert et al. 2020, eq. 7/8, n = epoch number starting at 1):
    loss1 = 1/n * MSE(w, w1) + (1 - 1/n) * MSE(w, w3)      -> Adam over encoder + decoder1
    loss2 = 1/n * MSE(w, w2) - (1 - 1/n) * MSE(w, w3)      -> Adam over encoder + decoder2
with w1 = D1(E(w)), w2 = D2(E(w)), w3 = D2(E(w1)).

Gradients are taken with `torch.autograd.grad` and handed to each optimizer explicitly, so optimizer 1 gets
exactly d loss1 / d(E, D1) and optimizer 2 exactly d loss2 / d(E, D2): nothing accumulates in `.grad` between
the two updates (the public reference lets one loss's gradients leak into the other step, see
../shared/anchors/usad-msl/usad-msl-reference.md).

Update modes:
  * "paper" (default): the paper's Algorithm 1 - one forward pass per batch, both losses' gradients taken
    at the same parameters, then AE1 and AE2 updated. Cheap: loss2 = S - loss1 with S = (MSE(w,w1) +
    MSE(w,w2))/n, so two backward passes (loss1 over E,D1,D2 and the short S) give both gradient sets
    without a second trip through the w3 path.
  * "sequential": the reference loop's order (update AE1, forward again, update AE2), without its leak.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .model import UsadModel

log = logging.getLogger("usad")

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.jsonl"


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 256
    latent_size: int = 40
    learning_rate: float = 1e-3
    seed: int = 0
    # early stopping / best-epoch selection on normal validation windows; 0 disables stopping (the best
    # epoch is still kept). What is watched (`stop_on`):
    #   "recon": (MSE(w,w1) + MSE(w,w2)) / 2, the two autoencoders' direct reconstruction errors. Both losses
    #            minimise their own term at every epoch, so it falls while the models learn normal data.
    #   "score": alpha*MSE(w,w1) + beta*MSE(w,w3), the anomaly score itself. AE2 is trained to *raise*
    #            MSE(w,w3) (loss2's adversarial term, weight 1-1/n), so this rises from epoch 2 on by design and
    #            stops training after 1-2 epochs, before the models have learnt the data.
    patience: int = 5
    stop_on: str = "recon"
    # Warm-up: `warmup_epochs` epochs with the paper's epoch-1 losses (n = 1: weight 1 on each autoencoder's
    # own reconstruction, 0 on the adversarial term) before the paper's schedule n = 1, 2, ... (0 = the paper). The paper's n counts epochs, so how much plain reconstruction the models learn before the
    # adversarial term takes over depends on the steps per epoch: with small data (or MSL at batch 32) one
    # epoch is far too few steps, and the adversarial phase then starts from models no better than predicting
    # the training mean. Early stopping does not count warm-up epochs (the best epoch is still tracked).
    warmup_epochs: int = 0
    min_delta: float = 0.0
    threads: int = 0  # 0: all cores torch sees (os.cpu_count())
    device: str = "auto"
    alpha: float = 0.5
    beta: float = 0.5
    shuffle: bool = True
    update: str = "paper"
    eval_batch_size: int = 8192


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    best_val: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: List[Dict] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


def set_threads(threads: int) -> int:
    n = threads if threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def _mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean((x - y) ** 2)


def _adam(params: List[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    try:
        return torch.optim.Adam(params, lr=lr, foreach=True)  # one fused pass over the parameter list
    except TypeError:
        return torch.optim.Adam(params, lr=lr)


def usad_gradients(model: UsadModel, x: torch.Tensor, n: int
                   ) -> Tuple[torch.Tensor, torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
    """loss1, loss2 and their gradients w.r.t. params1() (E, D1) and params2() (E, D2), one forward pass."""
    a, b = 1.0 / n, 1.0 - 1.0 / n
    enc, d1, d2 = (list(m.parameters()) for m in (model.encoder, model.decoder1, model.decoder2))
    z = model.encoder(x)
    if n == 1:  # the w3 terms carry weight 1 - 1/n = 0: two plain autoencoders, skip the w3 path
        w1, w2 = model.decoder1(z), model.decoder2(z)
        loss1, loss2 = _mse(x, w1), _mse(x, w2)
        g1 = torch.autograd.grad(loss1, enc + d1, retain_graph=True)
        g2 = torch.autograd.grad(loss2, enc + d2)
        return loss1.detach(), loss2.detach(), list(g1), list(g2)
    w1 = model.decoder1(z)
    w2 = model.decoder2(z)
    w3 = model.decoder2(model.encoder(w1))
    m1, m2, m3 = _mse(x, w1), _mse(x, w2), _mse(x, w3)
    loss1 = a * m1 + b * m3
    loss2 = a * m2 - b * m3
    s = a * (m1 + m2)  # = loss1 + loss2, built without the w3 terms so its backward skips that path
    g_a = torch.autograd.grad(loss1, enc + d1 + d2, retain_graph=True)
    g_s = torch.autograd.grad(s, enc + d2)
    ne, n1 = len(enc), len(d1)
    g1_enc, g1_d1, g1_d2 = g_a[:ne], g_a[ne:ne + n1], g_a[ne + n1:]  # g1_d2 = d loss1/d D2 = b*dMSE(w,w3)/dD2
    g2_enc = [gs - g for gs, g in zip(g_s[:ne], g1_enc)]
    g2_d2 = [gs - g for gs, g in zip(g_s[ne:], g1_d2)]
    return loss1.detach(), loss2.detach(), list(g1_enc) + list(g1_d1), g2_enc + g2_d2


def _apply(opt: torch.optim.Optimizer, params: List[torch.nn.Parameter], grads: List[torch.Tensor]) -> None:
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p in params:
        p.grad = None  # nothing survives into the other optimizer's step


def train_step(model: UsadModel, opt1: torch.optim.Optimizer, opt2: torch.optim.Optimizer, x: torch.Tensor,
               n: int, update: str) -> Tuple[torch.Tensor, torch.Tensor]:
    p1, p2 = model.params1(), model.params2()
    if update == "paper":
        loss1, loss2, g1, g2 = usad_gradients(model, x, n)
        _apply(opt1, p1, g1)
        _apply(opt2, p2, g2)
        return loss1, loss2
    if update == "sequential":
        a, b = 1.0 / n, 1.0 - 1.0 / n
        z = model.encoder(x)
        w1 = model.decoder1(z)
        loss1 = a * _mse(x, w1) + b * _mse(x, model.decoder2(model.encoder(w1)))
        _apply(opt1, p1, list(torch.autograd.grad(loss1, p1)))
        z = model.encoder(x)
        w1 = model.decoder1(z)
        loss2 = a * _mse(x, model.decoder2(z)) - b * _mse(x, model.decoder2(model.encoder(w1)))
        _apply(opt2, p2, list(torch.autograd.grad(loss2, p2)))
        return loss1.detach(), loss2.detach()
    raise ValueError(f"unknown update mode {update!r}")


@torch.no_grad()
def reconstruction_errors(model: UsadModel, x: torch.Tensor, batch: int) -> torch.Tensor:
    """[n, 3] per-window MSE(w,w1), MSE(w,w2), MSE(w,w3)."""
    model.eval()
    dev = next(model.parameters()).device  # x may live on the CPU while the model is on CUDA
    out = []
    for i in range(0, x.shape[0], batch):
        xb = x[i:i + batch].to(dev)
        z = model.encoder(xb)
        w1 = model.decoder1(z)
        w2 = model.decoder2(z)
        w3 = model.decoder2(model.encoder(w1))
        out.append(torch.stack([((xb - w) ** 2).mean(1) for w in (w1, w2, w3)], 1))
    model.train()
    return torch.cat(out) if out else torch.zeros(0, 3, device=x.device)


def _atomic_torch_save(obj: Dict, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


Emit = Callable[[Dict], None]


def train(train_x: np.ndarray, val_x: np.ndarray, cfg: TrainConfig, out_dir: str, resume: bool = False,
          emit: Optional[Emit] = None, meta: Optional[Dict] = None,
          on_epoch: Optional[Callable[[UsadModel, int], None]] = None) -> Tuple[UsadModel, TrainState, Dict]:
    """Train on flattened normal windows; returns the best model (by the `stop_on` validation criterion),
    state and info. `on_epoch(model, epoch)` (optional) sees the current weights after each epoch's checkpoint.

    Checkpoints `out_dir/checkpoint.pt` after every epoch; with resume=True continues from it (model,
    both optimizers, shuffle RNG, early-stopping state), so a resumed run equals an uninterrupted one.
    """
    emit = emit or (lambda _e: None)
    os.makedirs(out_dir, exist_ok=True)
    threads = set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    w_size = int(train_x.shape[1])
    seed_everything(cfg.seed)
    model = UsadModel(w_size, cfg.latent_size).to(device)
    opt1, opt2 = _adam(model.params1(), cfg.learning_rate), _adam(model.params2(), cfg.learning_rate)
    gen = torch.Generator()  # CPU generator: same shuffles on CPU and CUDA
    gen.manual_seed(cfg.seed)
    state = TrainState()
    best_state = copy.deepcopy(model.state_dict())
    ckpt_path = os.path.join(out_dir, CHECKPOINT)
    resumed_from = 0
    if resume and os.path.exists(ckpt_path):
        # our own file (optimizer states, RNG state, config): torch >= 2.6 defaults to weights_only=True
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ck["w_size"] != w_size or ck["config"]["latent_size"] != cfg.latent_size:
            raise ValueError("checkpoint does not match the data/config (window*features or latent size differ)")
        model.load_state_dict(ck["model"])
        opt1.load_state_dict(ck["opt1"])
        opt2.load_state_dict(ck["opt2"])
        gen.set_state(ck["gen"].cpu())  # map_location moved it with the rest; the shuffle generator is CPU
        best_state = ck["best_model"]
        state = TrainState(**ck["state"])
        resumed_from = state.epoch
        log.info("resumed from %s at epoch %d", ckpt_path, state.epoch)
    # Tensors live on the device once; batches are index_select views of them (no DataLoader overhead).
    pin = device.type == "cuda"
    tr = torch.from_numpy(np.ascontiguousarray(train_x, dtype=np.float32))
    va = torch.from_numpy(np.ascontiguousarray(val_x, dtype=np.float32))
    if pin:
        tr, va = tr.pin_memory(), va.pin_memory()
    tr, va = tr.to(device, non_blocking=pin), va.to(device, non_blocking=pin)
    ntr = tr.shape[0]
    bs = max(1, min(cfg.batch_size, ntr))
    emit({"event": "start", "device": device.type, "device_name": _device_name(device), "threads": threads,
          "train_windows": int(ntr), "val_windows": int(va.shape[0]), "w_size": w_size,
          "latent_size": cfg.latent_size, "epochs": cfg.epochs, "resumed_from_epoch": resumed_from,
          "steps_per_epoch": -(-ntr // bs)})
    t_all = time.perf_counter()
    model.train()
    while state.epoch < cfg.epochs and not state.stopped_early:
        n = state.epoch + 1
        n_loss = max(1, n - cfg.warmup_epochs)  # the paper's n (loss weights 1/n, 1-1/n)
        t0 = time.perf_counter()
        perm = torch.randperm(ntr, generator=gen).to(device) if cfg.shuffle else None
        s1 = torch.zeros((), device=device)
        s2 = torch.zeros((), device=device)
        for i in range(0, ntr, bs):
            xb = tr.index_select(0, perm[i:i + bs]) if perm is not None else tr[i:i + bs]
            l1, l2 = train_step(model, opt1, opt2, xb, n_loss, cfg.update)
            s1 += l1 * xb.shape[0]
            s2 += l2 * xb.shape[0]
        loss1, loss2 = (s1 / ntr).item(), (s2 / ntr).item()  # .item() syncs CUDA, so the timing is real
        seconds = time.perf_counter() - t0
        tv = time.perf_counter()
        err = reconstruction_errors(model, va, cfg.eval_batch_size).mean(0) if va.shape[0] else None
        a, b = 1.0 / n_loss, 1.0 - 1.0 / n_loss
        if err is not None:
            m1, m2, m3 = (float(v) for v in err.tolist())
            val1, val2, val_score = a * m1 + b * m3, a * m2 - b * m3, cfg.alpha * m1 + cfg.beta * m3
            val_recon = 0.5 * (m1 + m2)
        else:
            val1 = val2 = val_score = val_recon = float("nan")
        watched = _watched(cfg.stop_on, val_score, val_recon)
        val_seconds = time.perf_counter() - tv
        state.epoch = n
        if err is None:  # no validation windows: nothing to select or stop on, keep the latest
            state.best_epoch, best_state = n, copy.deepcopy(model.state_dict())
        elif np.isfinite(watched) and watched < state.best_val - cfg.min_delta:
            state.best_val, state.best_epoch, state.bad_epochs = watched, n, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            if n > cfg.warmup_epochs:
                state.bad_epochs += 1
            if cfg.patience > 0 and state.bad_epochs >= cfg.patience:
                state.stopped_early = True
        rec = {"event": "epoch", "epoch": n, "n": n_loss, "epochs": cfg.epochs, "loss1": loss1, "loss2": loss2,
               "val_loss1": val1, "val_loss2": val2, "val_score": val_score, "val_recon": val_recon,
               "stop_on": cfg.stop_on, "seconds": seconds,
               "val_seconds": val_seconds, "device": device.type, "best_epoch": state.best_epoch,
               "stopped_early": state.stopped_early}
        state.history.append(rec)
        _atomic_torch_save({"model": model.state_dict(), "opt1": opt1.state_dict(), "opt2": opt2.state_dict(),
                            "gen": gen.get_state(), "best_model": best_state, "state": asdict(state),
                            "config": asdict(cfg), "w_size": w_size, "meta": meta or {}}, ckpt_path)
        _atomic_write_text(os.path.join(out_dir, HISTORY), "".join(json.dumps(h) + "\n" for h in state.history))
        emit(rec)
        if on_epoch is not None:
            on_epoch(model, n)
    model.load_state_dict(best_state)
    model.eval()
    info = {"device": device.type, "device_name": _device_name(device), "threads": threads,
            "epochs_run": state.epoch, "best_epoch": state.best_epoch, "best_val_score": state.best_val,
            "stopped_early": state.stopped_early, "seconds": time.perf_counter() - t_all,
            "resumed_from_epoch": resumed_from, "checkpoint": ckpt_path,
            "history": os.path.join(out_dir, HISTORY)}
    return model, state, info


def _watched(stop_on: str, val_score: float, val_recon: float) -> float:
    if stop_on == "recon":
        return val_recon
    if stop_on == "score":
        return val_score
    raise ValueError(f"unknown stop_on {stop_on!r} (recon|score)")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
