"""The PyTorch module the side-by-side comparison exports and runs everywhere.

Like `export_model`, the module returns logits; the eager runs append the activation exactly
as export does. Order: a `--module pkg.mod:factory` given by the user; for the demo model,
the student network with the demo's trained weights when the package carries them; otherwise
the same student architecture with fixed-seed random weights (same network, weights and
input in every runtime, so speed and agreement are still comparable; accuracy is not).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..metadata import ModelMetadata

_LOGGER = logging.getLogger(__name__)
RANDOM_SEED = 0


@dataclass(frozen=True)
class SourceModule:
    """The logits module (what `export_model` takes) and its probabilities twin (eager)."""

    module: Any  # torch.nn.Module in eval mode
    weights: str  # human description for the report
    trained: bool
    outputs: Literal["logits", "probabilities"] = "logits"

    def probabilities_module(self, metadata: ModelMetadata) -> Any:
        """The module with the output activation `export_model` appends: same graph as the .pte."""
        if self.outputs == "probabilities":
            return self.module
        from ..export import _with_activation

        return _with_activation(self.module, metadata.activation)


def _demo_state_dict(models_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(state dict, student kwargs) from the demo's training report, if it points to one."""
    import torch

    report_path = models_dir / "demo.json"
    if not report_path.is_file():
        return None
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    name = report.get("state_dict") or report.get("weights")
    if not isinstance(name, str) or not (models_dir / name).is_file():
        return None
    state = torch.load(models_dir / name, map_location="cpu", weights_only=True)
    kwargs = report.get("student_kwargs") or report.get("architecture") or {}
    return state, dict(kwargs) if isinstance(kwargs, dict) else {}


def resolve_module(
    metadata: ModelMetadata,
    factory: str | None,
    is_demo: bool,
    models_dir: Path,
    outputs: Literal["logits", "probabilities"] = "logits",
) -> SourceModule | None:
    if factory:
        from ..export import load_factory

        module = load_factory(factory).eval()
        return SourceModule(module, f"--module {factory}", trained=True, outputs=outputs)
    if not is_demo:
        return None  # a user's .pte without its factory: nothing to compare it with
    import torch

    from ..train import student

    found = _demo_state_dict(models_dir)
    if found is not None:
        state, kwargs = found
        module = student.StudentNet(len(metadata.labels), **kwargs)
        module.load_state_dict(state)
        return SourceModule(module.eval(), "demo model weights", trained=True)
    torch.manual_seed(RANDOM_SEED)
    module = student.StudentNet(len(metadata.labels))
    _LOGGER.info("no demo PyTorch weights: comparing a fixed-seed student of the same shape")
    return SourceModule(
        module.eval(), f"student architecture, random weights (seed {RANDOM_SEED})", trained=False
    )
