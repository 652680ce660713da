"""The student network: a small CNN made only of ops XNNPACK delegates.

conv2d + batchnorm (folded into the conv by the XNNPACK partitioner) + hardswish/relu,
stride-2 downsampling (no max-pool), a global mean (AdaptiveAvgPool2d lowers to mean.dim),
one linear layer. The network returns logits; the exporter appends the sigmoid/softmax, so
the `.pte` returns probabilities. Plain 3x3 convs rather than depthwise ones: at this size
they train faster on CPU and run just as fast through XNNPACK.

`build()` is the factory for `garagecam export --module garagecam_core.train.student:build`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: output channels of each stage; every stage halves the resolution
DEFAULT_WIDTHS = (16, 32, 64, 96, 160)


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.Hardswish(),
    )


class StudentNet(nn.Module):  # type: ignore[misc]  # torch is untyped here (mypy skip)
    """Five stride-2 stages of two 3x3 convs, global mean, dropout, linear -> logits."""

    def __init__(
        self, num_outputs: int, widths: tuple[int, ...] = DEFAULT_WIDTHS, dropout: float = 0.2
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for index, cout in enumerate(widths):
            layers.append(_conv_bn(cin, cout, stride=2))
            if index > 0:  # the first stage stays single: full resolution is the costly one
                layers.append(_conv_bn(cout, cout, stride=1))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        out: torch.Tensor = self.head(self.dropout(x))
        return out


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(num_outputs: int = 2, **kwargs: Any) -> nn.Module:
    """Untrained student returning logits, in eval mode (the export factory: the exporter
    appends the metadata's sigmoid/softmax to the graph)."""
    return StudentNet(num_outputs, **kwargs).eval()
