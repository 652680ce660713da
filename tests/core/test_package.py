"""The base package stays light: nothing heavy is imported by `import garagecam_core`."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "executorch", "torchao", "paho", "matplotlib", "onnxruntime", "homeassistant")


def test_import_and_help_do_not_pull_heavy_dependencies() -> None:
    code = (
        "import json, sys, contextlib, io\n"
        "import garagecam_core, garagecam_core.metadata, garagecam_core.debounce\n"
        "import garagecam_core.engine, garagecam_core.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        garagecam_core.cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
