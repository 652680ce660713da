"""The voluptuous features the core's config schema relies on, and nothing more.

Inside Home Assistant 2026.9+ `import voluptuous` resolves to Probatio, a reimplementation
of voluptuous' public API. The core keeps to the documented API (module-level names below,
`Invalid.path` / `.error_message`, `MultipleInvalid.errors`) and never touches private
attributes, so its schema behaves the same under both. This test fails when new code reaches
for anything else: add it here only if Probatio documents it too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import voluptuous as vol

import garagecam_core
from garagecam_core.errors import ConfigError
from garagecam_core.runner.config import parse_config

#: documented in voluptuous' README / API reference, provided by Probatio
DOCUMENTED = frozenset(
    {"Schema", "Required", "Optional", "Exclusive", "All", "Any", "In", "Range", "Length",
     "Match", "Invalid", "MultipleInvalid"}
)  # fmt: skip
#: the attributes of errors the core reads
ERROR_ATTRIBUTES = frozenset({"path", "error_message", "errors"})
#: message prefixes `config._error_text` rewords (if one changes, the raw text shows instead)
MESSAGES = (
    "extra keys not allowed",
    "required key not provided",
    "two or more values in the same group of exclusion",
)


def _core_voluptuous_usage() -> tuple[set[str], set[str]]:
    names: set[str] = set()
    private: set[str] = set()
    root = Path(garagecam_core.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "vol"
            ):
                names.add(node.attr)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if node.attr.startswith("__"):
                    continue
                if isinstance(node.value, ast.Name) and node.value.id in {"vol", "err", "e"}:
                    private.add(f"{path.name}: {node.value.id}.{node.attr}")
    return names, private


def test_core_uses_only_documented_voluptuous_names() -> None:
    names, private = _core_voluptuous_usage()
    assert names <= DOCUMENTED, sorted(names - DOCUMENTED)
    assert not private


def test_the_error_attributes_and_messages_we_read() -> None:
    schema = vol.Schema(
        {
            vol.Required("a"): int,
            vol.Exclusive("x", "g"): int,
            vol.Exclusive("y", "g"): int,
        }
    )
    for data, message in (({"b": 1, "a": 1}, MESSAGES[0]), ({}, MESSAGES[1])):
        with pytest.raises(vol.MultipleInvalid) as caught:
            schema(data)
        error = caught.value.errors[0]
        assert error.error_message.startswith(message)
        assert isinstance(error.path, list)
    with pytest.raises(vol.MultipleInvalid) as caught:
        schema({"a": 1, "x": 1, "y": 2})
    assert any(e.error_message.startswith(MESSAGES[2]) for e in caught.value.errors)
    assert {attr for attr in ERROR_ATTRIBUTES if hasattr(caught.value, attr)} == ERROR_ATTRIBUTES


def test_range_exclusive_minimum_and_nested_paths() -> None:
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.interval: value must be higher than 0"):
        parse_config({"cameras": [{"id": "a", "file": "x", "interval": 0}]})
    with pytest.raises(ConfigError, match=r"cameras\[0\]: give only one of snapshot, onvif, file"):
        parse_config({"cameras": [{"id": "a", "file": "x", "snapshot": {"url": "http://c"}}]})
