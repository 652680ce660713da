"""garagecam_runtime: run ExecuTorch programs from Python without torch.

    program = Program.load("model.pte")        # or Program.from_bytes(data)
    program.string_constant("garagecam_metadata")
    program.input_specs()                      # [TensorSpec(sizes, dtype, dim_order)]
    probabilities = program.run(array)         # numpy in, numpy out, GIL released

`run` hands the array's memory to the runtime without a copy when it already has the dtype,
the shape and the memory layout (dim order) of the method's input; an array of the right
dtype and shape in another layout (e.g. C-contiguous NCHW for a channels-last program, or a
sliced view) is copied into that layout first. A wrong dtype or shape raises `InputError`.
A `Program` may be shared by threads: calls on one program run one at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._core import (
    EXECUTORCH_VERSION,
    ExecutionError,
    InputError,
    InvalidProgramError,
    MethodNotFoundError,
    ProgramError,
    set_thread_count,
    thread_count,
)

__all__ = [
    "EXECUTORCH_VERSION",
    "ExecutionError",
    "InputError",
    "InvalidProgramError",
    "MethodNotFoundError",
    "Program",
    "ProgramError",
    "TensorSpec",
    "set_thread_count",
    "thread_count",
]


@dataclass(frozen=True)
class TensorSpec:
    """A tensor input/output of a method: logical sizes, numpy dtype name, memory dim order."""

    sizes: tuple[int, ...]
    dtype: str
    dim_order: tuple[int, ...]


def _spec(raw: Any) -> TensorSpec | None:
    if raw is None:  # not a tensor (e.g. an int or a string)
        return None
    sizes, dtype, dim_order = raw
    return TensorSpec(tuple(sizes), str(dtype), tuple(dim_order))


class Program:
    """A loaded ExecuTorch program. Construct with `Program.load` or `Program.from_bytes`."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self.method_names: frozenset[str] = frozenset(native.method_names())
        self._layouts: dict[str, tuple[TensorSpec, tuple[int, ...]]] = {}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Program:
        """Memory-map and verify the program at `path` (InvalidProgramError if unusable)."""
        if not Path(path).is_file():
            raise InvalidProgramError(f"{os.fspath(path)} is not a file")
        return cls(_core._Program.from_path(os.fspath(path)))

    @classmethod
    def from_bytes(cls, data: bytes) -> Program:
        """Verify and load a program from memory (the bytes are copied once)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        return cls(_core._Program.from_bytes(bytes(data)))

    def input_specs(self, method: str = "forward") -> list[TensorSpec | None]:
        return [_spec(raw) for raw in self._native.input_specs(method)]

    def output_specs(self, method: str = "forward") -> list[TensorSpec | None]:
        return [_spec(raw) for raw in self._native.output_specs(method)]

    def load_method(self, method: str = "forward") -> None:
        """Prepare `method` now (memory plan, delegates) so a broken program fails here."""
        self._native.load_method(method)

    def constants(self, method: str) -> list[str | int | float | bool | None]:
        """Run a method that takes no input and returns constants (str, int, float, bool)."""
        return list(self._native.constants(method))

    def string_constant(self, method: str) -> str:
        """Run a method that takes no input and returns one string (e.g. metadata)."""
        values = self.constants(method)
        if len(values) != 1 or not isinstance(values[0], str):
            got = [type(value).__name__ for value in values]
            raise ExecutionError(f"method '{method}' returns {got}, not one string")
        return values[0]

    def run(self, array: npt.NDArray[Any], method: str = "forward") -> npt.NDArray[Any]:
        """Run a one-tensor-in, one-tensor-out method; returns a new array."""
        if not isinstance(array, np.ndarray):
            raise InputError(f"expected a numpy array, got {type(array).__name__}")
        spec, order = self._layout(method)
        if array.dtype != np.dtype(spec.dtype):
            raise InputError(
                f"input dtype {array.dtype} does not match the program's {spec.dtype} "
                "(convert it first, e.g. array.astype(numpy.float32))"
            )
        if array.shape != spec.sizes:
            raise InputError(f"input shape {array.shape} does not match the program's {spec.sizes}")
        if not _has_layout(array, spec):
            # Copy into the program's memory order, keep the logical shape.
            array = np.ascontiguousarray(array.transpose(spec.dim_order)).transpose(order)
        return self._native.run(method, array)  # type: ignore[no-any-return]

    def _layout(self, method: str) -> tuple[TensorSpec, tuple[int, ...]]:
        cached = self._layouts.get(method)
        if cached is None:
            specs = self.input_specs(method)
            if len(specs) != 1 or specs[0] is None:
                raise InputError(f"method '{method}' does not take exactly one tensor input")
            spec = specs[0]
            cached = (spec, tuple(int(i) for i in np.argsort(spec.dim_order)))
            self._layouts[method] = cached
        return cached

    def __repr__(self) -> str:
        return f"<garagecam_runtime.Program {self._native.origin} {sorted(self.method_names)}>"


def _has_layout(array: npt.NDArray[Any], spec: TensorSpec) -> bool:
    expected = [0] * len(spec.sizes)
    step = array.itemsize
    for dim in reversed(spec.dim_order):
        expected[dim] = step
        step *= spec.sizes[dim]
    return all(
        size <= 1 or stride == want
        for size, stride, want in zip(array.shape, array.strides, expected, strict=True)
    )
