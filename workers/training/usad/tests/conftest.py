import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
torch.set_num_threads(1)  # the CI box is shared: keep tests single-threaded and small


def synthetic(seed: int = 0, n_train: int = 2500, n_test: int = 600, window: int = 8, nf: int = 5):
    """Smooth periodic normal series in [0.1, 0.9] plus a test series with injected spikes and level shifts.
    Returns ([n,W,F] train, val, test windows, test window labels)."""
    rng = np.random.default_rng(seed)

    def series(n, offset):
        t = np.arange(n) + offset
        cols = [0.5 + 0.15 * np.sin(2 * np.pi * t / (20 + 7 * f) + f) for f in range(nf)]
        return np.stack(cols, 1) + rng.normal(0, 0.01, (n, nf))

    tr = series(n_train, 0)
    te = series(n_test, n_train)
    lab = np.zeros(n_test, dtype=np.uint8)
    for start in range(60, n_test - 40, 90):
        f = (start // 90) % nf
        te[start:start + 10, f] = 0.95 if (start // 90) % 2 else 0.05  # level shift away from the cycle
        lab[start:start + 10] = 1

    def win(x):
        idx = np.arange(window)[None, :] + np.arange(len(x) - window + 1)[:, None]
        return x[idx].astype(np.float32)

    wtr, wte = win(tr), win(te)
    ylab = np.array([lab[i:i + window].max() for i in range(len(te) - window + 1)], dtype=np.uint8)
    cut = int(len(wtr) * 0.8)
    return wtr[:cut], wtr[cut:], wte, ylab


@pytest.fixture(scope="session")
def synth():
    return synthetic()


@pytest.fixture
def dataset_dir(tmp_path, synth):
    from usad.data import write_dataset_dir
    d = str(tmp_path / "data")
    write_dataset_dir(d, *synth)
    return d
