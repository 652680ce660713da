"""The structure of docs/design.md, beyond what the import contracts check.

`lint-imports` (scripts/test.sh) checks the contracts in pyproject.toml; these tests keep the
contracts complete (every module directly under garagecam_core/ is library or app, so a new
one cannot slip past them) and the production functions short.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 80
#: production code, by the Python it is written for (custom_components: Home Assistant's 3.13+)
PRODUCTION = {
    "garagecam_core": (3, 11),
    "custom_components/garagecam": (3, 13),
    "scrypted/src": (3, 11),
    "runtime/src": (3, 11),
    "addon/garagecam_addon": (3, 11),
}


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def short_names(modules: list[str]) -> list[str]:
    return [m.removeprefix("garagecam_core.") for m in modules]


def top_level_modules(package: Path) -> set[str]:
    """The modules and packages directly in `package` (data folders such as models/ are not)."""
    names = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return names


def test_every_module_is_library_or_app() -> None:
    library_contract = contracts()["library"]
    library = short_names(library_contract["source_modules"])
    apps = short_names(library_contract["forbidden_modules"])
    assert not set(library) & set(apps), "a module is both library and app"
    present = top_level_modules(ROOT / "garagecam_core")
    unclassified = sorted(present - set(library) - set(apps))
    assert not unclassified, (
        f"garagecam_core modules neither library nor app: {unclassified}; add each to the "
        "'library' contract in pyproject.toml (source_modules if it is library, "
        "forbidden_modules if it is an app), then redraw the picture: "
        ".venv/bin/python docs/layers.py"
    )
    assert sorted((set(library) | set(apps)) - present) == [], "a classified module is gone"


def test_the_contracts_name_the_same_apps() -> None:
    """The wrappers' contract forbids every app; the layers contract orders every app."""
    by_id = contracts()
    apps = set(by_id["library"]["forbidden_modules"])
    assert set(by_id["wrappers"]["forbidden_modules"]) == apps
    layered = {
        f"garagecam_core.{name.strip()}"
        for layer in by_id["apps"]["layers"]
        for name in layer.replace(":", "|").split("|")
    }
    assert layered == apps


def test_top_level_modules_lists_modules_and_packages(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "plain.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "data").mkdir()  # no __init__.py: a data folder, not a module
    (tmp_path / "data" / "x.py").write_text("")
    assert top_level_modules(tmp_path) == {"plain", "pkg"}


def test_the_layers_picture_is_drawn_from_the_contracts() -> None:
    """docs/images/layers.svg is what docs/layers.py draws from today's contracts."""
    spec = importlib.util.spec_from_file_location("layers", ROOT / "docs" / "layers.py")
    assert spec is not None and spec.loader is not None
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    drawn = layers.render(layers.contracts())
    committed = (ROOT / "docs" / "images" / "layers.svg").read_text(encoding="utf-8")
    assert committed == drawn, "run .venv/bin/python docs/layers.py and commit the SVG"
    assert "<script" not in drawn and "http" not in drawn.replace(
        "http://www.w3.org/2000/svg", ""
    ), "the picture must render offline (no script, no link)"


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`path:line name (n lines)` for each function longer than `limit` lines, from `def` to
    its last line (docstring and comments included: they are read too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{path}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_long_functions_are_found(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    source = tmp_path / "m.py"
    source.write_text(f"def ok():\n{body}\n\nasync def long():\n{body}\n    x = 0\n")
    assert long_functions(source) == [f"{source}:82 long (81 lines)"]


@pytest.mark.parametrize("folder", sorted(PRODUCTION))
def test_no_production_function_over_80_lines(folder: str) -> None:
    if sys.version_info < PRODUCTION[folder]:
        # its syntax is newer than this Python; the Python 3.13 run of this test checks it
        pytest.skip(f"{folder} is Python {PRODUCTION[folder]} code")
    found = [f for path in sorted((ROOT / folder).rglob("*.py")) for f in long_functions(path)]
    assert not found, "split these functions:\n" + "\n".join(found)
