"""What the peer runtimes share: package checks and quiet converters."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator


def missing_packages(*modules: str) -> list[str]:
    """The importable names among `modules` that are not installed here."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


class ConversionError(RuntimeError):
    """A converter failed; the message ends with the tail of what it printed."""


@contextlib.contextmanager
def captured_output(what: str) -> Iterator[None]:
    """Run a converter with file descriptors 1 and 2 sent to a file.

    The converters print progress bars and C++ log lines straight to the descriptors, past
    Python's `sys.stdout`; on failure their last lines go into the `ConversionError`.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            except Exception as err:
                sys.stdout.flush()
                sys.stderr.flush()
                sink.seek(0)
                tail = sink.read().decode("utf-8", "replace").strip().splitlines()[-5:]
                raise ConversionError(f"{what} failed: {err}; output: {' | '.join(tail)}") from err
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
