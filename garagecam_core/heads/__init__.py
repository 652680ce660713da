"""A pretrained trunk and small per-camera heads (see docs/heads.md).

The trunk (an ImageNet-pretrained EfficientNet-Lite0 exported to `.pte`, shipped in the
package) turns a frame into an embedding; a head (a `.gcam` file) turns the embedding into
per-label probabilities and says when a frame is unlike the frames it was trained on. Heads
are trained with NumPy in seconds (`train_head`); PyTorch is only needed to export the trunk.

`train_head` and its result types are imported on first use: the inference worker imports
this package to run a head, and must not pay for the training code (YAML, datasets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .train import HeadTrainResult, LabelScore, train_head

__all__ = ["HeadTrainResult", "LabelScore", "train_head"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
