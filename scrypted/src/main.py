"""Scrypted's entry point: the host imports this module and calls `create_scrypted_plugin()`.

The plugin itself lives in the `garagecam_scrypted` package next to this file; all image
and model logic comes from `garagecam_core` (installed from requirements.txt).

This file runs on any Python the server may start (package.json asks for 3.12, but servers
that ignore `pythonVersion` run their own, 3.10 on some installs): the requirements carry
`python_version` markers so pip installs nothing there, and the plugin stops with one line.
"""

from __future__ import annotations

import sys
from typing import Any

MIN_PYTHON = (3, 11)


def python_problem(version: tuple[int, ...] = sys.version_info[:2]) -> str | None:
    """A one-line reason this Python cannot run the plugin, or None."""
    if tuple(version[:2]) >= MIN_PYTHON:
        return None
    need, have = ".".join(map(str, MIN_PYTHON)), ".".join(map(str, version[:2]))
    return (
        f"GarageCam needs Python {need} or newer, this Scrypted server runs its plugins on "
        f"Python {have}; a current server starts the Python 3.12 package.json asks for "
        "(SCRYPTED_PYTHON312_PATH names one)"
    )


def create_scrypted_plugin() -> Any:
    problem = python_problem()
    if problem is not None:
        raise RuntimeError(problem)
    from garagecam_scrypted.plugin import GarageCamPlugin

    return GarageCamPlugin()
