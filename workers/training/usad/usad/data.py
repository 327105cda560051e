"""Reading the windowed dataset the dataset activity writes (activities/dataset/types.ts):
{train,val,test}.npy float32 [n, W, F], {train,val,test}_labels.npy uint8 [n], features.json.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np


@dataclass
class Windows:
    """Flattened windows [n, W*F] float32 (C-contiguous), the layout the model and the ONNX contract use."""

    train: np.ndarray
    val: np.ndarray
    test: Optional[np.ndarray]
    test_labels: Optional[np.ndarray]
    window: int
    features: List[str]

    @property
    def w_size(self) -> int:
        return self.window * len(self.features)


def _load(path: str) -> Optional[np.ndarray]:
    return np.load(path) if os.path.exists(path) else None


def flatten(x: np.ndarray) -> np.ndarray:
    """[n, W, F] -> [n, W*F] float32, row-major: index = t*F + f (matches the Node scorer)."""
    return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)


def normal_only(x: np.ndarray, labels: Optional[np.ndarray]) -> np.ndarray:
    # USAD learns normal behaviour: windows labelled anomalous must not be trained or early-stopped on.
    if labels is None or len(labels) != len(x):
        return x
    return x[np.asarray(labels) == 0]


def load_dataset_dir(d: str, val_fraction: float = 0.2) -> Windows:
    train3 = np.load(os.path.join(d, "train.npy"))
    if train3.ndim != 3:
        raise ValueError(f"{d}/train.npy must be [n, W, F], got shape {train3.shape}")
    n, window, nf = train3.shape
    feats_path = os.path.join(d, "features.json")
    features = json.load(open(feats_path)) if os.path.exists(feats_path) else [f"f{i}" for i in range(nf)]
    if len(features) != nf:
        raise ValueError(f"features.json lists {len(features)} features, train.npy has {nf}")
    train = normal_only(flatten(train3), _load(os.path.join(d, "train_labels.npy")))
    val3 = _load(os.path.join(d, "val.npy"))
    val = None
    if val3 is not None and val3.shape[0] > 0:
        val = normal_only(flatten(val3), _load(os.path.join(d, "val_labels.npy")))
    if val is None or val.shape[0] == 0:
        # No normal validation windows: hold out the last part of train (time order kept, as the reference does).
        cut = max(1, int(round(train.shape[0] * (1 - val_fraction))))
        train, val = train[:cut], train[cut:]
    test3 = _load(os.path.join(d, "test.npy"))
    test = flatten(test3) if test3 is not None and test3.shape[0] > 0 else None
    test_labels = _load(os.path.join(d, "test_labels.npy"))
    if train.shape[0] == 0:
        raise ValueError(f"{d}: no normal training windows")
    return Windows(train=train, val=val, test=test, test_labels=test_labels, window=window, features=list(features))


def write_dataset_dir(d: str, train: np.ndarray, val: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
                      features: Optional[List[str]] = None) -> None:
    """Write [n, W, F] arrays in the dataset-activity layout (used by tests and the MSL benchmark)."""
    os.makedirs(d, exist_ok=True)
    nf = train.shape[2]
    for name, arr in (("train", train), ("val", val), ("test", test)):
        np.save(os.path.join(d, f"{name}.npy"), np.asarray(arr, dtype=np.float32))
    np.save(os.path.join(d, "train_labels.npy"), np.zeros(len(train), dtype=np.uint8))
    np.save(os.path.join(d, "val_labels.npy"), np.zeros(len(val), dtype=np.uint8))
    np.save(os.path.join(d, "test_labels.npy"), np.asarray(test_labels, dtype=np.uint8))
    with open(os.path.join(d, "features.json"), "w") as f:
        json.dump(features or [f"f{i}" for i in range(nf)], f)
