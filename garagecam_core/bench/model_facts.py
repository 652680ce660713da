"""Model facts: parameters and MACs of the PyTorch module, size and delegation of a .pte."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def count_params_and_macs(module: Any, example: Any) -> tuple[int, int]:
    """(parameters, multiply-accumulates of one forward pass) for conv and linear layers.

    MACs are counted with forward hooks on the layers that dominate the cost; activations,
    pooling and normalisation are left out, as in the usual published figures.
    """
    import torch

    macs = 0

    def conv_hook(layer: Any, _inputs: Any, output: Any) -> None:
        nonlocal macs
        kernel = 1
        for size in layer.kernel_size:
            kernel *= int(size)
        macs += int(output.numel()) * (layer.in_channels // layer.groups) * kernel

    def linear_hook(layer: Any, _inputs: Any, output: Any) -> None:
        nonlocal macs
        macs += int(output.numel()) * int(layer.in_features)

    handles = []
    for layer in module.modules():
        if isinstance(layer, torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Conv3d):
            handles.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, torch.nn.Linear):
            handles.append(layer.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            module(example)
    finally:
        for handle in handles:
            handle.remove()
    params = sum(int(p.numel()) for p in module.parameters())
    return params, macs


def pte_facts(path: Path) -> dict[str, Any]:
    """Size of a .pte and, from its program, delegate calls and operators left outside them."""
    facts: dict[str, Any] = {"path": str(path), "size_bytes": path.stat().st_size}
    try:
        # Private serializer API of executorch; only used for these informational counts.
        from executorch.exir._serialize._program import deserialize_pte_binary
        from executorch.exir.schema import DelegateCall, KernelCall

        program = deserialize_pte_binary(path.read_bytes())
        program = getattr(program, "program", program)  # newer versions wrap it
        plan = next(p for p in program.execution_plan if p.name == "forward")
        delegate_calls = kernel_calls = 0
        for chain in plan.chains:
            for instruction in chain.instructions:
                args = instruction.instr_args
                delegate_calls += isinstance(args, DelegateCall)
                kernel_calls += isinstance(args, KernelCall)
        facts["backends"] = sorted({d.id for d in plan.delegates})
        facts["delegate_calls"] = delegate_calls
        facts["portable_kernel_calls"] = kernel_calls
        facts["portable_ops"] = sorted({op.name for op in plan.operators})
    except Exception as err:  # counts are optional, the size is not
        _LOGGER.debug("cannot read the program of %s: %s", path, err)
    return facts
