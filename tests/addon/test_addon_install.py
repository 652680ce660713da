"""The install script in the bookworm tree: the add-on's Python environment, torch-free."""

from __future__ import annotations

from tests.addon.conftest import Installed
from tests.addon.tree import VENV


def test_install_script_makes_a_torch_free_runtime(installed: Installed) -> None:
    names = {line.split("==")[0].lower() for line in installed.packages}
    assert {"garagecam-core", "garagecam-runtime", "paho-mqtt"} <= names, installed.packages
    assert not names & {"torch", "executorch", "torchao", "torchvision"}, installed.packages
    assert "Debian packages present: python3 python3-venv" in installed.install_log
    print(
        f"\n{VENV}: {installed.venv_kb / 1024:.0f} MB installed, {len(names)} packages; "
        f"whole tree {installed.tree_kb / 1024:.0f} MB; largest:\n{installed.largest}"
    )
