"""The peers' part of `garagecam bench`: conversions, columns, fresh processes, end to end."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...metadata import ModelMetadata
from ..naive import eager_probabilities
from ..runtimes import Candidate
from ..snapshots import Snapshot
from . import litert, ncnn
from .end_to_end import measure_end_to_end
from .footprint import measure_footprints


@dataclass(frozen=True)
class PeerModels:
    """The converted programs (None where the peer is skipped)."""

    tflite: Path | None
    ncnn: tuple[Path, Path] | None


def peer_candidates(
    module: Any, tensor: npt.NDArray[np.float32], workdir: Path
) -> tuple[list[Candidate], PeerModels]:
    """LiteRT and ncnn columns converted from the module (probabilities out)."""
    litert_candidate, tflite = litert.candidate(module, tensor, workdir)
    ncnn_candidate, ncnn_files = ncnn.candidate(module, tensor, workdir)
    return [litert_candidate, ncnn_candidate], PeerModels(tflite, ncnn_files)


def footprint_programs(
    models: PeerModels, engine_model: Path, onnx: Path | None
) -> dict[str, list[Path]]:
    """What each fresh-process probe loads; runtimes not installed here are left out."""
    programs: dict[str, list[Path]] = {"garagecam-engine": [engine_model]}
    if importlib.util.find_spec("garagecam_runtime") is not None:
        programs["garagecam-runtime"] = [engine_model]
    if models.tflite is not None:
        programs["litert"] = [models.tflite]
    if models.ncnn is not None:
        programs["ncnn"] = list(models.ncnn)
    if onnx is not None and onnx.is_file() and importlib.util.find_spec("onnxruntime"):
        programs["onnxruntime"] = [onnx]
    return programs


def peer_figures(
    models: PeerModels,
    *,
    module: Any,
    engine_model: Path,
    onnx: Path | None,
    metadata: ModelMetadata,
    snapshot: Snapshot,
    tensor: npt.NDArray[np.float32],
    threads: list[int],
    runs: int,
    warmup: int,
    processes: int,
    workdir: Path,
    tick: Callable[[], None],
    phase: Callable[[str], None],
) -> dict[str, Any]:
    """Memory and import time per runtime (fresh processes) and end to end vs LiteRT."""
    phase("runtimes in fresh processes (import, memory)")
    reference = eager_probabilities(module, np.ascontiguousarray(tensor))
    footprint = measure_footprints(
        footprint_programs(models, engine_model, onnx), tensor, reference,
        threads=min(threads), repeats=processes, workdir=workdir, tick=tick,
        frame=(snapshot.data, metadata.to_json()),
    )  # fmt: skip
    end_to_end: list[dict[str, Any]] = []
    skipped = "LiteRT is not measured here (see the runtimes table)"
    if models.tflite is not None:
        phase("end to end: GarageCam vs a LiteRT pipeline")
        end_to_end = measure_end_to_end(
            engine_model, models.tflite, metadata, snapshot,
            threads=threads, runs=runs, warmup=warmup, tick=tick,
        )  # fmt: skip
        skipped = ""
    return {"footprint": footprint, "end_to_end": end_to_end, "end_to_end_skipped": skipped or None}
