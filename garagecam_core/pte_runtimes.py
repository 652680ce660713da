"""The two runtimes that can run a `.pte`, behind one small interface.

- `binding`: the `garagecam-runtime` package (`garagecam_runtime`), a narrow binding of the
  ExecuTorch C++ runtime. No torch: ~40 MB per process, 0.2 s to import, and it releases the
  GIL while a program runs. The default wherever it is installed.
- `official`: executorch's own Python runtime (`executorch.runtime`). It imports torch
  (~700 MB, seconds to import) and holds the GIL during `execute()`. Kept as the fallback
  where the binding cannot load, and as the bench's reference.

Both load the same shared libraries from the executorch wheel (runtime, optimized CPU kernels,
XNNPACK), so they compute bit-identical outputs. `bundle.py` is the only caller: it does the
GarageCam-level validation and turns failures into the core's error types.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .errors import (
    CorruptModelError,
    EngineError,
    ModelNotFoundError,
    NotAPteError,
    RuntimeMissingError,
)

_LOGGER = logging.getLogger(__name__)

BINDING = "binding"
OFFICIAL = "official"
RUNTIMES = (BINDING, OFFICIAL)
#: environment variable forcing one runtime (`binding` or `official`) in this process
RUNTIME_ENV = "GARAGECAM_RUNTIME"

# ExecuTorch ScalarType codes the official runtime reports, as numpy dtype names.
_SCALAR_TYPES = {6: "float32", 7: "float64", 5: "float16", 1: "int8", 0: "uint8", 3: "int32"}
_SCALAR_TYPES |= {4: "int64", 2: "int16", 11: "bool"}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a method's signature."""

    sizes: tuple[int, ...]
    dtype: str  # numpy dtype name, e.g. "float32"


class LoadedPte(Protocol):
    """A loaded ExecuTorch program, before any GarageCam checks."""

    method_names: frozenset[str]

    def constants(self, method: str) -> list[Any]:
        """Values returned by a method that takes no input (the metadata method)."""

    def input_specs(self, method: str) -> list[TensorSpec | None]: ...

    def output_specs(self, method: str) -> list[TensorSpec | None]: ...

    def load_method(self, method: str) -> None:
        """Prepare `method`; raises CorruptModelError if it cannot be loaded."""

    def run(self, tensor: npt.NDArray[np.float32], layout: str) -> npt.NDArray[np.float32]:
        """`forward` on a (1, 3, H, W) float32 array, whatever its memory layout; returns
        the output values, flattened. `layout` is the metadata's input layout ("NHWC" or
        "NCHW"), for a runtime that cannot read the program's dim order (the official one).
        Raises EngineError if the runtime fails."""


class PteRuntime(Protocol):
    name: str

    def load(self, path: Path) -> LoadedPte:
        """Load and verify a program; raises CorruptModelError if the runtime refuses it."""

    def thread_count(self) -> int: ...

    def set_thread_count(self, threads: int) -> None: ...


def _corrupt(path: Path, err: Exception) -> CorruptModelError:
    return CorruptModelError(
        f"{path} is truncated or corrupt: the ExecuTorch runtime cannot load it ({err}); "
        "copy or export the model again"
    )


# --- garagecam-runtime binding --------------------------------------------------------------


class _BindingPte:
    def __init__(self, path: Path, program: Any, module: Any) -> None:
        self._path = path
        self._program = program
        self._module = module
        self.method_names: frozenset[str] = program.method_names

    def constants(self, method: str) -> list[Any]:
        try:
            return list(self._program.constants(method))
        except self._module.ProgramError as err:
            raise CorruptModelError(
                f"{self._path}: cannot run the method '{method}' ({err})"
            ) from err

    def input_specs(self, method: str) -> list[TensorSpec | None]:
        return [_binding_spec(s) for s in self._program.input_specs(method)]

    def output_specs(self, method: str) -> list[TensorSpec | None]:
        return [_binding_spec(s) for s in self._program.output_specs(method)]

    def load_method(self, method: str) -> None:
        try:
            self._program.load_method(method)
        except self._module.ProgramError as err:
            raise CorruptModelError(
                f"{self._path} is corrupt: its '{method}' method cannot be loaded ({err}); "
                "copy or export the model again"
            ) from err

    def run(self, tensor: npt.NDArray[np.float32], layout: str) -> npt.NDArray[np.float32]:
        # `layout` is not needed: the binding reads the program's dim order itself, copies
        # the array into it (NHWC for channels-last exports) when its layout differs, and
        # hands it over without a copy otherwise.
        try:
            output = self._program.run(tensor)
        except self._module.ProgramError as err:
            raise EngineError(f"{self._path.name}: inference failed: {err}") from err
        return np.asarray(output, dtype=np.float32).reshape(-1)


def _binding_spec(raw: Any) -> TensorSpec | None:
    return None if raw is None else TensorSpec(tuple(raw.sizes), str(raw.dtype))


class _BindingRuntime:
    name = BINDING

    def __init__(self, module: Any) -> None:
        self._module = module

    def load(self, path: Path) -> LoadedPte:
        try:
            program = self._module.Program.load(path)
        except self._module.ProgramError as err:
            raise _corrupt(path, err) from err
        return _BindingPte(path, program, self._module)

    def thread_count(self) -> int:
        return int(self._module.thread_count())

    def set_thread_count(self, threads: int) -> None:
        # The binding waits for running programs before it resizes the pool.
        self._module.set_thread_count(threads)


# --- executorch.runtime (official bindings, imports torch) -----------------------------------

# Resetting the official runtime's thread pool while another thread runs a model is unsafe
# (hence its `_unsafe_` prefix): serialise resets with loads in this process.
_OFFICIAL_POOL_LOCK = threading.Lock()


class _OfficialPte:
    def __init__(self, path: Path, program: Any, torch: Any) -> None:
        self._path = path
        self._program = program
        self._torch = torch
        self._forward: Any = None
        self._lock = threading.Lock()
        self.method_names: frozenset[str] = frozenset(program.method_names)

    def constants(self, method: str) -> list[Any]:
        try:
            return list(self._program.load_method(method).execute([]))
        except RuntimeError as err:
            raise CorruptModelError(
                f"{self._path}: cannot run the method '{method}' ({err})"
            ) from err

    def _specs(self, method: str, inputs: bool) -> list[TensorSpec | None]:
        meta = self._program.metadata(method)
        count = meta.num_inputs() if inputs else meta.num_outputs()
        specs: list[TensorSpec | None] = []
        for index in range(count):
            try:
                info = meta.input_tensor_meta(index) if inputs else meta.output_tensor_meta(index)
            except (RuntimeError, ValueError):  # not a tensor
                specs.append(None)
                continue
            dtype = _SCALAR_TYPES.get(int(info.dtype()), f"scalar_type_{int(info.dtype())}")
            specs.append(TensorSpec(tuple(info.sizes()), dtype))
        return specs

    def input_specs(self, method: str) -> list[TensorSpec | None]:
        return self._specs(method, inputs=True)

    def output_specs(self, method: str) -> list[TensorSpec | None]:
        return self._specs(method, inputs=False)

    def load_method(self, method: str) -> None:
        with _OFFICIAL_POOL_LOCK:  # XNNPACK binds the pool while loading
            try:
                loaded = self._program.load_method(method)
            except RuntimeError as err:
                raise CorruptModelError(
                    f"{self._path} is corrupt: its '{method}' method cannot be loaded ({err}); "
                    "copy or export the model again"
                ) from err
        if method == "forward":
            self._forward = loaded

    def run(self, tensor: npt.NDArray[np.float32], layout: str) -> npt.NDArray[np.float32]:
        if self._forward is None:
            self.load_method("forward")
        # Zero-copy hand-over; numpy views and tolist() rather than torch ops on the way in
        # and out: the wrapper's cost counts at 0.5 ms per inference (measured: 69 -> 55 us).
        if layout == "NHWC":
            # The runtime reads the input's raw memory in the layout the program was exported
            # with (it ignores strides): hand it NHWC memory, viewed as (1, 3, H, W).
            nhwc = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1), dtype=np.float32)
            data = self._torch.from_numpy(nhwc.transpose(0, 3, 1, 2))
        else:
            data = self._torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32))
        with self._lock:
            try:
                outputs = self._forward.execute([data])
            except RuntimeError as err:
                raise EngineError(f"{self._path.name}: inference failed: {err}") from err
        return np.array(outputs[0].tolist(), dtype=np.float32).reshape(-1)


class _OfficialRuntime:
    name = OFFICIAL

    def __init__(self, runtime: Any, portable_lib: Any, torch: Any) -> None:
        self._runtime = runtime
        self._lib = portable_lib
        self._torch = torch

    def load(self, path: Path) -> LoadedPte:
        with _OFFICIAL_POOL_LOCK:
            try:
                program = self._runtime.load_program(path)
            except (RuntimeError, ValueError) as err:
                raise _corrupt(path, err) from err
        return _OfficialPte(path, program, self._torch)

    def thread_count(self) -> int:
        return int(self._lib._threadpool_get_thread_count())

    def set_thread_count(self, threads: int) -> None:
        with _OFFICIAL_POOL_LOCK:
            if self._lib._threadpool_get_thread_count() != threads:
                self._lib._unsafe_reset_threadpool(threads)


# --- selection -----------------------------------------------------------------------------

_CACHE: dict[str, PteRuntime] = {}
_CACHE_LOCK = threading.Lock()


def _import_binding() -> PteRuntime:
    import garagecam_runtime

    return _BindingRuntime(garagecam_runtime)


def _import_official() -> PteRuntime:
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    return _OfficialRuntime(Runtime.get(), portable_lib, torch)


_IMPORTERS = {BINDING: _import_binding, OFFICIAL: _import_official}


def official_runtime_expected() -> bool:
    """Whether `get_runtime()` will pick the official runtime here (without importing it)."""
    import importlib.util

    chosen = os.environ.get(RUNTIME_ENV) or None
    return chosen == OFFICIAL or (
        chosen is None and importlib.util.find_spec("garagecam_runtime") is None
    )


def get_runtime(name: str | None = None) -> PteRuntime:
    """The runtime called `name`; by default the binding if it imports, else the official one
    (or the one named by $GARAGECAM_RUNTIME). Raises RuntimeMissingError if none imports."""
    name = name or os.environ.get(RUNTIME_ENV) or None
    if name is not None and name not in RUNTIMES:
        raise RuntimeMissingError(
            f"unknown ExecuTorch runtime {name!r} (from ${RUNTIME_ENV}?): use one of {RUNTIMES}"
        )
    errors: list[str] = []
    with _CACHE_LOCK:
        for candidate in (name,) if name else RUNTIMES:
            if candidate in _CACHE:
                return _CACHE[candidate]
            try:
                runtime = _IMPORTERS[candidate]()
            except ImportError as err:
                errors.append(f"{candidate}: {err}")
                continue
            _LOGGER.debug("ExecuTorch runtime: %s", candidate)
            _CACHE[candidate] = runtime
            return runtime
    raise RuntimeMissingError(
        "no ExecuTorch runtime is installed here: install 'garagecam-core[runtime]' (the "
        "garagecam-runtime binding, Linux glibc x86_64/aarch64), or use a remote GarageCam "
        f"runner ({'; '.join(errors)})"
    )


# --- the native runtime's own messages -------------------------------------------------------


def _swap_stream(old: Any, new: Any) -> None:
    """Point the root logger's handlers that write to `old` at `new`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is old:
            handler.setStream(new)


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what the runtime writes to stderr inside the block to this module's log: DEBUG
    lines, or WARNING lines if the block raises.

    The ExecuTorch runtime writes INFO lines ("Failed to open midr file ...", "Resetting
    threadpool ...") when its thread pool is made and a program loads: the binding to file
    descriptor 2, the official runtime through Python's `sys.stderr`; neither has a log
    level to set. Both are captured; the root logger's handlers keep writing to the real
    stderr. fd 2 is process-wide: use this only where no other thread writes to stderr
    meanwhile (a command's start-up), not in a long-running service.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    real = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    python_stderr = sys.stderr
    _swap_stream(python_stderr, real)
    failed = False
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            python_stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _swap_stream(real, python_stderr)
            real.close()
            sink.seek(0)
            _log_native(sink.read(), logging.WARNING if failed else logging.DEBUG)


def _log_native(output: bytes, level: int) -> None:
    for line in output.decode("utf-8", "replace").splitlines():
        if line.strip():
            _LOGGER.log(level, "ExecuTorch runtime: %s", line.rstrip())


# The file and thread-pool checks every loader shares (bundles in bundle.py, the trunk in
# heads/trunk.py): here, below both, so neither imports the other.
# Flatbuffer file identifier at bytes 4..8, e.g. b"ET12" (schema version digits).
_PTE_IDENTIFIER = re.compile(rb"ET[0-9]{2}")


def read_head(path: Path) -> bytes:
    """The first bytes of a model file (ModelNotFoundError when it cannot be one)."""
    if not path.exists():
        raise ModelNotFoundError(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelNotFoundError(f"model path {path} is not a file (a .pte file is expected)")
    try:
        with path.open("rb") as handle:
            return handle.read(64)
    except OSError as err:
        raise ModelNotFoundError(f"cannot read model file {path}: {err.strerror}") from err


def check_pte_file(path: Path) -> None:
    """Raise unless `path` is a regular file starting like an ExecuTorch program."""
    head = read_head(path)[:8]
    if len(head) < 8 or not _PTE_IDENTIFIER.fullmatch(head[4:8]):
        raise NotAPteError(
            f"{path} is not an ExecuTorch program (.pte): its header has no 'ETnn' "
            f"identifier (starts with {head[:8].hex(' ') or 'nothing, the file is empty'})"
        )


def set_thread_count(threads: int, runtime: str | None = None) -> None:
    """Size ExecuTorch's process-wide thread pool (XNNPACK binds it when a program loads)."""
    if threads < 1:
        raise EngineError(f"thread count must be at least 1, got {threads}")
    pte_runtime = get_runtime(runtime)
    if pte_runtime.thread_count() != threads:
        pte_runtime.set_thread_count(threads)
        _LOGGER.debug("ExecuTorch thread pool set to %d thread(s)", threads)


def thread_count(runtime: str | None = None) -> int:
    return get_runtime(runtime).thread_count()
