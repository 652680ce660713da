"""Load a GarageCam `.pte` bundle: validate it fully, then run it.

A bundle is an ExecuTorch program with two methods: `forward` (float32 input (1, 3, H, W),
output (1, N) probabilities, the activation is part of the graph) and the constant method
`garagecam_metadata` returning the metadata JSON (see `metadata.py`).

Checks run cheapest first, each with its own error type: not a file (`ModelNotFoundError`),
not an ExecuTorch program (`NotAPteError`), truncated/corrupt (`CorruptModelError`), metadata
missing/malformed (`MetadataError`), inputs/outputs disagreeing with the metadata
(`ModelShapeError`). torch and executorch are imported only here, lazily
(`RuntimeMissingError` when they are not installed).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import (
    CorruptModelError,
    EngineError,
    MetadataError,
    ModelNotFoundError,
    ModelShapeError,
    NotAPteError,
    RuntimeMissingError,
)
from .metadata import METADATA_METHOD, ModelMetadata

_LOGGER = logging.getLogger(__name__)

FORWARD_METHOD = "forward"
# Flatbuffer file identifier at bytes 4..8, e.g. b"ET12" (schema version digits).
_PTE_IDENTIFIER = re.compile(rb"ET[0-9]{2}")
_FLOAT32 = 6  # ExecuTorch ScalarType::Float

# Resetting the thread pool while another thread runs a model is unsafe (hence the
# runtime's `_unsafe_` prefix): serialise resets with loads in this process.
_THREADPOOL_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Runtime:
    runtime: Any  # executorch.runtime.Runtime
    portable_lib: Any  # executorch.extension.pybindings.portable_lib
    torch: Any


def _import_runtime() -> _Runtime:
    try:
        import torch
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime
    except ImportError as err:
        raise RuntimeMissingError(
            "the ExecuTorch runtime is not installed here (torch and executorch are needed to "
            "run a model locally): install 'garagecam-core[runtime]' on a glibc system, or use "
            f"a remote GarageCam runner ({err})"
        ) from err
    return _Runtime(runtime=Runtime.get(), portable_lib=portable_lib, torch=torch)


def check_pte_file(path: Path) -> None:
    """Raise unless `path` is a regular file starting like an ExecuTorch program."""
    if not path.exists():
        raise ModelNotFoundError(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelNotFoundError(f"model path {path} is not a file (a .pte file is expected)")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as err:
        raise ModelNotFoundError(f"cannot read model file {path}: {err.strerror}") from err
    if len(head) < 8 or not _PTE_IDENTIFIER.fullmatch(head[4:8]):
        raise NotAPteError(
            f"{path} is not an ExecuTorch program (.pte): its header has no 'ETnn' "
            f"identifier (starts with {head[:8].hex(' ') or 'nothing, the file is empty'})"
        )


def set_thread_count(threads: int) -> None:
    """Size ExecuTorch's process-wide thread pool (XNNPACK binds it when a program loads)."""
    if threads < 1:
        raise EngineError(f"thread count must be at least 1, got {threads}")
    lib = _import_runtime().portable_lib
    with _THREADPOOL_LOCK:
        if lib._threadpool_get_thread_count() != threads:
            lib._unsafe_reset_threadpool(threads)
            _LOGGER.debug("ExecuTorch thread pool set to %d thread(s)", threads)


def thread_count() -> int:
    return int(_import_runtime().portable_lib._threadpool_get_thread_count())


def _load(path: Path, runtime: _Runtime) -> Any:
    try:
        return runtime.runtime.load_program(path)
    except (RuntimeError, ValueError) as err:
        raise CorruptModelError(
            f"{path} is truncated or corrupt: the ExecuTorch runtime cannot load it ({err}); "
            "copy or export the model again"
        ) from err


def _metadata_of(path: Path, program: Any) -> ModelMetadata:
    if METADATA_METHOD not in program.method_names:
        raise MetadataError(
            f"{path} has no GarageCam metadata (no '{METADATA_METHOD}' method): export it "
            "with 'garagecam export' so labels and preprocessing travel with the model"
        )
    try:
        values = program.load_method(METADATA_METHOD).execute([])
    except RuntimeError as err:
        raise CorruptModelError(f"{path}: cannot read the metadata method ({err})") from err
    if len(values) != 1 or not isinstance(values[0], str):
        raise MetadataError(
            f"{path}: the '{METADATA_METHOD}' method must return one JSON string, got "
            f"{[type(v).__name__ for v in values]}"
        )
    try:
        return ModelMetadata.from_json(values[0])
    except MetadataError as err:
        raise MetadataError(f"{path}: invalid GarageCam metadata: {err}") from err


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read the metadata of a bundle without checking its forward method."""
    path = Path(path)
    check_pte_file(path)
    return _metadata_of(path, _load(path, _import_runtime()))


def _check_signature(path: Path, program: Any, metadata: ModelMetadata) -> None:
    if FORWARD_METHOD not in program.method_names:
        raise ModelShapeError(f"{path} has no '{FORWARD_METHOD}' method to run")
    meta = program.metadata(FORWARD_METHOD)
    expected_in = (1, 3, metadata.input_height, metadata.input_width)
    if meta.num_inputs() != 1:
        raise ModelShapeError(
            f"{path}: the model takes {meta.num_inputs()} inputs, expected one image tensor "
            f"of shape {expected_in}"
        )
    info = meta.input_tensor_meta(0)
    shape = tuple(info.sizes())
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
    if info.dtype() != _FLOAT32:
        raise ModelShapeError(f"{path}: the model input must be float32")
    labels = len(metadata.labels)
    if meta.num_outputs() != 1:
        raise ModelShapeError(
            f"{path}: the model has {meta.num_outputs()} outputs, expected one tensor of "
            f"shape (1, {labels}) for the labels {list(metadata.label_names)}"
        )
    out = meta.output_tensor_meta(0)
    out_shape = tuple(out.sizes())
    if out_shape != (1, labels):
        raise ModelShapeError(
            f"{path}: the model outputs shape {out_shape} but the metadata lists {labels} "
            f"labels {list(metadata.label_names)}: expected (1, {labels})"
        )
    if out.dtype() != _FLOAT32:
        raise ModelShapeError(f"{path}: the model output must be float32")


class LoadedProgram:
    """A validated bundle, ready to run. `run` is serialised: one inference at a time."""

    def __init__(self, path: Path, metadata: ModelMetadata, method: Any, torch: Any) -> None:
        self.path = path
        self.metadata = metadata
        self._method = method
        self._torch = torch
        self._lock = threading.Lock()
        self.input_shape = (1, 3, metadata.input_height, metadata.input_width)
        self.output_shape = (1, len(metadata.labels))

    def run(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run `forward` on a (1, 3, H, W) float32 tensor; returns the N probabilities."""
        if tensor.shape != self.input_shape:
            raise EngineError(
                f"input tensor shape {tensor.shape} does not match the model's {self.input_shape}"
            )
        # Zero-copy hand-over; numpy views and tolist() rather than torch ops on the way in
        # and out: the wrapper's cost counts at 0.5 ms per inference (measured: 69 -> 55 us).
        if self.metadata.input_layout == "NHWC":
            # The runtime reads the input's raw memory in the layout the program was exported
            # with (it ignores strides): hand it NHWC memory, viewed as (1, 3, H, W).
            nhwc = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1), dtype=np.float32)
            data = self._torch.from_numpy(nhwc.transpose(0, 3, 1, 2))
        else:
            data = self._torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32))
        with self._lock:
            try:
                outputs = self._method.execute([data])
            except RuntimeError as err:
                raise EngineError(f"{self.path.name}: inference failed: {err}") from err
        return np.array(outputs[0].tolist(), dtype=np.float32).reshape(-1)

    def probabilities(self, tensor: npt.NDArray[np.float32]) -> dict[str, float]:
        """`run`, with each probability named by its label."""
        values = self.run(tensor)
        return {name: float(v) for name, v in zip(self.metadata.label_names, values, strict=True)}


def load_program(path: str | Path, threads: int | None = None) -> LoadedProgram:
    """Validate and load a bundle. `threads` resizes the runtime's thread pool first
    (process-wide; None leaves it as it is)."""
    path = Path(path)
    check_pte_file(path)
    runtime = _import_runtime()
    if threads is not None:
        set_thread_count(threads)
    with _THREADPOOL_LOCK:  # XNNPACK binds the pool while loading
        program = _load(path, runtime)
        metadata = _metadata_of(path, program)
        _check_signature(path, program, metadata)
        try:
            method = program.load_method(FORWARD_METHOD)
        except RuntimeError as err:
            raise CorruptModelError(
                f"{path} is corrupt: its '{FORWARD_METHOD}' method cannot be loaded ({err}); "
                "copy or export the model again"
            ) from err
    _LOGGER.debug("loaded %s (%s v%s)", path, metadata.name, metadata.version)
    return LoadedProgram(path, metadata, method, runtime.torch)
