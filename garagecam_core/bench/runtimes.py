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
from .stats import Summary, sample_ms, summarize

_LOGGER = logging.getLogger(__name__)

#: Largest allowed |probability - eager probability| per runtime. fp32 runtimes only sum in
#: other orders. int8 carries post-training quantisation error, which is a property of the
#: model and its calibration, not of the runtime: for the demo model (version 2, 32
#: calibration frames) over 200 generated scenes it is 0.004 (median), 0.065 (p90), 0.15
#: (p99), 0.24 (max) in probability, larger where outputs sit mid-range (the sigmoid's slope).
#: 0.15 flags a broken int8 program (wrong layout, scales: differences of 0.3 and more), not
#: ordinary quantisation error; int8's quality is judged by the accuracy goals (points lost,
#: decision agreement with fp32 on generated scenes). (It was 0.05 when the demo's outputs
#: sat near 0 and 1, where the same error in logits moves probabilities by 1e-4.)
TOLERANCES = {EAGER: 0.0, ET_FP32: 1e-4, ORT: 1e-4, ET_INT8: 0.15}

Runner = Callable[[], npt.NDArray[np.float32]]
#: turns each runtime takes at each thread count (see `measure_runtimes`)
ROUNDS = 10


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


def split_runs(runs: int, rounds: int) -> list[int]:
    """`runs` timed calls shared out over at most `rounds` turns (none empty)."""
    rounds = max(1, min(rounds, runs))
    return [runs // rounds + (1 if index < runs % rounds else 0) for index in range(rounds)]


def paired_ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float | None:
    """Median over rounds of the ratio of two rows' per-round medians (same rounds)."""
    a, b = numerator.get("round_medians"), denominator.get("round_medians")
    if not a or not b or len(a) != len(b) or min(b) <= 0:
        return None
    return float(np.median([x / y for x, y in zip(a, b, strict=True)]))


def measure_runtimes(
    candidates: list[Candidate],
    threads: list[int],
    runs: int,
    warmup: int,
    tick: Callable[[], None],
    *,
    rounds: int = ROUNDS,
    tolerances: dict[str, float] | None = None,
    reference: npt.NDArray[np.float32] | None = None,
) -> list[dict[str, Any]]:
    """Time every candidate at every thread count in turns; compare its output with eager's.

    At each thread count every runtime is loaded, then they take turns: per round, each
    runs `warmup` untimed calls (its caches and threads back up after the others' turns)
    and its share of `runs` timed calls, the order rotating from round to round. Load that
    comes and goes on the machine then hits all of them alike, and the per-round medians
    give paired ratios (`paired_ratio`) steadier than a ratio of two separate medians.
    Outputs are compared with `reference` if given (eager's, computed once), else with the
    first candidate's (eager is put first).
    """
    order = sorted(candidates, key=lambda c: c.name != EAGER)  # eager first: the reference
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    shares = split_runs(runs, rounds)
    for count in threads:
        with contextlib.ExitStack() as stack:
            active: list[tuple[Candidate, Runner]] = []
            for candidate in order:
                if candidate.open is None:
                    rows[candidate.name, count] = {
                        "runtime": candidate.name, "threads": count, "status": "skipped",
                        "reason": candidate.skip_reason,
                    }  # fmt: skip
                    for _ in range(runs + warmup * len(shares)):
                        tick()
                    continue
                active.append((candidate, stack.enter_context(candidate.open(count))))
            samples: dict[str, list[list[float]]] = {c.name: [] for c, _ in active}
            for index, share in enumerate(shares):
                shift = index % max(1, len(active))
                for candidate, run in active[shift:] + active[:shift]:
                    samples[candidate.name].append(sample_ms(run, share, warmup, tick))
            for candidate, run in active:
                output = np.asarray(run(), dtype=np.float32).reshape(-1)
                if reference is None:
                    reference = output
                rows[candidate.name, count] = _row(
                    candidate.name, count, output, reference, samples[candidate.name],
                    tolerance=(tolerances or TOLERANCES).get(candidate.name, 1e-4),
                )  # fmt: skip
    return [rows[c.name, count] for c in order for count in threads]


def _row(
    name: str,
    threads: int,
    output: npt.NDArray[np.float32],
    reference: npt.NDArray[np.float32],
    rounds: list[list[float]],
    *,
    tolerance: float,
) -> dict[str, Any]:
    diff = float(np.max(np.abs(output - reference)))
    if diff > tolerance:
        _LOGGER.warning(
            "%s (%d threads) differs from PyTorch eager by %.3g (tolerance %g)",
            name, threads, diff, tolerance,
        )  # fmt: skip
    summary: Summary = summarize([value for turn in rounds for value in turn])
    return {
        "runtime": name,
        "threads": threads,
        "status": "ok",
        "reason": None,
        "inference": summary.to_dict(),
        "round_medians": [round(float(np.median(turn)), 4) for turn in rounds],
        "probabilities": [round(float(v), 6) for v in output[:16]],
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "agrees": diff <= tolerance,
    }
