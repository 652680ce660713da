"""The worker process runs programs without importing the ExecuTorch exporter (official
runtime) or anything of torch and executorch at all (garagecam-runtime binding)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from garagecam_core.engine import worker
from garagecam_core.pte_runtimes import official_runtime_expected
if official_runtime_expected():
    worker._skip_exporter_import()
from garagecam_core.engine.local import LocalEngine
from tests.images import scene_jpeg
engine = LocalEngine(sys.argv[1])
result = engine.classify(scene_jpeg(320, 180))
print(json.dumps({
    "runtime": engine.runtime,
    "probabilities": result.probabilities,
    "exporter": "executorch.exir.program" in sys.modules,
    "dynamo": "torch._dynamo" in sys.modules,
    "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "executorch"}),
}))
"""


@pytest.mark.parametrize("runtime", ["official", "binding"])
def test_worker_runtime_import_leaves_out_the_exporter(tiny_model_path: Path, runtime: str) -> None:
    from garagecam_core.engine.local import LocalEngine
    from tests.images import scene_jpeg

    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tiny_model_path)],
        cwd=Path(__file__).parents[3],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "GARAGECAM_RUNTIME": runtime},
    ).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["runtime"] == runtime
    assert probe["exporter"] is False
    assert probe["dynamo"] is False
    if runtime == "binding":
        assert probe["heavy"] == []
    # ... and the program still gives the same answer as with the full import.
    expected = LocalEngine(tiny_model_path).classify(scene_jpeg(320, 180)).probabilities
    assert probe["probabilities"] == expected
