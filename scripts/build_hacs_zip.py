"""Build the integration zip HACS installs (hacs.json: zip_release, filename).

Usage: python scripts/build_hacs_zip.py OUT_DIR  ->  OUT_DIR/<hacs.json filename>

HACS downloads the release asset named by hacs.json's `filename` and extracts it into
`custom_components/<domain>/`, so the zip's root holds the integration's own files
(manifest.json, __init__.py, ...), never a `custom_components/` or `garagecam/` folder.
The release workflow and tests/install run this same script. Only the files git tracks
are packed (no __pycache__, no editor or test leftovers); outside a git checkout (an
unpacked sdist) every file but caches is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = Path("custom_components") / "garagecam"
# a fixed timestamp: the same sources give the same zip, byte for byte
EPOCH = (2020, 1, 1, 0, 0, 0)


def integration_files(root: Path = ROOT) -> list[Path]:
    """The integration's files, relative to its folder, sorted."""
    folder = root / INTEGRATION
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", str(INTEGRATION)],  # noqa: S607
            capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
        paths = [root / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(p.relative_to(folder) for p in paths if p.is_file())


def build(out_dir: Path, root: Path = ROOT) -> Path:
    """Write the zip named by hacs.json into `out_dir` and return its path."""
    hacs = json.loads((root / "hacs.json").read_text(encoding="utf-8"))
    if not hacs.get("zip_release") or not str(hacs.get("filename", "")).endswith(".zip"):
        raise SystemExit("hacs.json: zip_release must be true and filename end in .zip")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / str(hacs["filename"])
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in integration_files(root):
            info = zipfile.ZipInfo(relative.as_posix(), EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / INTEGRATION / relative).read_bytes())
    return target


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: build_hacs_zip.py OUT_DIR", file=sys.stderr)
        return 2
    print(build(Path(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
