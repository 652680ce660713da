"""A pretrained trunk and small per-camera heads (see docs/models.md).

The trunk (an ImageNet-pretrained EfficientNet-Lite0 exported to `.pte`, shipped in the
package) turns a frame into an embedding; a head (a `.gcam` file) turns the embedding into
per-label probabilities and says when a frame is unlike the frames it was trained on. Heads
are trained with NumPy in seconds (`train_head`); PyTorch is only needed to export the trunk.
"""

from __future__ import annotations

from .train import HeadTrainResult, LabelScore, train_head

__all__ = ["HeadTrainResult", "LabelScore", "train_head"]
