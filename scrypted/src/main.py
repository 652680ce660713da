"""Scrypted's entry point: the host imports this module and calls `create_scrypted_plugin()`.

The plugin itself lives in the `garagecam_scrypted` package next to this file; all image
and model logic comes from `garagecam_core` (installed from requirements.txt).
"""

from garagecam_scrypted.plugin import GarageCamPlugin


def create_scrypted_plugin() -> GarageCamPlugin:
    return GarageCamPlugin()
