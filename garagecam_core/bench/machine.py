"""What the figures were measured on: CPU, cores, instruction sets, package versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

_PACKAGES = (
    "garagecam-core", "torch", "executorch", "onnxruntime", "onnx", "numpy", "pillow",
    "torchao",
)  # fmt: skip
# Instruction sets that decide int8/fp32 kernel speed on x86 and ARM.
_CPU_FLAGS = (
    "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimd",
    "asimddp", "i8mm", "sve",
)  # fmt: skip
# What each flag means for the kernels, in the order a reader looks for them.
_FEATURES = (
    ("AVX2", ("avx2",)), ("FMA", ("fma",)), ("AVX-512", ("avx512f",)),
    ("VNNI", ("avx512_vnni", "avx_vnni")), ("AMX-INT8", ("amx_int8",)), ("NEON", ("asimd",)),
    ("dotprod", ("asimddp",)), ("i8mm", ("i8mm",)), ("SVE", ("sve",)),
)  # fmt: skip


def cpu_features(flags: list[str]) -> str:
    """The SIMD features that matter here, named, present or not: "AVX2 yes, ... VNNI no"."""
    present = set(flags)
    arm = bool(present & {"asimd", "asimddp", "i8mm", "sve"})
    names = _FEATURES[5:] if arm else _FEATURES[:5]
    return ", ".join(f"{name} {'yes' if present & set(keys) else 'no'}" for name, keys in names)


def _cpuinfo() -> tuple[str, list[str]]:
    model = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, []
    return parse_cpuinfo(text, model)


def parse_cpuinfo(text: str, model: str) -> tuple[str, list[str]]:
    """CPU model name and the `_CPU_FLAGS` present, from /proc/cpuinfo's text."""
    flags = set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, [flag for flag in _CPU_FLAGS if flag in flags]


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the system has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    model, flags = _cpuinfo()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_features": cpu_features(flags),
        "load_average_start": load_average(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(affinity) if affinity is not None else os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in _PACKAGES},
    }
