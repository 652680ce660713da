"""Keep secrets (passwords, tokens, credentials in URLs) out of logs and diagnostics.

One helper for the runner's logs and the Home Assistant integration's diagnostics:
`redact_url` for URLs, `redact` for nested config data, and `SecretFilter`, a logging
filter that masks every registered secret string wherever it appears in a log record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

REDACTED = "**REDACTED**"

#: config keys whose values are secrets, wherever they appear
SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "passphrase"})

# Query parameters some cameras take credentials in (e.g. `?user=admin&pwd=...`).
_SECRET_QUERY_KEYS = frozenset({"password", "pwd", "pass", "passwd", "token", "auth", "key"})


def redact_url(url: str) -> str:
    """The URL with any password (userinfo or credential query parameters) masked."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED  # unparsable: it might be all secret
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        host = hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if port is not None:
            host = f"{host}:{port}"
        user = parts.username or ""
        netloc = f"{user}:{REDACTED}@{host}" if parts.password is not None else f"{user}@{host}"
    query = "&".join(_redact_query_item(item) for item in parts.query.split("&") if item)
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_query_item(item: str) -> str:
    key, sep, _value = item.partition("=")
    if sep and key.lower() in _SECRET_QUERY_KEYS:
        return f"{key}={REDACTED}"
    return item


def redact(data: Any, keys: Iterable[str] = SECRET_KEYS) -> Any:
    """A copy of nested dicts/lists with secret keys masked and URLs' credentials removed."""
    secret_keys = frozenset(k.lower() for k in keys)
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in secret_keys and value is not None:
                out[key] = REDACTED
            else:
                out[key] = redact(value, secret_keys)
        return out
    if isinstance(data, list | tuple):
        return [redact(value, secret_keys) for value in data]
    if isinstance(data, str) and "://" in data:
        return redact_url(data)
    return data


class SecretFilter(logging.Filter):
    """Masks registered secret strings in log messages and their arguments.

    Attach it to the handlers that write logs (the CLI does); `add()` each secret as soon
    as it is known (config loading does), so even an exception text cannot leak it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        # Very short values would mask unrelated text and are no real protection anyway.
        if secret and len(secret) >= 3:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            masked = self.mask(message)
            if masked != message or record.exc_info:
                record.msg, record.args = masked, None
            if record.exc_info and record.exc_info[1] is not None:
                # Render the traceback now, masked, and drop the live exception.
                record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


#: the process-wide filter; `install_secret_filter()` attaches it to the root handlers
SECRETS = SecretFilter()


def install_secret_filter() -> None:
    """Attach `SECRETS` to every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if SECRETS not in handler.filters:
            handler.addFilter(SECRETS)
