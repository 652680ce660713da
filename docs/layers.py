"""Draw docs/images/layers.svg, the layers of docs/design.md, from the import contracts.

The picture is made from `[tool.importlinter]` in pyproject.toml (the contracts `lint-imports`
checks), so it shows what is enforced: run `.venv/bin/python docs/layers.py` from the
repository root after changing a contract (standard library only). tests/core/test_structure.py
fails while the committed SVG differs from what this script draws. Plain SVG text, no
script or web font: it renders in the MkDocs site offline and on GitHub.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "layers.svg"

WIDTH = 880
MARGIN = 20
ROW = 30  # one app layer
GAP = 8
LINE = 18  # one line of text in the library box
FONT = "font-family:Helvetica,Arial,sans-serif"
COLOURS = {  # fill, stroke
    "app": ("#dbeafe", "#1d4ed8"),
    "wrapper": ("#ffedd5", "#c2410c"),
    "library": ("#dcfce7", "#15803d"),
    "native": ("#e5e7eb", "#4b5563"),
}
#: how the wrappers' packages are known to a reader
WRAPPER_NAMES = {
    "custom_components.garagecam": ("Home Assistant", "custom_components/garagecam"),
    "garagecam_scrypted": ("Scrypted plugin", "scrypted/src/garagecam_scrypted"),
    "garagecam_addon": ("Home Assistant OS add-on", "addon/garagecam_addon (runs the runner)"),
}


def contracts(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, dict[str, Any]]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _box(x: float, y: float, w: float, h: float, kind: str) -> str:
    fill, stroke = COLOURS[kind]
    return (
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="5" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>'
    )


def _text(x: float, y: float, text: str, size: int = 13, weight: str = "normal") -> str:
    return (
        f'<text x="{x:g}" y="{y:g}" style="{FONT};font-size:{size}px;font-weight:{weight}" '
        f'fill="#111827" text-anchor="middle">{escape(text)}</text>'
    )


def _wrap(names: list[str], width: float, size: int = 13) -> list[str]:
    """Comma-separated names in lines that fit `width` (average glyph ~0.55 em)."""
    limit = int(width / (size * 0.55))
    lines, line = [], ""
    for name in names:
        candidate = f"{line}, {name}" if line else name
        if len(candidate) > limit and line:
            lines.append(line + ",")
            line = name
        else:
            line = candidate
    return [*lines, line] if line else lines


def _app_rows(layers: list[str], x: float, y: float, w: float) -> tuple[list[str], float]:
    """One row per layer, top first; siblings in a layer side by side."""
    parts = []
    for layer in layers:
        names = [n.strip() for n in layer.replace(":", "|").split("|")]
        cell = (w - GAP * (len(names) - 1)) / len(names)
        for i, name in enumerate(names):
            left = x + i * (cell + GAP)
            parts += [_box(left, y, cell, ROW, "app"), _text(left + cell / 2, y + 20, name)]
        y += ROW + GAP
    return parts, y


def render(by_id: dict[str, dict[str, Any]]) -> str:
    library = [m.removeprefix("garagecam_core.") for m in by_id["library"]["source_modules"]]
    wrappers = list(by_id["wrappers"]["source_modules"])
    layers = list(by_id["apps"]["layers"])
    column = (WIDTH - 2 * MARGIN - 3 * GAP) / 2
    left, right = MARGIN, MARGIN + column + 3 * GAP
    top = MARGIN + 26
    parts = [
        _text(left + column / 2, MARGIN + 12, "apps (garagecam_core), top to bottom", 13, "bold"),
        _text(right + column / 2, MARGIN + 12, "wrappers: import only the library", 13, "bold"),
    ]
    rows, bottom = _app_rows(layers, left, top, column)
    parts += rows
    height = (bottom - top - GAP - GAP * (len(wrappers) - 1)) / len(wrappers)
    for i, module in enumerate(wrappers):
        y = top + i * (height + GAP)
        title, path = WRAPPER_NAMES.get(module, (module, module))
        parts += [
            _box(right, y, column, height, "wrapper"),
            _text(right + column / 2, y + height / 2 - 2, title, 14, "bold"),
            _text(right + column / 2, y + height / 2 + 16, path, 12),
        ]
    full = WIDTH - 2 * MARGIN
    lines = _wrap(library, full - 40)
    lib_top = bottom + 14
    lib_height = 30 + LINE * len(lines)
    title = "library (garagecam_core): imports no app and never Home Assistant"
    parts += [
        _box(left, lib_top, full, lib_height, "library"),
        _text(WIDTH / 2, lib_top + 20, title, 14, "bold"),
    ]
    parts += [_text(WIDTH / 2, lib_top + 40 + LINE * i, line) for i, line in enumerate(lines)]
    native_top = lib_top + lib_height + GAP + 6
    parts += [
        _box(left, native_top, full, ROW, "native"),
        _text(WIDTH / 2, native_top + 20, "runtime/ (garagecam-runtime: the ExecuTorch binding)"),
    ]
    names = [c["name"] for c in by_id.values()]
    footer = native_top + ROW + 24
    parts.append(_text(WIDTH / 2, footer, "Imports only go down. Checked by lint-imports:", 12))
    parts += [_text(WIDTH / 2, footer + 16 * (i + 1), n, 12) for i, n in enumerate(names)]
    total = footer + 16 * len(names) + MARGIN
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total:g}" '
            f'viewBox="0 0 {WIDTH} {total:g}" role="img" aria-label="GarageCam layers">',
            f'<rect width="{WIDTH}" height="{total:g}" fill="#ffffff"/>',
            *parts,
            "</svg>",
            "",
        ]
    )


def main() -> int:
    OUT.write_text(render(contracts()), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
