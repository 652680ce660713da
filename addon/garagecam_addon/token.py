"""The inference API's token: made once, kept in /data (0600), read on every start."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from .errors import AddonError

_LOGGER = logging.getLogger("garagecam.addon")

#: 32 random bytes, URL-safe: what Home Assistant's entries send as `Bearer <token>`
_TOKEN_BYTES = 32


def ensure_token(path: Path) -> str:
    """The token in `path`, or a new one written there (only this user may read it)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as err:
        raise AddonError(f"cannot read the API token {path}: {_reason(err)}") from None
    if text:
        _owner_only(path)
        return text
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    _write_private(path, token)
    _LOGGER.info("Made the inference API's token (kept in %s)", path)
    return token


def _write_private(path: Path, text: str) -> None:
    """Write to a temporary file created 0600, then rename: never a partly written token."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError as err:
        raise AddonError(f"cannot write the API token {path}: {_reason(err)}") from None


def _owner_only(path: Path) -> None:
    """A token file someone made readable by others (a restore, a copy) is made 0600 again."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o600)
            _LOGGER.warning("%s was readable by others: made it 0600", path)
    except OSError as err:
        raise AddonError(f"cannot secure the API token {path}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or type(err).__name__
