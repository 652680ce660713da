"""What the inference worker's memory is made of: RSS after each import, in fresh processes.

Usage: .venv/bin/python bench/worker_imports.py [MODEL.pte]

Shows that `executorch.extension.pybindings.portable_lib` imports `executorch.exir._warnings`
only for a decorator, and that this runs `executorch/exir/__init__.py`, which imports the whole
exporter (torch._dynamo, inductor, ...). The "lean" variant registers `executorch.exir` as an
empty package first (so `__init__` never runs) and shows what the worker would save.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import importlib.util, json, sys, time, types
import psutil
lean = sys.argv[1] == "lean"
model = sys.argv[2] if len(sys.argv) > 2 else None
steps = []
start = time.perf_counter()
def mark(what):
    steps.append([what, round(psutil.Process().memory_info().rss / 2**20, 1),
                  round(time.perf_counter() - start, 2)])
mark("python + psutil")
import numpy, PIL.Image
mark("numpy, Pillow")
import torch
mark("torch")
if lean:
    root = importlib.util.find_spec("executorch").submodule_search_locations[0] + "/exir"
    package = types.ModuleType("executorch.exir")
    package.__path__ = [root]
    sys.modules["executorch.exir"] = package
    name = "executorch.exir._warnings"
    spec = importlib.util.spec_from_file_location(name, root + "/_warnings.py")
    warnings_module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = warnings_module
    spec.loader.exec_module(warnings_module)
from executorch.extension.pybindings import portable_lib
from executorch.runtime import Runtime
mark("executorch runtime")
if model:
    method = Runtime.get().load_program(model).load_method("forward")
    mark("model loaded")
steps.append(["exporter imported", "executorch.exir.program" in sys.modules, ""])
print(json.dumps(steps))
"""


def main() -> None:
    model = sys.argv[1:2]
    for variant in ("full", "lean"):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, variant, *model],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"\n{variant} import of the ExecuTorch runtime:")
        for what, rss, seconds in json.loads(done.stdout.strip().splitlines()[-1]):
            print(f"  {what:<22} {rss!s:>8} MB  {seconds!s:>6} s")


if __name__ == "__main__":
    main()
