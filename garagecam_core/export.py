"""Export a PyTorch module to a self-describing GarageCam `.pte` bundle.

torch.export -> (int8: XNNPACK post-training quantization, pt2e) -> to_edge_transform_and_lower
with the XNNPACK partitioner -> to_executorch. The metadata JSON is embedded as the constant
method `garagecam_metadata`. The program outputs probabilities: by default the module returns
logits and the metadata's activation (sigmoid or softmax) is appended to the graph; a module
that already ends with its activation is exported with `outputs="probabilities"`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .bundle import load_program
from .errors import ExportError, GarageCamError, ImageError
from .metadata import METADATA_METHOD, ModelMetadata

_LOGGER = logging.getLogger(__name__)

CALIBRATION_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Graph nodes that are bookkeeping, not kernels: tuple indexing of a delegate's outputs.
_NOT_OPS = {"getitem", "executorch_call_delegate"}


@dataclass(frozen=True)
class DelegationSummary:
    """How many operators XNNPACK took and which ones run on portable kernels."""

    delegated_ops: int
    portable_ops: list[str] = field(default_factory=list)

    @property
    def total_ops(self) -> int:
        return self.delegated_ops + len(self.portable_ops)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    size_bytes: int
    delegated_ops: int
    portable_ops: list[str]
    total_ops: int
    int8: bool
    metadata: ModelMetadata
    calibration_images: int = 0

    def summary(self) -> str:
        lines = [
            f"wrote {self.path} ({self.size_bytes:,} bytes, "
            f"{'int8' if self.int8 else 'fp32'}, labels {', '.join(self.metadata.label_names)})",
            f"XNNPACK delegated {self.delegated_ops} of {self.total_ops} ops",
        ]
        if self.int8:
            lines.append(f"calibrated on {self.calibration_images} image(s)")
        if self.portable_ops:
            lines.append(f"portable (slower) kernels: {', '.join(self.portable_ops)}")
        return "\n".join(lines)


def load_factory(spec: str) -> Any:
    """Build a module from `pkg.mod:factory` (a callable returning an nn.Module).

    The current directory is importable, as with `python -m`, so a project's own
    `models/net.py` works as `--module models.net:build`.
    """
    import torch

    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ExportError(f"--module must look like 'package.module:factory', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any error while importing user code is the user's to fix
        raise ExportError(f"cannot import {module_name!r}: {type(err).__name__}: {err}") from err
    factory: Any = module
    for part in attr.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError as err:
            raise ExportError(f"{module_name!r} has no attribute {attr!r}") from err
    if not callable(factory):
        raise ExportError(f"{spec} is not callable (a function returning an nn.Module)")
    try:
        built = factory()
    except Exception as err:
        raise ExportError(f"{spec}() failed: {type(err).__name__}: {err}") from err
    if not isinstance(built, torch.nn.Module):
        raise ExportError(f"{spec}() returned {type(built).__name__}, not a torch.nn.Module")
    return built


def _with_activation(module: Any, activation: str) -> Any:
    import torch

    class WithActivation(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            logits = self.inner(x)
            return torch.sigmoid(logits) if activation == "sigmoid" else logits.softmax(dim=1)

    return WithActivation(module).eval()


def _delegation(graph_module: Any) -> DelegationSummary:
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    portable = [
        f"{op}" + (f" x{b.non_delegated}" if b.non_delegated > 1 else "")
        for op, b in sorted(info.delegation_by_operator.items())
        if b.non_delegated and op not in _NOT_OPS
    ]
    delegated = sum(b.delegated for op, b in info.delegation_by_operator.items())
    return DelegationSummary(delegated_ops=delegated, portable_ops=portable)


def lower_to_pte(
    module: Any,
    example: Any,
    constant_methods: dict[str, Any] | None,
    *,
    calibration: Iterable[Any] | None = None,
) -> tuple[bytes, DelegationSummary]:
    """Export `module` as is (no activation added, no checks) to .pte bytes.

    With `calibration` (input tensors) the graph is int8-quantized for XNNPACK first.
    """
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass

    try:
        exported = torch.export.export(module, (example,))
    except Exception as err:
        raise ExportError(
            f"torch.export cannot trace the model ({type(err).__name__}: {err}); the forward "
            "pass must be traceable without data-dependent Python control flow"
        ) from err
    if calibration is not None:
        exported = torch.export.export(_quantize(exported.module(), calibration), (example,))
    try:
        edge = to_edge_transform_and_lower(
            exported, partitioner=[XnnpackPartitioner()], constant_methods=constant_methods
        )
        summary = _delegation(edge.exported_program().graph_module)
        # The input is not planned into the runtime's arena: the method reads the caller's
        # buffer in place instead of copying 300 KB into the arena on every call (~10 us of
        # a 0.5 ms inference, measured).
        program = edge.to_executorch(
            ExecutorchBackendConfig(
                memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False)
            )
        )
    except Exception as err:
        raise ExportError(f"lowering to ExecuTorch failed: {type(err).__name__}: {err}") from err
    return bytes(program.buffer), summary


def _quantize(graph_module: Any, calibration: Iterable[Any]) -> Any:
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    try:
        prepared = prepare_pt2e(graph_module, quantizer)
        seen = 0
        with torch.no_grad():
            for tensor in calibration:
                prepared(tensor)
                seen += 1
        if not seen:
            raise ExportError("none of the calibration images could be read")
        return convert_pt2e(prepared)
    except GarageCamError:
        raise
    except Exception as err:
        raise ExportError(f"int8 quantization failed: {type(err).__name__}: {err}") from err


def calibration_files(directory: Path) -> list[Path]:
    """Image files under `directory` (recursively, sorted) for int8 calibration."""
    if not directory.is_dir():
        raise ExportError(f"calibration directory {directory} does not exist")
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in CALIBRATION_SUFFIXES
    )
    if not files:
        raise ExportError(
            f"no calibration images ({', '.join(CALIBRATION_SUFFIXES)}) in {directory}"
        )
    return files


def _calibration_tensors(
    files: Sequence[Path], metadata: ModelMetadata, progress: bool, used: list[Path]
) -> Iterable[Any]:
    """Yield each calibration image preprocessed exactly as at inference (bad ones skipped)."""
    import torch
    from tqdm import tqdm

    from .preprocess import prepare

    for path in tqdm(files, desc="calibrating", unit="img", disable=not progress):
        try:
            tensor = prepare(path.read_bytes(), metadata).tensor
        except (OSError, ImageError) as err:
            _LOGGER.warning("skipping calibration image %s: %s", path, err)
            continue
        used.append(path)
        yield torch.from_numpy(tensor)


def _write_atomically(data: bytes, out: Path) -> Path:
    """Write next to `out` under a temporary name; the caller renames it once verified."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        # mkstemp creates 0600; a model is not a secret and the runner may run as another user.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def export_model(
    module: Any,
    metadata: ModelMetadata,
    out: str | Path,
    *,
    int8: bool = False,
    calibration: Sequence[Path] | None = None,
    progress: bool = True,
    outputs: Literal["logits", "probabilities"] = "logits",
    channels_last: bool = True,
) -> ExportReport:
    """Export `module` to `out` with `metadata` embedded; see the module doc.

    `outputs="logits"` (default) appends the metadata's activation to the graph;
    `"probabilities"` exports the module as it is (it applies the activation itself).
    `channels_last` (default) exports a program that reads NHWC input memory and records
    `input_layout="NHWC"` in the metadata; `LoadedProgram.run` feeds it accordingly.

    A module still in training mode is switched to eval mode (with a warning): dropout and
    batch-norm statistics must be frozen in an exported model. `out` is replaced only once the
    new file has been loaded back and validated.
    """
    import torch

    out = Path(out)
    if not isinstance(module, torch.nn.Module):
        raise ExportError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if module.training:
        _LOGGER.warning("the module was in training mode: switched to eval mode for export")
        module.eval()
    if int8 and not calibration:
        raise ExportError("int8 export needs calibration images (--calibration DIR)")
    example = torch.zeros(1, 3, metadata.input_height, metadata.input_width)
    _check_eager_output(module, example, metadata)
    if outputs not in ("logits", "probabilities"):
        raise ExportError(f"outputs must be 'logits' or 'probabilities', got {outputs!r}")
    wrapped = _with_activation(module, metadata.activation) if outputs == "logits" else module
    used: list[Path] = []
    tensors = (
        list(_calibration_tensors(calibration or [], metadata, progress, used)) if int8 else None
    )
    # XNNPACK computes in NHWC: a channels_last program skips the input transpose, and
    # preprocessing hands it the NHWC buffer it already has (see preprocess.to_tensor).
    # Portable kernels are not known to honour NHWC input memory, so a graph that is not
    # fully delegated is exported NCHW instead.
    for layout in ("NHWC", "NCHW") if channels_last else ("NCHW",):
        metadata = replace(metadata, input_layout=layout)
        example_in = (
            example.contiguous(memory_format=torch.channels_last) if layout == "NHWC" else example
        )
        data, summary = lower_to_pte(
            wrapped, example_in, {METADATA_METHOD: metadata.to_json()}, calibration=tensors
        )
        if not summary.portable_ops:
            break
    for op in summary.portable_ops:
        _LOGGER.warning("op not delegated to XNNPACK, runs on portable kernels: %s", op)
    tmp = _write_atomically(data, out)
    try:
        loaded = load_program(tmp)
        if loaded.metadata != metadata:
            raise ExportError("the metadata read back from the exported file differs")
        tmp.replace(out)
    except GarageCamError as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, ExportError):
            raise
        raise ExportError(f"the exported program does not load back: {err}") from err
    report = ExportReport(
        path=out,
        size_bytes=len(data),
        delegated_ops=summary.delegated_ops,
        portable_ops=summary.portable_ops,
        total_ops=summary.total_ops,
        int8=int8,
        metadata=metadata,
        calibration_images=len(used),
    )
    _LOGGER.info("exported %s: %s", out, report.summary().replace("\n", "; "))
    return report


def _check_eager_output(module: Any, example: Any, metadata: ModelMetadata) -> None:
    import torch

    try:
        with torch.no_grad():
            output = module(example)
    except Exception as err:
        raise ExportError(
            f"the model fails on a (1, 3, {metadata.input_height}, {metadata.input_width}) "
            f"input: {type(err).__name__}: {err}"
        ) from err
    expected = (1, len(metadata.labels))
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != expected:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ExportError(
            f"the model must return one tensor of shape {expected} (one value per label "
            f"{list(metadata.label_names)}), got {got}"
        )
