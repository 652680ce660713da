"""Configs: wrong types and values for every kind of field, odd encodings, duplicate keys.

A bad value must be a `ConfigError` naming the key; an accepted config must hold only sane
values (ints that are not bools, finite positive numbers, non-empty tokens).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garagecam_core.errors import ConfigError
from garagecam_core.runner.config import RunnerConfig, load_config, parse_config
from tests.core.fuzz.tally import record, verify

VALUES = st.one_of(
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -1, 0, 65536, 10**30, "", " ", "${X}", [], {}]),
    st.integers(-(10**12), 10**12),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)

FIELDS = {
    "http.port": lambda v: {"http": {"port": v}},
    "http.token": lambda v: {"http": {"token": v}},
    "http.max_body_bytes": lambda v: {"http": {"max_body_bytes": v}},
    "mqtt.port": lambda v: {"mqtt": {"host": "b", "port": v}},
    "mqtt.keepalive": lambda v: {"mqtt": {"host": "b", "keepalive": v}},
    "cameras.interval": lambda v: {"cameras": [{"id": "a", "file": "x", "interval": v}]},
    "cameras.max_age": lambda v: {"cameras": [{"id": "a", "file": "x", "max_age": v}]},
    "cameras.confirm_frames": lambda v: {
        "cameras": [{"id": "a", "file": "x", "confirm_frames": v}]
    },
    "cameras.roi": lambda v: {"cameras": [{"id": "a", "file": "x", "roi": v}]},
    "cameras.labels.on_threshold": lambda v: {
        "cameras": [{"id": "a", "file": "x", "labels": {"door_open": {"on_threshold": v}}}]
    },
    "cameras.snapshot.url": lambda v: {"cameras": [{"id": "a", "snapshot": {"url": v}}]},
    "cameras.snapshot.timeout": lambda v: {
        "cameras": [{"id": "a", "snapshot": {"url": "http://c/i.jpg", "timeout": v}}]
    },
}


def _sane(config: RunnerConfig) -> bool:
    numbers: list[float] = []
    for camera in config.cameras:
        numbers += [camera.interval, camera.max_backoff, camera.effective_max_age]
        numbers += [getattr(camera.source, "timeout", 1.0)]
        if camera.confirm_frames < 1 or isinstance(camera.confirm_frames, bool):
            return False
    if config.http is not None:
        http = config.http
        if isinstance(http.port, bool) or not 0 <= http.port <= 65535:
            return False
        if http.token is not None and not http.token.strip():
            return False
    if config.mqtt is not None and (isinstance(config.mqtt.port, bool) or config.mqtt.port < 1):
        return False
    return all(math.isfinite(n) and n > 0 for n in numbers)


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(field=st.sampled_from(sorted(FIELDS)), value=VALUES)
def test_field_values(field: str, value: Any) -> None:
    _field_value(field, value)
    verify()


def _field_value(field: str, value: Any) -> None:
    data = FIELDS[field](value)
    data.setdefault("cameras", [{"id": "z", "file": "x"}])
    try:
        config = parse_config(data)
    except ConfigError as err:
        if "\n" in str(err):
            record("config field values", "crashed", f"{field}={value!r}: multi-line error")
        else:
            record("config field values", "refused")
        return
    except Exception as err:
        record("config field values", "crashed", f"{field}={value!r}: {type(err).__name__}: {err}")
        return
    if _sane(config):
        record("config field values", "tolerated")
    else:
        record("config field values", "accepted", f"{field}={value!r}")


GOOD = "cameras:\n  - id: a\n    name: Garage é\n    file: x\n"


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    encoding=st.sampled_from(["latin-1", "cp1252", "utf-16-le", "utf-16-be", "utf-32-le"]),
    junk=st.binary(max_size=24),
)
def test_encodings_and_binary_junk(tmp_path_factory: Any, encoding: str, junk: bytes) -> None:
    _encoding(tmp_path_factory.mktemp("enc") / "c.yaml", encoding, junk)
    verify()


def _encoding(path: Path, encoding: str, junk: bytes) -> None:
    path.write_bytes(GOOD.encode(encoding) + junk)  # no BOM: not UTF-8, never guessed
    try:
        load_config(path)
    except ConfigError as err:
        record("config encodings", "refused" if "\n" not in str(err) else "crashed", str(err))
        return
    except Exception as err:
        record("config encodings", "crashed", f"{encoding}: {type(err).__name__}: {err}")
        return
    record("config encodings", "accepted", f"{encoding} + {junk!r}")


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    section=st.sampled_from(["top", "mqtt", "http", "camera"]),
    key_index=st.integers(0, 2),
    secret=st.text(alphabet="abcdefXYZ123!#", min_size=6, max_size=12),
)
def test_duplicate_keys_and_syntax_errors(
    tmp_path_factory: Any, section: str, key_index: int, secret: str
) -> None:
    keys = {
        "top": ["cameras: []", "engine: worker", "models: {}"],
        "mqtt": ["  host: b", "  port: 1883", "  username: u"],
        "http": ["  port: 8080", "  host: 127.0.0.1", "  max_body_bytes: 100"],
        "camera": ["    interval: 1", "    model: demo", "    file: x"],
    }[section]
    body = {
        "top": "{line}\n{line}\nhttp: {{}}\n",
        "mqtt": "mqtt:\n{line}\n  host: a\n{line}\ncameras: []\nhttp: {{}}\n",
        "http": "http:\n{line}\n{line}\n",
        "camera": "cameras:\n  - id: a\n{line}\n    file: y\n{line}\n",
    }[section].format(line=keys[key_index])
    directory = tmp_path_factory.mktemp("dup")
    duplicate = directory / "dup.yaml"
    duplicate.write_text(body)
    broken = directory / "broken.yaml"
    broken.write_text(f'mqtt:\n  host: b\n  password: "{secret}\n  port: [1883\n')
    for path, what in ((duplicate, "duplicate key"), (broken, "syntax error")):
        try:
            load_config(path)
        except ConfigError as err:
            message = str(err)
            leaked = secret in message and what == "syntax error"
            if "\n" in message or leaked or "line" not in message:
                record("config duplicates/syntax", "crashed", f"{what}: {message}")
            else:
                record("config duplicates/syntax", "refused")
            continue
        except Exception as err:
            record("config duplicates/syntax", "crashed", f"{what}: {type(err).__name__}")
            continue
        record("config duplicates/syntax", "accepted", f"{what}: {path.read_text()!r}")
    verify(minimum=2)


def _alias_bomb(width: int, levels: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    shape=st.sampled_from(["bomb", "recursive", "flow depth", "block depth"]),
    size=st.integers(2, 12),
)
def test_hostile_yaml_is_refused_in_one_line(tmp_path_factory: Any, shape: str, size: int) -> None:
    """Issue 21: a 1 KB alias bomb ran `run --check` for 130 s to 2 GiB; recursive aliases and
    deep nesting ended in a RecursionError traceback."""
    text = {
        "bomb": _alias_bomb(size, 12),
        "recursive": f"cameras: &r [{', '.join(['*r'] * size)}]\n",
        "flow depth": "cameras: " + "[" * (size * 500) + "]" * (size * 500) + "\n",
        "block depth": "".join(" " * i + "k:\n" for i in range(size * 20)),
    }[shape]
    path: Path = tmp_path_factory.mktemp("hostile") / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as err:
        outcome = "refused" if "\n" not in str(err) else "crashed"
        record("config hostile yaml", outcome, f"{shape} {size}: {err}")
    except Exception as err:  # RecursionError, MemoryError...
        record("config hostile yaml", "crashed", f"{shape} {size}: {type(err).__name__}")
    else:
        record("config hostile yaml", "accepted", f"{shape} {size}")
    verify()


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(["interval", "max_age", "roi", "port", "alias"]),
    secret=st.text(alphabet="abcdefXYZ123-_", min_size=8, max_size=16),
)
def test_a_secret_in_the_wrong_place_is_never_echoed(
    tmp_path_factory: Any, field: str, secret: str
) -> None:
    """Issue 21: a password in a number field, or starting with `*`, came back in the error."""
    secret = f"pw{secret}"  # never a number
    text = {
        "interval": f"cameras:\n- id: a\n  file: x\n  interval: {secret}\n",
        "max_age": f"cameras:\n- id: a\n  file: x\n  max_age: {secret}\n",
        "roi": f"cameras:\n- id: a\n  file: x\n  roi: {secret}\n",
        "port": f"mqtt:\n  host: b\n  port: {secret}\n",
        "alias": f"mqtt:\n  host: b\n  password: *{secret}\n",
    }[field]
    path: Path = tmp_path_factory.mktemp("echo") / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as err:
        leaked = secret in str(err) or "\n" in str(err)
        record("config secrets in errors", "crashed" if leaked else "refused", str(err))
    except Exception as err:
        record("config secrets in errors", "crashed", f"{field}: {type(err).__name__}")
    else:
        record("config secrets in errors", "accepted", field)
    verify()
