"""The USAD model: one encoder shared by two decoders (Audibert et al., KDD 2020).

Layer sizes follow the public reference implementation (w -> w/2 -> w/4 -> z and back, ReLU after every
hidden layer including the latent one, sigmoid output) so results stay comparable with it; only the latent
size z is a free parameter (`latent_size`).
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn


def _mlp(sizes: List[int], out_act: nn.Module) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(nn.ReLU(inplace=True) if i < len(sizes) - 2 else out_act)
    return nn.Sequential(*layers)


class UsadModel(nn.Module):
    """forward(w) returns (AE1(w), AE2(AE1(w))), the two reconstructions the anomaly score uses."""

    def __init__(self, w_size: int, latent_size: int) -> None:
        super().__init__()
        h1, h2 = max(1, w_size // 2), max(1, w_size // 4)
        self.w_size, self.latent_size = w_size, latent_size
        self.encoder = _mlp([w_size, h1, h2, latent_size], nn.ReLU(inplace=True))
        self.decoder1 = _mlp([latent_size, h2, h1, w_size], nn.Sigmoid())
        self.decoder2 = _mlp([latent_size, h2, h1, w_size], nn.Sigmoid())

    def forward(self, w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        w1 = self.decoder1(self.encoder(w))
        w3 = self.decoder2(self.encoder(w1))
        return w1, w3

    def params1(self) -> List[nn.Parameter]:
        """AE1 = encoder + decoder1 (optimizer 1)."""
        return list(self.encoder.parameters()) + list(self.decoder1.parameters())

    def params2(self) -> List[nn.Parameter]:
        """AE2 = encoder + decoder2 (optimizer 2)."""
        return list(self.encoder.parameters()) + list(self.decoder2.parameters())


def mse_rows(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per row (per window)."""
    return ((x - y) ** 2).mean(dim=1)


@torch.no_grad()
def score(model: UsadModel, x: torch.Tensor, alpha: float = 0.5, beta: float = 0.5,
          batch_size: int = 8192) -> torch.Tensor:
    """Anomaly score per window: alpha*mean((w-AE1(w))^2) + beta*mean((w-AE2(AE1(w)))^2)."""
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch_size):
        b = x[i:i + batch_size]
        w1, w3 = model(b)
        out.append(alpha * mse_rows(b, w1) + beta * mse_rows(b, w3))
    if not out:
        return torch.zeros(0)
    return torch.cat(out)
