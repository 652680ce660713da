"""The integration zip HACS downloads: built the way the release workflow builds it
(scripts/build_hacs_zip.py) and checked against HACS's rules (tests/install/hacs_rules.py),
and the release workflow's order: PyPI first, then what points at it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.install.hacs_rules import hacs_json_problems, zip_problems

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
_spec = importlib.util.spec_from_file_location("build_hacs_zip", ROOT / "scripts/build_hacs_zip.py")
assert _spec is not None and _spec.loader is not None
build_hacs_zip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_hacs_zip)


def _hacs() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    return loaded


def _version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@pytest.fixture(scope="module")
def release_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hacs")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_hacs_zip.py"), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(done.stdout.strip())


def test_hacs_json_follows_hacs_schema() -> None:
    hacs = _hacs()
    assert hacs_json_problems(hacs) == []
    assert hacs["zip_release"] is True
    assert hacs["filename"] == "garagecam.zip"


def test_the_schema_check_catches_what_hacs_refuses() -> None:
    assert hacs_json_problems({"name": "x", "domains": ["garagecam"]}) == [
        "hacs.json: unknown key 'domains'"
    ]
    assert hacs_json_problems({"name": "x", "zip_release": True}) == [
        "hacs.json: zip_release needs filename, the release asset's .zip name"
    ]
    assert hacs_json_problems({"zip_release": "yes", "filename": "a.zip"}) == [
        "hacs.json: name (a string) is required",
        "hacs.json: zip_release must be a boolean",
    ]


def test_the_zip_is_named_by_hacs_json_and_holds_the_integration_at_its_root(
    release_zip: Path,
) -> None:
    assert release_zip.name == _hacs()["filename"]
    assert zip_problems(release_zip, "garagecam") == []
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "custom_components/garagecam"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    with zipfile.ZipFile(release_zip) as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert names == sorted(str(Path(p).relative_to("custom_components/garagecam")) for p in tracked)
    assert "translations/en.json" in names and "brand/icon.png" in names
    assert manifest["version"] == _version()
    assert manifest["requirements"] == [f"garagecam-core=={_version()}"]


def test_the_layout_check_catches_a_wrapper_folder(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(wrapped, "w") as archive:
        archive.writestr("garagecam/manifest.json", '{"domain": "garagecam"}')
        archive.writestr("garagecam/__init__.py", "")
        archive.writestr("../evil.py", "")
    assert zip_problems(wrapped, "garagecam") == [
        "garagecam/manifest.json: a wrapper folder (HACS extracts the zip's root into the "
        "domain folder)",
        "garagecam/__init__.py: a wrapper folder (HACS extracts the zip's root into the "
        "domain folder)",
        "../evil.py: would land outside custom_components/<domain>/",
        "manifest.json is not at the zip's root",
        "__init__.py is not at the zip's root",
    ]


def test_extracted_as_hacs_does_it_is_the_integration(release_zip: Path, tmp_path: Path) -> None:
    target = tmp_path / "config" / "custom_components" / "garagecam"
    with zipfile.ZipFile(release_zip) as archive:
        archive.extractall(target)
    source = ROOT / "custom_components" / "garagecam"
    for path in target.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (source / path.relative_to(target)).read_bytes()
    assert (target / "manifest.json").is_file() and (target / "__init__.py").is_file()


def test_the_same_sources_give_the_same_zip(release_zip: Path, tmp_path: Path) -> None:
    assert build_hacs_zip.build(tmp_path).read_bytes() == release_zip.read_bytes()


def _workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return loaded


def _needs(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs", [])
    return {needs} if isinstance(needs, str) else set(needs)


def test_release_publishes_to_pypi_before_anything_points_at_it() -> None:
    jobs = _workflow("release.yml")["jobs"]
    assert jobs["runtime"]["uses"] == "./.github/workflows/wheels.yml"
    assert _needs(jobs["pypi"]) == {"core", "runtime"}
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}  # trusted publishing
    assert _needs(jobs["github-release"]) == {"pypi"}
    assert _needs(jobs["addon-init"]) == {"pypi"}
    assert _needs(jobs["addon-images"]) == {"addon-init"}
    runs = [step.get("run", "") for step in jobs["core"]["steps"]]
    assert any("scripts/build_hacs_zip.py" in run for run in runs)
    build = next(s for s in jobs["addon-images"]["steps"] if "build-image" in s.get("uses", ""))
    assert build["uses"].startswith("home-assistant/builder/actions/build-image@")
    assert build["with"]["context"] == "addon"


def test_runtime_wheels_cover_both_architectures_and_python_3_11_to_3_14() -> None:
    workflow = _workflow("wheels.yml")
    assert "workflow_call" in workflow[True]  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["build"]
    assert {entry["arch"] for entry in job["strategy"]["matrix"]["include"]} == {
        "x86_64",
        "aarch64",
    }
    cibw = next(s for s in job["steps"] if "cibuildwheel" in s.get("uses", ""))
    assert cibw["env"]["CIBW_BUILD"].split() == ["cp311-*", "cp312-*", "cp313-*", "cp314-*"]
