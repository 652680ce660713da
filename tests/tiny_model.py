"""A tiny deterministic conv net for tests: 64x64 RGB in, logits for two labels out.

Factory for `garagecam export --module tests.tiny_model:build` and the session fixtures in
`tests/conftest.py`. Only XNNPACK-friendly ops, so the export is fully delegated.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 64
LABELS = "door_open:garage_door,car_present:occupancy"


class TinyNet(nn.Module):
    def __init__(self, num_outputs: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(16, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a plain mean, not AdaptiveAvgPool2d + flatten: it stays inside the XNNPACK delegate
        # in a channels_last export too
        out: torch.Tensor = self.head(self.features(x).mean((2, 3), keepdim=True).flatten(1))
        return out


def build(num_outputs: int = 2, seed: int = 0) -> nn.Module:
    """Same weights on every call (seeded), in eval mode; returns logits."""
    generator = torch.Generator().manual_seed(seed)
    net = TinyNet(num_outputs)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    return net.eval()
