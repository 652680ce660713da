"""The worker process runs programs without importing the ExecuTorch exporter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from garagecam_core.engine.worker import _skip_exporter_import
_skip_exporter_import()
from garagecam_core.engine.local import LocalEngine
from tests.images import scene_jpeg
engine = LocalEngine(sys.argv[1])
result = engine.classify(scene_jpeg(320, 180))
print(json.dumps({
    "probabilities": result.probabilities,
    "exporter": "executorch.exir.program" in sys.modules,
    "dynamo": "torch._dynamo" in sys.modules,
}))
"""


def test_worker_runtime_import_leaves_out_the_exporter(tiny_model_path: Path) -> None:
    from garagecam_core.engine.local import LocalEngine
    from tests.images import scene_jpeg

    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tiny_model_path)],
        cwd=Path(__file__).parents[3],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["exporter"] is False
    assert probe["dynamo"] is False
    # ... and the program still gives the same answer as with the full import.
    expected = LocalEngine(tiny_model_path).classify(scene_jpeg(320, 180)).probabilities
    assert probe["probabilities"] == expected
