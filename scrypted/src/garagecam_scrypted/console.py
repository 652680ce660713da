"""GarageCam's log lines in the Scrypted plugin console.

The host shows what the plugin prints in its console; the core's modules log (the camera
loop logs a lost camera and its recovery once each, the debouncer logs state changes). One
handler on GarageCam's loggers prints them, with every registered secret masked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from garagecam_core.redact import SECRETS

LOGGERS = ("garagecam", "garagecam_core", "garagecam_scrypted")


class ConsoleHandler(logging.Handler):
    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._write = write
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.addFilter(SECRETS)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write(self.format(record))
        except Exception:
            self.handleError(record)


def install_console_logging(write: Callable[[str], None] = print) -> ConsoleHandler:
    """Route GarageCam's loggers to `write` (idempotent: replaces an earlier handler)."""
    handler = ConsoleHandler(write)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, ConsoleHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # the host may also print the root logger: no doubles
    return handler
