"""The baseline a newcomer would write: full-size decode, resize, normalise, eager PyTorch."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..metadata import ModelMetadata


def naive_preprocess(image: bytes, metadata: ModelMetadata) -> npt.NDArray[np.float32]:
    """Decode every pixel of the frame, then resize it (no JPEG DCT scaling)."""
    frame = Image.open(io.BytesIO(image)).convert("RGB")
    frame = frame.resize((metadata.input_width, metadata.input_height), Image.Resampling.BILINEAR)
    array = np.asarray(frame, dtype=np.float32) / 255.0
    if metadata.channel_order == "BGR":
        array = array[..., ::-1]
    array = (array - np.asarray(metadata.mean, np.float32)) / np.asarray(metadata.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None], dtype=np.float32)


def eager_probabilities(module: Any, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Run the PyTorch module as is (no export).

    Like the exported program, the module returns probabilities: export factories put the
    output activation inside the graph (see `garagecam_core.train.student`).
    """
    import torch

    with torch.inference_mode():
        output = module(torch.from_numpy(tensor))
    result: npt.NDArray[np.float32] = output.reshape(-1).numpy()
    return result
