"""ncnn column: `torch.jit.trace` -> `pnnx` converts the module, the `ncnn` package runs it.

pnnx writes fp16 weights by default, which differ from eager by ~1e-3 on CPUs with fp16
arithmetic: `fp16=0` keeps fp32 weights, as in every other column. Vulkan is off (CPU only).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..runtimes import Candidate, Runner
from . import NCNN
from .common import ConversionError, captured_output, missing_packages
from .programs import NcnnProgram

CONVERTER = ("pnnx",)
RUNTIME = ("ncnn",)
_TIMEOUT_S = 300


def convert(module: Any, tensor: npt.NDArray[np.float32], out_dir: Path) -> tuple[Path, Path]:
    """`.param` and `.bin` of the module (probabilities out); raises ConversionError."""
    import pnnx
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(np.ascontiguousarray(tensor))
    shape = ",".join(str(n) for n in tensor.shape)
    with captured_output("torch.jit.trace"), torch.no_grad():
        torch.jit.trace(module, example).save(str(out_dir / "model.pt"))
    command = [pnnx.EXEC_PATH, "model.pt", f"inputshape=[{shape}]", "fp16=0"]
    done = subprocess.run(
        command, cwd=out_dir, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    param, weights = out_dir / "model.ncnn.param", out_dir / "model.ncnn.bin"
    if done.returncode != 0 or not param.is_file() or not weights.is_file():
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise ConversionError(f"pnnx exited with {done.returncode}: {tail}")
    return param, weights


def candidate(
    module: Any, tensor: npt.NDArray[np.float32], workdir: Path
) -> tuple[Candidate, tuple[Path, Path] | None]:
    """The bench column and the converted files (None when skipped)."""
    missing = missing_packages(*CONVERTER, *RUNTIME)
    if missing:
        return Candidate(
            NCNN, None, f"not installed: {', '.join(missing)} (pip install ncnn pnnx)"
        ), None
    try:
        files = convert(module, tensor, workdir / "ncnn")
    except Exception as err:  # a converter failure skips this runtime only
        return Candidate(NCNN, None, f"conversion failed: {err}"[:300]), None
    chw = np.ascontiguousarray(tensor[0], dtype=np.float32)  # ncnn's natural input: CHW planes

    @contextlib.contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        program = NcnnProgram(*files, threads)
        yield lambda: program.run(chw)

    return Candidate(NCNN, open_), files
