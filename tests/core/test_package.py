"""The package: nothing heavy is imported by `import garagecam_core`, and its wheel and sdist
ship the licence and the metadata PyPI shows."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("torch", "executorch", "torchao", "paho", "matplotlib", "onnxruntime", "homeassistant")


def test_import_and_help_do_not_pull_heavy_dependencies() -> None:
    code = (
        "import json, sys, contextlib, io\n"
        "import garagecam_core, garagecam_core.metadata, garagecam_core.debounce\n"
        "import garagecam_core.engine, garagecam_core.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        garagecam_core.cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


ROOT = Path(__file__).resolve().parents[2]
# The canonical Apache License 2.0 text (apache.org's LICENSE-2.0.txt, Debian's
# /usr/share/common-licenses/Apache-2.0), which GitHub and HACS recognise as such.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
# Left out of the copy the distributions are built from: VCS data, environments, caches and
# build outputs; everything else is copied so that the build sees the project as it is.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    "site",
    ".*_cache",
    ".hypothesis",
    ".coverage*",
)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and wheel of garagecam-core, each built by its PEP 517 hook in a fresh process
    as pip does, from a copy of the checkout (a build writes `build/` and `*.egg-info`)."""
    source = tmp_path_factory.mktemp("source") / "garagecam"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    built = {}
    for kind in ("sdist", "wheel"):
        code = (
            "import sys, setuptools.build_meta as backend\n"
            f"name = backend.build_{kind}({str(out)!r})\n"
            "print('BUILT', name)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        built[kind] = out / result.stdout.rsplit("BUILT ", 1)[1].strip()
    return built


def project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def test_license_is_the_apache_2_text() -> None:
    assert project()["license"] == "Apache-2.0"
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


@pytest.mark.slow  # builds the wheel and the sdist
def test_wheel_ships_the_license_and_metadata(dists: dict[str, Path]) -> None:
    version = project()["version"]
    dist_info = f"garagecam_core-{version}.dist-info"
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        assert wheel.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
    check_core_metadata(metadata)


@pytest.mark.slow  # builds the wheel and the sdist
def test_sdist_ships_the_license_and_metadata(dists: dict[str, Path]) -> None:
    top = f"garagecam_core-{project()['version']}"
    with tarfile.open(dists["sdist"]) as sdist:
        license_file = sdist.extractfile(f"{top}/LICENSE")
        pkg_info = sdist.extractfile(f"{top}/PKG-INFO")
        assert license_file is not None and pkg_info is not None
        assert license_file.read() == (ROOT / "LICENSE").read_bytes()
        check_core_metadata(pkg_info.read().decode())


def check_core_metadata(metadata: str) -> None:
    """What PyPI shows: licence, supported Pythons and the project's links."""
    fields = [
        tuple(line.split(": ", 1)) for line in metadata.split("\n\n", maxsplit=1)[0].splitlines()
    ]
    assert ("License-Expression", "Apache-2.0") in fields
    assert ("License-File", "LICENSE") in fields
    classifiers = {value for name, value in fields if name == "Classifier"}
    for minor in range(11, 15):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    urls = dict(value.split(", ", 1) for name, value in fields if name == "Project-URL")
    assert urls == {
        "Homepage": "https://github.com/garagecam/garagecam",
        "Source": "https://github.com/garagecam/garagecam",
        "Documentation": "https://garagecam.github.io/garagecam/",
        "Issues": "https://github.com/garagecam/garagecam/issues",
    }
