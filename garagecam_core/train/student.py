"""The student network: a small CNN made only of ops XNNPACK delegates.

conv2d + batchnorm (folded into the conv by the XNNPACK partitioner) + hardswish,
stride-2 downsampling (no max-pool), a global mean, one linear layer. The network returns
logits; the exporter appends the sigmoid/softmax, so the `.pte` returns probabilities.

Depthwise-separable (3x3 depthwise + 1x1 pointwise) rather than plain 3x3 convs: the
ExecuTorch 1.5.1 x86 wheel's XNNPACK runs every non-1x1 dense conv through an igemm kernel
~2.6x slower than ONNX Runtime on AVX2 (register spill), while its depthwise and 1x1 (gemm)
kernels are fast. The stem is a stride-2 depthwise 3x3 plus a 1x1. The global mean keeps
its dims before the flatten: AdaptiveAvgPool2d + flatten of a channels_last export leaves an
as_strided copy on portable kernels, this stays fully delegated in both memory formats.

`build()` is the factory for `garagecam export --module garagecam_core.train.student:build`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: output channels of each stage; every stage halves the resolution
DEFAULT_WIDTHS = (16, 32, 64, 128, 256)


def _conv_bn(
    cin: int, cout: int, stride: int = 1, *, kernel: int = 3, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.Hardswish())
    return nn.Sequential(*layers)


def _separable(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [_conv_bn(cin, cin, stride, groups=cin), _conv_bn(cin, cout, kernel=1)]


class StudentNet(nn.Module):  # type: ignore[misc]  # torch is untyped here (mypy skip)
    """Stride-2 stem, four stride-2 stages of two separable convs, mean, dropout, linear."""

    def __init__(
        self, num_outputs: int, widths: tuple[int, ...] = DEFAULT_WIDTHS, dropout: float = 0.2
    ) -> None:
        super().__init__()
        # stem: stride-2 depthwise 3x3 on RGB, then 1x1 to the first width
        layers: list[nn.Module] = [
            _conv_bn(3, 3, 2, groups=3, act=False),
            _conv_bn(3, widths[0], kernel=1),
        ]
        cin = widths[0]
        for cout in widths[1:]:
            layers += _separable(cin, cout, stride=2) + _separable(cout, cout, stride=1)
            cin = cout
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean((2, 3), keepdim=True).flatten(1)
        out: torch.Tensor = self.head(self.dropout(x))
        return out


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(num_outputs: int = 2, **kwargs: Any) -> nn.Module:
    """Untrained student returning logits, in eval mode (the export factory: the exporter
    appends the metadata's sigmoid/softmax to the graph)."""
    return StudentNet(num_outputs, **kwargs).eval()
