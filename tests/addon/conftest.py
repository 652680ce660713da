"""The add-on installed once per session in an overlay of the bookworm tree, as its image
would be, from this checkout's garagecam-core wheel and the cp311 garagecam-runtime wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.addon.tree import ADDON, INSTALL_DIR, ROOT, VENV, Tree, bookworm_tree

# the entry point is not part of garagecam-core: its tests import it from the add-on folder
sys.path.insert(0, str(ADDON))

RUNTIME_WHEEL = "garagecam_runtime-*-cp311-cp311-linux_x86_64.whl"


@dataclass
class Installed:
    tree: Tree
    version: str
    install_log: str
    venv_kb: int
    tree_kb: int  # the whole tree: base image stand-in, Debian's Python and the venv
    largest: str  # `du` of the venv's largest packages
    packages: list[str]


def addon_config() -> dict[str, object]:
    loaded = yaml.safe_load((ADDON / "config.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _source_copy(directory: Path) -> Path:
    """The package's files as they are in this checkout, in a folder of their own: setuptools
    reuses `build/lib` beside the source, and `build` is shared by every worktree (a link to
    the main checkout's), so a wheel built in place could hold another checkout's modules."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
         "pyproject.toml", "README.md", "LICENSE", "garagecam_core"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # not deleted in the working tree
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return directory


def _wheels(directory: Path) -> Path:
    """This checkout's garagecam-core wheel and setup.sh's runtime wheel for Python 3.11."""
    source = Path(os.environ.get("GARAGECAM_WHEELS", ROOT / "build" / "wheels"))
    runtime = sorted(source.glob(RUNTIME_WHEEL))
    if not runtime:
        pytest.fail(f"no {RUNTIME_WHEEL} in {source}: run ./scripts/setup.sh")
    directory.mkdir()
    (directory / runtime[-1].name).write_bytes(runtime[-1].read_bytes())
    checkout = _source_copy(directory.parent / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(directory), str(checkout)],
        check=True, capture_output=True,
    )  # fmt: skip
    return directory


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if os.geteuid() != 0:
        pytest.fail("the add-on tests enter a Debian tree with chroot: run them as root (CI is)")
    lower = bookworm_tree()
    if not (lower / ".complete").is_file():
        pytest.fail(f"{lower} is missing: run ./scripts/setup.sh (builds the bookworm tree)")
    base = tmp_path_factory.mktemp("addon-tree")
    wheels = _wheels(base / "wheels")
    pip_cache = Path.home() / ".cache" / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    tree = Tree(lower, base / "tree", {"/wheels": wheels, "/root/.cache/pip": pip_cache})
    # the Dockerfile's two COPY lines, then its RUN line
    tree.copy_in(ADDON / "rootfs", "/")
    tree.copy_in(ADDON / "garagecam_addon", f"{INSTALL_DIR}/garagecam_addon")
    version = str(addon_config()["version"])
    done = tree.run(
        [f"{INSTALL_DIR}/install.sh"],
        {"GARAGECAM_VERSION": version, "GARAGECAM_WHEELS": "/wheels"},
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    size = tree.run(["du", "-sk", VENV])
    whole = tree.run(["du", "-skx", "/"])  # -x: not the bind mounts
    site = f"{VENV}/lib/python3.11/site-packages"
    largest = tree.run(["bash", "-c", f"du -sh {site}/* | sort -h | tail -n 8"])
    packages = tree.run([f"{VENV}/bin/python", "-m", "pip", "list", "--format=freeze"])
    tree.binds = {}  # the add-on runs with its own /data and /share (per test)
    yield Installed(
        tree,
        version,
        log,
        venv_kb=int(size.stdout.split()[0]),
        tree_kb=int(whole.stdout.split()[0]),
        largest=largest.stdout,
        packages=packages.stdout.split(),
    )
