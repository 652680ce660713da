"""CLI commands that only run models, read metadata or talk MQTT never import torch or the
executorch package (with the garagecam-runtime binding installed): checked in fresh
processes, through `sys.modules` at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.runner.support import Broker
from tests.core.runner.test_runner_cli import write_config
from tests.images import scene_jpeg

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).parents[3]
# Runs the CLI, then reports which heavy top-level packages the process imported.
WRAPPER = """
import atexit, sys
def report():
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "executorch"})
    sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
atexit.register(report)
from garagecam_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _garagecam(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
        env={**os.environ, "GARAGECAM_RUNTIME": ""},
    )  # fmt: skip
    heavy = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
    assert heavy, done.stderr
    return done.returncode, done.stdout, heavy[-1].removeprefix("HEAVY=")


def test_commands_import_neither_torch_nor_executorch(tmp_path: Path, broker: Broker) -> None:
    config = write_config(tmp_path / "garagecam.yaml", broker, [{"id": "garage", "file": "."}])
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(scene_jpeg(640, 360))
    bad.write_bytes(scene_jpeg(640, 360)[:300])
    commands = {
        "homebridge-config": ["homebridge-config", "--config", str(config)],
        "run --check": ["run", "--config", str(config), "--check"],
        "mqtt cleanup": ["mqtt", "cleanup", "--config", str(config), "--wait", "0.5"],
        "infer (bad image)": ["infer", str(bad)],
        "infer (demo model)": ["infer", str(good)],
    }
    results = {name: _garagecam(*argv) for name, argv in commands.items()}
    assert {name: heavy for name, (_, _, heavy) in results.items()} == dict.fromkeys(commands, "")
    codes = {name: code for name, (code, _, _) in results.items()}
    assert codes == {**dict.fromkeys(commands, 0), "infer (bad image)": 1}
    assert '"error": "TruncatedImageError"' in results["infer (bad image)"][1]
    assert '"probabilities"' in results["infer (demo model)"][1]
