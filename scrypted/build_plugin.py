#!/usr/bin/env python3
"""Build dist/plugin.zip for Scrypted without webpack.

The layout is the one `scrypted-webpack` (npm @scrypted/sdk, `bin/scrypted-webpack.js`, the
branch taken when `src/main.py` exists) writes for Python plugins:

- `README.md` at the root (when present);
- everything under `src/` at the root: `main.py`, `requirements.txt`, our package;
- `scrypted_sdk/`: the SDK's Python files from `<@scrypted/sdk>/types/scrypted_python/`;
- `fs/`: the plugin's `fs/` folder (its working directory on the server), if any.

Directory entries are written for every sub-folder below those roots, as adm-zip does.
Two deliberate differences: `__pycache__`/`*.pyc` are left out (scrypted-webpack copies
whatever bytecode lies in `src/`), and the zip is reproducible (fixed timestamps, sorted).

Usage: python3 build_plugin.py [--sdk DIR] [--out dist/plugin.zip] [--model FILE.pte ...]
                                [--find-links DIR_OR_URL ...]
`--model` adds model files to `fs/` inside the zip, next to the plugin's working directory.
`--find-links` adds `--find-links` lines to the zip's requirements.txt, so the server's
`pip install -r requirements.txt --target ...` also looks for wheels there (garagecam-core and
garagecam-runtime before they are on PyPI, or an offline server); GARAGECAM_FIND_LINKS
(comma-separated) gives them too, e.g. to `npm run scrypted-deploy`, which builds first.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDK_IN_NODE_MODULES = Path("node_modules/@scrypted/sdk/types/scrypted_python/scrypted_sdk")
_STAMP = (2020, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_DIR_MODE = 0o040755 << 16


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def _walk(folder: Path, prefix: str) -> Iterator[tuple[str, Path | None]]:
    """(zip name, file) for every file and (zip name/, None) for every sub-folder."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if _skip(relative):
            continue
        name = prefix + relative.as_posix()
        if path.is_dir():
            yield name + "/", None
        elif path.is_file():
            yield name, path


def plugin_entries(
    plugin_dir: Path, sdk_dir: Path, models: Sequence[Path] = ()
) -> dict[str, Path | None]:
    src = plugin_dir / "src"
    if not (src / "main.py").is_file():
        raise SystemExit(f"error: {src / 'main.py'} is missing: not a Python Scrypted plugin")
    if not (sdk_dir / "__init__.py").is_file():
        raise SystemExit(
            f"error: no Scrypted SDK Python files in {sdk_dir}: run `npm ci` in {plugin_dir} "
            "(it installs @scrypted/sdk, whose scrypted_sdk/ every Python plugin bundles) "
            "or pass --sdk DIR"
        )
    entries: dict[str, Path | None] = {}
    readme = plugin_dir / "README.md"
    if readme.is_file():
        entries["README.md"] = readme
    entries.update(_walk(src, ""))
    entries.update(_walk(sdk_dir, "scrypted_sdk/"))
    fs = plugin_dir / "fs"
    if fs.is_dir():
        entries.update(_walk(fs, "fs/"))
    for model in models:
        if not model.is_file():
            raise SystemExit(f"error: model {model} does not exist")
        entries[f"fs/{model.name}"] = model
    return entries


def with_find_links(requirements: bytes, links: Sequence[str]) -> bytes:
    """requirements.txt with `--find-links` lines first (pip reads options in the file)."""
    for link in links:
        if not link or any(c.isspace() for c in link):
            raise SystemExit(f"error: --find-links {link!r}: give one folder or URL without spaces")
    head = "".join(f"--find-links {link}\n" for link in links)
    return head.encode() + requirements


def write_zip(
    entries: dict[str, Path | None], out: Path, replace: dict[str, bytes] | None = None
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries, key=str.lower):
            path = entries[name]
            info = zipfile.ZipInfo(name, _STAMP)
            if path is None:
                info.external_attr = _DIR_MODE
                archive.writestr(info, b"")
            else:
                info.external_attr = _FILE_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (replace or {}).get(name, path.read_bytes()))
    partial.replace(out)  # never leave a half-written plugin.zip behind


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugin-dir", type=Path, default=HERE)
    parser.add_argument("--sdk", type=Path, help=f"default: <plugin-dir>/{SDK_IN_NODE_MODULES}")
    parser.add_argument("--out", type=Path, help="default: <plugin-dir>/dist/plugin.zip")
    parser.add_argument("--model", type=Path, action="append", default=[])
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL")
    args = parser.parse_args(argv)
    plugin_dir: Path = args.plugin_dir.resolve()
    sdk = args.sdk or plugin_dir / SDK_IN_NODE_MODULES
    out = args.out or plugin_dir / "dist" / "plugin.zip"
    entries = plugin_entries(plugin_dir, sdk, args.model)
    replace = {}
    from_env = os.environ.get("GARAGECAM_FIND_LINKS", "")
    args.find_links += [link.strip() for link in from_env.split(",") if link.strip()]
    if args.find_links:
        requirements = entries.get("requirements.txt")
        if requirements is None:
            raise SystemExit("error: --find-links needs src/requirements.txt")
        replace["requirements.txt"] = with_find_links(requirements.read_bytes(), args.find_links)
    write_zip(entries, out, replace)
    print(f"{out}: {sum(p is not None for p in entries.values())} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
