"""What HACS requires of a `zip_release` integration, as checks returning problems.

Sources (hacs/integration, read for these rules, no code taken):
- custom_components/hacs/utils/validate.py, HACS_MANIFEST_JSON_SCHEMA: hacs.json keys are
  name (required, str), content_in_root, zip_release, hide_default_branch, render_readme
  (bool), filename, hacs, homeassistant, persistent_directory (str), country; any other key
  fails (extra=PREVENT_EXTRA). INTEGRATION_MANIFEST_JSON_SCHEMA: manifest.json needs
  codeowners, documentation, domain, issue_tracker, name, version.
- custom_components/hacs/repositories/base.py, download_zip_files/async_download_zip_file:
  with zip_release and filename set, HACS downloads the release asset
  `releases/download/<tag>/<filename>` and extracts it into the integration's local path,
  `<config>/custom_components/<domain>/`; every member must resolve inside that folder.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

BOOL_KEYS = {"content_in_root", "zip_release", "hide_default_branch", "render_readme"}
STR_KEYS = {"filename", "hacs", "homeassistant", "persistent_directory", "name"}
HACS_KEYS = BOOL_KEYS | STR_KEYS | {"country"}
MANIFEST_REQUIRED = {"codeowners", "documentation", "domain", "issue_tracker", "name", "version"}


def hacs_json_problems(hacs: dict[str, Any]) -> list[str]:
    problems = [f"hacs.json: unknown key {key!r}" for key in sorted(set(hacs) - HACS_KEYS)]
    if not isinstance(hacs.get("name"), str):
        problems.append("hacs.json: name (a string) is required")
    problems += [
        f"hacs.json: {key} must be a boolean"
        for key in sorted(BOOL_KEYS & set(hacs))
        if not isinstance(hacs[key], bool)
    ]
    problems += [
        f"hacs.json: {key} must be a string"
        for key in sorted(STR_KEYS & set(hacs))
        if not isinstance(hacs[key], str)
    ]
    if hacs.get("zip_release") and not str(hacs.get("filename", "")).endswith(".zip"):
        problems.append("hacs.json: zip_release needs filename, the release asset's .zip name")
    return problems


def _member_problem(name: str) -> str | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        return f"{name}: would land outside custom_components/<domain>/"
    if path.parts[0] in ("custom_components", "garagecam"):
        return f"{name}: a wrapper folder (HACS extracts the zip's root into the domain folder)"
    if "__pycache__" in path.parts or path.suffix == ".pyc":
        return f"{name}: compiled cache in the release"
    return None


def zip_problems(archive: Path, domain: str) -> list[str]:
    """What keeps HACS from installing `archive` as the integration `domain`."""
    with zipfile.ZipFile(archive) as zf:
        names = [info.filename for info in zf.infolist() if not info.is_dir()]
        problems = [p for p in map(_member_problem, names) if p is not None]
        for needed in ("manifest.json", "__init__.py"):
            if needed not in names:
                problems.append(f"{needed} is not at the zip's root")
        if "manifest.json" in names:
            manifest = json.loads(zf.read("manifest.json"))
            missing = sorted(MANIFEST_REQUIRED - set(manifest))
            if missing:
                problems.append(f"manifest.json lacks {', '.join(missing)}")
            if manifest.get("domain") != domain:
                problems.append(f"manifest.json domain {manifest.get('domain')!r} != {domain!r}")
    return problems
