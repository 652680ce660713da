"""Runtimes side by side: one PyTorch module, one input tensor, one thread count each.

ExecuTorch XNNPACK fp32 and int8 run the `.pte` files exported from the module (with the
default runtime: the garagecam-runtime binding where installed; `binding.py` puts it next to
the official runtime); ONNX
Runtime runs `torch.onnx.export` of the same module; PyTorch eager runs the module itself.
Every output is checked against eager (fp32 runtimes tightly, int8 loosely) and a runtime
whose package is not installed is reported as skipped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .goals import EAGER, ET_FP32, ET_INT8, ORT
from .naive import eager_probabilities
from .stats import Summary, time_ms

_LOGGER = logging.getLogger(__name__)

#: Largest allowed |probability - eager probability| per runtime.
TOLERANCES = {EAGER: 0.0, ET_FP32: 1e-4, ORT: 1e-4, ET_INT8: 0.05}

Runner = Callable[[], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Candidate:
    """A runtime to measure: `open(threads)` gives a no-argument call returning probabilities."""

    name: str
    open: Callable[[int], contextlib.AbstractContextManager[Runner]] | None
    skip_reason: str | None = None


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def eager_candidate(module: Any, tensor: npt.NDArray[np.float32]) -> Candidate:
    tensor = np.ascontiguousarray(tensor)  # eager's natural input: NCHW memory

    @contextlib.contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        with torch_threads(threads):
            yield lambda: eager_probabilities(module, tensor)

    return Candidate(EAGER, open_)


def executorch_candidate(
    name: str, pte: Path | None, tensor: npt.NDArray[np.float32], why: str = ""
) -> Candidate:
    if pte is None:
        return Candidate(name, None, why or "no .pte for this runtime")

    @contextlib.contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        from ..bundle import load_program

        # Sizes ExecuTorch's thread pool before XNNPACK binds it at load time.
        program = load_program(pte, threads=threads)
        yield lambda: program.run(tensor)

    return Candidate(name, open_)


_ONNX_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """The exporter's INFO/WARNING chatter (passes applied, torchvision absent) is noise here."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(module: Any, tensor: npt.NDArray[np.float32], out: Path) -> Path:
    """`torch.onnx.export` of the module, its console chatter kept off the progress bar."""
    import torch

    with contextlib.redirect_stdout(io.StringIO()), _quiet_loggers(*_ONNX_LOGGERS):
        torch.onnx.export(
            module,
            (torch.from_numpy(tensor),),
            str(out),
            input_names=["input"],
            output_names=["probabilities"],
            verbose=False,
        )
    return out


def onnxruntime_candidate(module: Any, tensor: npt.NDArray[np.float32], workdir: Path) -> Candidate:
    missing = [
        name for name in ("onnxruntime", "onnx", "onnxscript") if not importlib.util.find_spec(name)
    ]
    if missing:
        return Candidate(ORT, None, f"not installed: {', '.join(missing)}")
    try:
        path = export_onnx(module, tensor, workdir / "model.onnx")
    except Exception as err:  # an exporter failure skips this runtime only
        _LOGGER.warning("ONNX export failed, ONNX Runtime skipped: %s", err)
        return Candidate(ORT, None, f"ONNX export failed: {type(err).__name__}")

    @contextlib.contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        # ONNX Runtime's natural input: NCHW memory (the ExecuTorch runs get the layout their
        # program reads, as preprocessing produces it for them).
        feed = {session.get_inputs()[0].name: np.ascontiguousarray(tensor)}
        yield lambda: np.asarray(session.run(None, feed)[0]).reshape(-1)

    return Candidate(ORT, open_)


def measure_runtimes(
    candidates: list[Candidate],
    threads: list[int],
    runs: int,
    warmup: int,
    tick: Callable[[], None],
) -> list[dict[str, Any]]:
    """Time every candidate at every thread count; compare its output with eager's."""
    reference: npt.NDArray[np.float32] | None = None
    rows: list[dict[str, Any]] = []
    for candidate in sorted(candidates, key=lambda c: c.name != EAGER):  # eager first
        for count in threads:
            row: dict[str, Any] = {"runtime": candidate.name, "threads": count}
            if candidate.open is None:
                rows.append({**row, "status": "skipped", "reason": candidate.skip_reason})
                for _ in range(runs + warmup):
                    tick()
                continue
            with candidate.open(count) as run:
                output = np.asarray(run(), dtype=np.float32).reshape(-1)
                summary: Summary = time_ms(run, runs, warmup, tick)
            if reference is None:
                reference = output
            diff = float(np.max(np.abs(output - reference)))
            tolerance = TOLERANCES.get(candidate.name, 1e-4)
            rows.append(
                {
                    **row,
                    "status": "ok",
                    "reason": None,
                    "inference": summary.to_dict(),
                    "probabilities": [round(float(v), 6) for v in output],
                    "max_abs_diff": diff,
                    "tolerance": tolerance,
                    "agrees": diff <= tolerance,
                }
            )
            if diff > tolerance:
                _LOGGER.warning(
                    "%s (%d threads) differs from PyTorch eager by %.3g (tolerance %g)",
                    candidate.name, count, diff, tolerance,
                )  # fmt: skip
    return rows
