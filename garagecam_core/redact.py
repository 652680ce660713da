"""Keep secrets (passwords, tokens, credentials in URLs) out of logs and diagnostics.

One helper for the runner's logs and the Home Assistant integration's diagnostics:
`redact_url` for URLs, `redact` for nested config data, and `SecretFilter`, a logging
filter that masks every registered secret string wherever it appears in a log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

REDACTED = "**REDACTED**"

#: config keys whose values are secrets, wherever they appear
SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "passphrase"})

#: query parameters known to carry no secret (name lower-cased, without `-`/`_`): picture
#: size, channel, stream, format, a cache-buster, the user name. Every other query value is
#: masked: cameras name their password fields freely (`pw=`, `loginpas=`, `pass=`, `p=`...).
HARMLESS_QUERY_KEYS = frozenset({
    "channel", "ch", "chn", "subtype", "stream", "streamtype", "width", "height", "w", "h",
    "resolution", "res", "size", "quality", "q", "compression", "format", "fmt", "type",
    "snapshot", "snap", "cmd", "action", "camera", "cam", "id", "index", "idx", "profile",
    "rotate", "mode", "fps", "t", "ts", "time", "timestamp", "rand", "rnd", "random", "nocache",
    "cache", "user", "usr", "username", "rs", "ext", "download",
})  # fmt: skip
#: path segments that announce a secret in the next segment (`/token/<value>`)
_SECRET_PATH_NAMES = frozenset({"token", "key", "apikey", "secret", "password", "auth"})
#: a path segment that looks generated rather than named: 16+ URL-safe characters mixing
#: letters and digits, or 16+ hex digits (Scrypted webhook tokens, UUIDs, API keys)
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~+=-]{16,}$")
_HEX = re.compile(r"^[0-9a-fA-F]{16,}$")


def _is_secret_query_key(key: str) -> bool:
    name = unquote(key).lower().replace("-", "").replace("_", "")
    return name not in HARMLESS_QUERY_KEYS


def _is_token_segment(segment: str) -> bool:
    value = unquote(segment)
    if _HEX.match(value):
        return True
    return bool(
        _TOKEN_CHARS.match(value)
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _path_secrets(path: str) -> list[str]:
    segments = path.split("/")
    found = []
    for index, segment in enumerate(segments):
        after_name = index > 0 and segments[index - 1].lower() in _SECRET_PATH_NAMES
        if segment and (after_name or _is_token_segment(segment)):
            found.append(segment)
    return found


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL (password, query values not known harmless, token-like path
    segments), raw as they appear in the URL and decoded: for `SecretFilter.add`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    for item in parts.query.split("&"):
        key, sep, value = item.partition("=")
        if sep and value and _is_secret_query_key(key):
            found.append(value)
        elif not sep and item and _is_secret_query_key(item):  # `?hunter22`: a bare value
            found.append(item)
    found += _path_secrets(parts.path)
    return sorted({variant for value in found for variant in (value, unquote(value))})


def redact_url(url: str) -> str:
    """The URL with its secrets masked: any password (userinfo), every query value not known
    harmless (`HARMLESS_QUERY_KEYS`) and token-like path segments."""
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
    secrets = set(_path_secrets(parts.path))
    path = "/".join(REDACTED if s in secrets else s for s in parts.path.split("/"))
    query = "&".join(_redact_query_item(item) for item in parts.query.split("&") if item)
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, ""))


def _redact_query_item(item: str) -> str:
    key, sep, _value = item.partition("=")
    if not _is_secret_query_key(key):
        return item
    return f"{key}={REDACTED}" if sep else REDACTED


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
    as it is known (the runner's start-up adds what its config returns), so even an exception
    text cannot leak it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        # Very short values would mask unrelated text and are no real protection anyway.
        if secret and len(secret) >= 3:
            self._secrets.add(secret)

    def add_all(self, secrets: Iterable[str | None]) -> None:
        """`add` each: what a parsed config returns (`RunnerConfig.secrets`)."""
        for secret in secrets:
            self.add(secret)

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
