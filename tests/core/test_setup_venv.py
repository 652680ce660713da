"""scripts/lib/venv.sh: two checkouts over one cached dependencies venv each import their
own code (before, the clone that ran set-up last was the code every clone imported)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pip
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_SH = ROOT / "scripts" / "lib" / "venv.sh"
# The dependencies venv the tests run on: where pip (a dependency, never the project) lives.
DEPS = Path(pip.__file__).resolve().parents[4]

pytestmark = pytest.mark.skipif(
    not (DEPS / "bin" / "python").exists() or shutil.which("bash") is None,
    reason="needs a venv with pip and bash (the set-up's environment)",
)


def _checkout(directory: Path) -> Path:
    """A copy of the project's installable part: what a clone has."""
    directory.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, directory / name)
    shutil.copytree(
        ROOT / "garagecam_core", directory / "garagecam_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    return directory


def _set_up(checkout: Path) -> None:
    script = 'source "$1"; checkout_venv "$2/.venv" "$3" "$2"'
    done = subprocess.run(
        ["bash", "-c", script, "venv", str(VENV_SH), str(checkout), str(DEPS)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def _imports(checkout: Path, *code: str) -> str:
    done = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", ";".join(code)],
        cwd="/", capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("clones")
    first, second = _checkout(base / "first"), _checkout(base / "second")
    _set_up(first)
    _set_up(second)  # after the first: it must not take the first one's venv over
    return first, second


@pytest.mark.slow  # builds two thin venvs
def test_each_checkout_imports_its_own_code(clones: tuple[Path, Path]) -> None:
    for checkout in clones:
        found = _imports(checkout, "import garagecam_core", "print(garagecam_core.__file__)")
        assert Path(found).is_relative_to(checkout), (checkout, found)


@pytest.mark.slow  # builds two thin venvs
def test_the_dependencies_come_from_the_cache(clones: tuple[Path, Path]) -> None:
    found = _imports(clones[0], "import numpy", "print(numpy.__file__)")
    assert Path(found).is_relative_to(DEPS)
    assert not (clones[0] / ".venv" / "lib").joinpath("numpy").exists()


@pytest.mark.slow  # builds two thin venvs
def test_commands_run_the_checkouts_python(clones: tuple[Path, Path]) -> None:
    for checkout in clones:
        bin_dir = checkout / ".venv" / "bin"
        for command in ("garagecam", "pytest"):
            first_line = (bin_dir / command).read_text().splitlines()[0]
            assert first_line == f"#!{bin_dir / 'python'}"
        done = subprocess.run(
            [str(bin_dir / "garagecam"), "--version"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert done.stdout.startswith("garagecam ")


def test_a_link_left_by_an_older_set_up_is_replaced_not_followed(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "old")
    shared = tmp_path / "shared-venv"
    shared.mkdir()
    (shared / "keep").write_text("the shared venv")
    (checkout / ".venv").symlink_to(shared)
    _set_up(checkout)
    assert not (checkout / ".venv").is_symlink()
    assert (shared / "keep").read_text() == "the shared venv"
    found = _imports(checkout, "import garagecam_core", "print(garagecam_core.__file__)")
    assert Path(found).is_relative_to(checkout)
