"""Load a GarageCam `.pte` bundle: validate it fully, then run it.

A bundle is an ExecuTorch program with two methods: `forward` (float32 input (1, 3, H, W),
output (1, N) probabilities, the activation is part of the graph) and the constant method
`garagecam_metadata` returning the metadata JSON (see `metadata.py`).

Checks run cheapest first, each with its own error type: not a file (`ModelNotFoundError`),
not an ExecuTorch program (`NotAPteError`), truncated/corrupt (`CorruptModelError`), metadata
missing/malformed (`MetadataError`), inputs/outputs disagreeing with the metadata
(`ModelShapeError`). `run` returns the raw outputs; every engine's answer is checked for
NaN, infinity and values outside 0..1 where it is built (`engine.base.Classification`).
The runtime (`pte_runtimes.py`: the garagecam-runtime binding, else executorch's official
runtime) is imported here, lazily (`RuntimeMissingError` when neither is installed).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .errors import (
    EngineError,
    MetadataError,
    ModelError,
    ModelShapeError,
)
from .metadata import METADATA_METHOD, ModelMetadata
from .pte_runtimes import (
    LoadedPte,
    PteRuntime,
    check_pte_file,
    get_runtime,
    read_head,
    set_thread_count,
)

if TYPE_CHECKING:
    from .heads.program import HeadProgram

_LOGGER = logging.getLogger(__name__)

FORWARD_METHOD = "forward"
#: what a model file may be named: an ExecuTorch bundle, or a head on the shipped trunk
MODEL_SUFFIXES = (".pte", ".gcam")
_FLOAT32 = "float32"


def is_head_model(path: Path) -> bool:
    """True when `path` is a `.gcam` head model (by its content, whatever its name)."""
    from .heads.model_file import looks_like_head_file

    return looks_like_head_file(read_head(path))


def is_model_file(path: Path) -> bool:
    """True when `path` starts like a model GarageCam can load (`.pte` bundle or `.gcam`)."""
    try:
        check_model_file(path)
    except ModelError:
        return False
    return True


def check_model_file(path: Path) -> None:
    """Raise unless `path` is a regular file starting like a `.pte` bundle or a `.gcam` head."""
    if not is_head_model(path):
        check_pte_file(path)


def _metadata_of(path: Path, program: LoadedPte) -> ModelMetadata:
    if METADATA_METHOD not in program.method_names:
        raise MetadataError(
            f"{path} has no GarageCam metadata (no '{METADATA_METHOD}' method): export it "
            "with 'garagecam export' so labels and preprocessing travel with the model"
        )
    values = program.constants(METADATA_METHOD)
    if len(values) != 1 or not isinstance(values[0], str):
        raise MetadataError(
            f"{path}: the '{METADATA_METHOD}' method must return one JSON string, got "
            f"{[type(v).__name__ for v in values]}"
        )
    from .heads.trunk import is_trunk_metadata

    if is_trunk_metadata(values[0]):
        raise MetadataError(
            f"{path} is GarageCam's pretrained trunk, not a model: train a head on it with "
            "'garagecam train --data FOLDER --out MODEL.gcam'"
        )
    try:
        return ModelMetadata.from_json(values[0])
    except MetadataError as err:
        raise MetadataError(f"{path}: invalid GarageCam metadata: {err}") from err


def read_metadata(path: str | Path, runtime: str | None = None) -> ModelMetadata:
    """Read the metadata of a bundle without checking its forward method."""
    path = Path(path)
    if is_head_model(path):
        from .heads.model_file import read

        return read(path).metadata
    check_pte_file(path)
    return _metadata_of(path, get_runtime(runtime).load(path))


def _check_signature(path: Path, program: LoadedPte, metadata: ModelMetadata) -> None:
    if FORWARD_METHOD not in program.method_names:
        raise ModelShapeError(f"{path} has no '{FORWARD_METHOD}' method to run")
    inputs = program.input_specs(FORWARD_METHOD)
    expected_in = (1, 3, metadata.input_height, metadata.input_width)
    if len(inputs) != 1 or inputs[0] is None:
        raise ModelShapeError(
            f"{path}: the model takes {len(inputs)} inputs, expected one image tensor "
            f"of shape {expected_in}"
        )
    shape = inputs[0].sizes
    if len(shape) != 4:
        raise ModelShapeError(
            f"{path}: the model input has rank {len(shape)} (shape {shape}), expected rank 4 "
            f"(1, 3, H, W) = {expected_in}"
        )
    if shape != expected_in:
        raise ModelShapeError(
            f"{path}: the model input shape {shape} does not match the metadata's "
            f"{metadata.input_height}x{metadata.input_width} RGB input {expected_in}"
        )
    if inputs[0].dtype != _FLOAT32:
        raise ModelShapeError(f"{path}: the model input must be float32")
    labels = len(metadata.labels)
    outputs = program.output_specs(FORWARD_METHOD)
    if len(outputs) != 1 or outputs[0] is None:
        raise ModelShapeError(
            f"{path}: the model has {len(outputs)} outputs, expected one tensor of "
            f"shape (1, {labels}) for the labels {list(metadata.label_names)}"
        )
    out_shape = outputs[0].sizes
    if out_shape != (1, labels):
        raise ModelShapeError(
            f"{path}: the model outputs shape {out_shape} but the metadata lists {labels} "
            f"labels {list(metadata.label_names)}: expected (1, {labels})"
        )
    if outputs[0].dtype != _FLOAT32:
        raise ModelShapeError(f"{path}: the model output must be float32")


class LoadedProgram:
    """A validated bundle, ready to run. `run` is serialised: one inference at a time."""

    def __init__(
        self, path: Path, metadata: ModelMetadata, program: LoadedPte, runtime: str
    ) -> None:
        self.path = path
        self.metadata = metadata
        self.runtime = runtime  # "binding" or "official"
        self._program = program
        self._lock = threading.Lock()
        self.input_shape = (1, 3, metadata.input_height, metadata.input_width)
        self.output_shape = (1, len(metadata.labels))

    def run(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run `forward` on a (1, 3, H, W) float32 tensor; returns the N probabilities."""
        if tensor.shape != self.input_shape:
            raise EngineError(
                f"input tensor shape {tensor.shape} does not match the model's {self.input_shape}"
            )
        with self._lock:
            return self._program.run(
                np.asarray(tensor, dtype=np.float32), self.metadata.input_layout
            )

    def evaluate(
        self, tensor: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], float | None]:
        """(probabilities, novelty): a plain bundle cannot tell how familiar a frame is."""
        return self.run(tensor), None

    def probabilities(self, tensor: npt.NDArray[np.float32]) -> dict[str, float]:
        """`run`, with each probability named by its label."""
        return self.metadata.named(self.run(tensor))


def load_program(
    path: str | Path, threads: int | None = None, runtime: str | None = None
) -> LoadedProgram | HeadProgram:
    """Validate and load a bundle or a `.gcam` head model (with its trunk). `threads` resizes
    the runtime's thread pool first (process-wide; None leaves it as it is). `runtime` picks
    "binding" or "official" (default: the binding when installed)."""
    path = Path(path)
    if is_head_model(path):
        from .heads.program import load_head_program

        return load_head_program(path, threads=threads, runtime=runtime)
    check_pte_file(path)
    pte_runtime: PteRuntime = get_runtime(runtime)
    if threads is not None:
        set_thread_count(threads, pte_runtime.name)
    program = pte_runtime.load(path)
    metadata = _metadata_of(path, program)
    _check_signature(path, program, metadata)
    program.load_method(FORWARD_METHOD)
    _LOGGER.debug(
        "loaded %s (%s v%s) with %s", path, metadata.name, metadata.version, pte_runtime.name
    )
    return LoadedProgram(path, metadata, program, pte_runtime.name)
