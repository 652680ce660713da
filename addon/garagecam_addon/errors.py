"""The add-on's own error: one line for the add-on log, never a secret."""

from __future__ import annotations

from garagecam_core.errors import ConfigError


class AddonError(ConfigError):
    """Options, the Supervisor's answers or /data cannot be used (a one-line reason)."""
