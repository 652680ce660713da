"""LiteRT (TFLite) column: `litert-torch` converts the module, `ai-edge-litert` runs it.

The module is wrapped by `litert_torch.to_channel_last_io` so the `.tflite` program takes
NHWC input (what TFLite/XNNPACK computes in, no transpose inside the graph), and it is run
by `ai_edge_litert.interpreter.Interpreter`, whose default XNNPACK delegate takes the graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..runtimes import Candidate, Runner
from . import LITERT
from .common import captured_output, missing_packages
from .programs import LiteRTProgram, nhwc

CONVERTER = ("litert_torch",)
RUNTIME = ("ai_edge_litert",)
FILENAME = "model.tflite"


def convert(module: Any, tensor: npt.NDArray[np.float32], out_dir: Path) -> Path:
    """`.tflite` of the module (probabilities out), NHWC input; raises ConversionError."""
    import litert_torch
    import torch

    example = torch.from_numpy(nhwc(tensor))
    path = out_dir / FILENAME
    with captured_output("LiteRT conversion (litert-torch)"):
        wrapped = litert_torch.to_channel_last_io(module, args=[0])
        litert_torch.convert(wrapped, (example,)).export(str(path))
    return path


def candidate(
    module: Any, tensor: npt.NDArray[np.float32], workdir: Path
) -> tuple[Candidate, Path | None]:
    """The bench column and the converted program (None when skipped)."""
    missing = missing_packages(*CONVERTER, *RUNTIME)
    if missing:
        reason = f"not installed: {', '.join(missing)} (pip install litert-torch ai-edge-litert)"
        return Candidate(LITERT, None, reason), None
    try:
        path = convert(module, tensor, workdir)
    except Exception as err:  # a converter failure skips this runtime only
        return Candidate(LITERT, None, f"conversion failed: {err}"[:300]), None
    array = nhwc(tensor)

    @contextlib.contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        program = LiteRTProgram(path, threads)
        yield lambda: program.run(array)

    return Candidate(LITERT, open_), path
