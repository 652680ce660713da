"""The PyTorch module the side-by-side comparison exports and runs everywhere.

Like `export_model`, the module returns logits; the eager runs append the activation exactly
as export does. Order: a `--module pkg.mod:factory` given by the user; for the demo model,
the student network with the demo's trained weights when the package carries them; otherwise
the same student architecture with fixed-seed random weights (same network, weights and
input in every runtime, so speed and agreement are still comparable; accuracy is not).
"""

from __future__ import annotations

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
    from ..train.report import load_trained

    report = models_dir / "demo.json"
    if report.is_file():
        return SourceModule(load_trained(report).module, "demo model weights", trained=True)
    torch.manual_seed(RANDOM_SEED)
    module = student.StudentNet(len(metadata.labels))
    _LOGGER.info("no demo PyTorch weights: comparing a fixed-seed student of the same shape")
    return SourceModule(
        module.eval(), f"student architecture, random weights (seed {RANDOM_SEED})", trained=False
    )
