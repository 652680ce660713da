"""Packaging: package.json, the zip's layout against the real scrypted-webpack, npm pack, and
requirements.txt installed into a `--target` folder the way the Scrypted server does it."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scrypted_sdk import types as sdk_types

from tests.scrypted.conftest import PLUGIN_DIR, ROOT, SDK_DIR

sys.path.insert(0, str(PLUGIN_DIR))
import build_plugin

sys.path.remove(str(PLUGIN_DIR))

WEBPACK = PLUGIN_DIR / "node_modules" / ".bin" / "scrypted-webpack"


def plugin_copy(tmp_path: Path) -> Path:
    """The plugin's sources as a fresh checkout has them (no bytecode, no build output), plus
    an `fs/` folder so that rule of the layout is exercised too."""
    copy = tmp_path / "plugin"
    copy.mkdir()
    for name in ("package.json", "README.md", ".gitignore"):  # .gitignore lists dist/
        shutil.copy(PLUGIN_DIR / name, copy / name)
    shutil.copytree(PLUGIN_DIR / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "fs" / "models").mkdir(parents=True)
    (copy / "fs" / "models" / "note.txt").write_text("kept in the plugin's working directory\n")
    (copy / "fs" / "top.txt").write_text("top\n")
    return copy


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_package_json_declares_a_python_device_provider() -> None:
    package = json.loads((PLUGIN_DIR / "package.json").read_text())
    scrypted = package["scrypted"]
    assert scrypted["runtime"] == "python"
    # The server starts the plugin on this Python (python-worker.ts): Scrypted's Docker images
    # name one in SCRYPTED_PYTHON312_PATH, other installs download it (theirs is 3.10).
    assert scrypted["pythonVersion"] == {"default": "3.12"}
    assert scrypted["type"] in {t.value for t in sdk_types.ScryptedDeviceType}
    interfaces = {i.value for i in sdk_types.ScryptedInterface}
    assert set(scrypted["interfaces"]) <= interfaces
    assert {"DeviceProvider", "DeviceCreator"} <= set(scrypted["interfaces"])
    assert package["files"] == ["dist/plugin.zip", "README.md"]
    assert "scrypted" in package["keywords"]  # how Scrypted's plugin search finds packages
    lock = json.loads((PLUGIN_DIR / "package-lock.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]


def test_zip_layout_matches_scrypted_webpack(tmp_path: Path) -> None:
    assert WEBPACK.exists(), "run `npm ci --prefix scrypted` (installs scrypted-webpack)"
    copy = plugin_copy(tmp_path)
    env = dict(os.environ, NODE_ENV="production")
    subprocess.run([str(WEBPACK)], cwd=copy, env=env, check=True, capture_output=True)
    theirs = entries(copy / "dist" / "plugin.zip")

    ours_path = tmp_path / "ours.zip"
    assert (
        build_plugin.main(
            ["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(ours_path)]
        )
        == 0
    )
    ours = entries(ours_path)

    assert sorted(ours) == sorted(theirs)  # same files and directory entries, same places
    for name, data in theirs.items():
        assert ours[name] == data, name
    # what the server relies on: entry point and requirements at the root, the SDK, fs/
    for name in (
        "main.py",
        "requirements.txt",
        "README.md",
        "scrypted_sdk/__init__.py",
        "fs/top.txt",
    ):
        assert name in ours
    assert "garagecam_scrypted/" in ours and "fs/models/" in ours


def test_zip_is_reproducible_and_leaves_bytecode_out(tmp_path: Path) -> None:
    copy = plugin_copy(tmp_path)
    cache = copy / "src" / "garagecam_scrypted" / "__pycache__"
    cache.mkdir()
    (cache / "camera.cpython-313.pyc").write_bytes(b"stale")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for out in (first, second):
        build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(out)])
    assert first.read_bytes() == second.read_bytes()
    assert not [name for name in entries(first) if "__pycache__" in name or name.endswith(".pyc")]


def test_models_given_to_the_build_land_in_fs(tmp_path: Path) -> None:
    copy = plugin_copy(tmp_path)
    model = tmp_path / "mine.pte"
    model.write_bytes(b"model bytes")
    out = tmp_path / "plugin.zip"
    build_plugin.main(
        ["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(out), "--model", str(model)]
    )
    assert entries(out)["fs/mine.pte"] == b"model bytes"
    with pytest.raises(SystemExit, match="does not exist"):
        build_plugin.main(
            ["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--model", str(tmp_path / "no.pte")]
        )
    with pytest.raises(SystemExit, match="npm ci"):
        build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(tmp_path / "nowhere")])
    assert not (copy / "dist").exists()  # a failed build leaves nothing behind


def test_find_links_go_into_the_zips_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = plugin_copy(tmp_path)
    out = tmp_path / "plugin.zip"
    links = ["--find-links", "/server/volume/wheels", "--find-links", "https://example.org/w/"]
    build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(out), *links])
    requirements = entries(out)["requirements.txt"].decode()
    source = (copy / "src" / "requirements.txt").read_text()
    assert requirements == (
        "--find-links /server/volume/wheels\n--find-links https://example.org/w/\n" + source
    )
    monkeypatch.setenv("GARAGECAM_FIND_LINKS", " /a, https://b/ ,")
    build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(out)])
    assert (
        entries(out)["requirements.txt"]
        .decode()
        .startswith("--find-links /a\n--find-links https://b/\n#")
    )
    with pytest.raises(SystemExit, match="without spaces"):
        build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--find-links", "a b"])


def test_npm_pack_ships_the_zip_and_the_readme(tmp_path: Path) -> None:
    copy = plugin_copy(tmp_path)
    build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR)])
    result = subprocess.run(
        ["npm", "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=copy,
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(result.stdout)
    assert {f["path"] for f in packed["files"]} == {"dist/plugin.zip", "README.md", "package.json"}
    assert packed["name"] == "scrypted-garagecam"


def test_the_zip_alone_provides_the_entry_point(tmp_path: Path) -> None:
    """Unzipped, with only the core installed (as the host does: unzipped path, then the pip
    target, appended to sys.path), `main.create_scrypted_plugin` imports."""
    out = tmp_path / "plugin.zip"
    build_plugin.main(
        ["--plugin-dir", str(plugin_copy(tmp_path)), "--sdk", str(SDK_DIR), "--out", str(out)]
    )
    unzipped = tmp_path / "unzipped"
    zipfile.ZipFile(out).extractall(unzipped)
    code = (
        "import sys; sys.path.append(sys.argv[1]); import main, scrypted_sdk; "
        "assert scrypted_sdk.__file__.startswith(sys.argv[1]), scrypted_sdk.__file__; "
        "assert callable(main.create_scrypted_plugin); print('ok')"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(unzipped)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr


NO_TORCH_CHECK = """
import importlib.util, sys
target, unzipped = sys.argv[1], sys.argv[2]
sys.path.append(unzipped)  # as the Scrypted host: the unzipped plugin, then the pip target
sys.path.append(target)
assert importlib.util.find_spec("torch") is None, "torch is importable"
assert importlib.util.find_spec("executorch") is None, "executorch is importable"
import garagecam_core, garagecam_runtime
assert garagecam_core.__file__.startswith(target), garagecam_core.__file__
from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.scenes import generate_scene
import main  # the plugin's entry point and its imports
with LocalEngine(demo_model_path()) as engine:
    result = engine.classify(generate_scene(1, 1).jpeg)
assert set(result.probabilities) == {"door_open", "car_present"}, result
assert "torch" not in sys.modules and "executorch" not in sys.modules
print("ok")
"""


def test_requirements_install_into_a_target_folder_without_torch(tmp_path: Path) -> None:
    """What the Scrypted server runs: `pip install -r requirements.txt --target <folder>`.

    garagecam-core is built from this checkout; garagecam-runtime comes from the wheel folder
    named by GARAGECAM_WHEELS (set-up builds it: runtime/build_wheel.sh); pip takes the rest
    (numpy, pillow, aiohttp, ...) from that folder or the package index.
    """
    wheels = os.environ.get("GARAGECAM_WHEELS")
    if not wheels or not list(Path(wheels).glob("garagecam_runtime-*.whl")):
        pytest.fail(
            "GARAGECAM_WHEELS must name a folder with a garagecam_runtime wheel for this Python "
            f"(got {wheels!r}); build it with runtime/build_wheel.sh"
        )
    built = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(built), str(ROOT)],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "plugin.zip"
    links = ["--find-links", str(built), "--find-links", wheels]
    copy = plugin_copy(tmp_path)
    build_plugin.main(["--plugin-dir", str(copy), "--sdk", str(SDK_DIR), "--out", str(out), *links])
    unzipped = tmp_path / "unzipped"
    zipfile.ZipFile(out).extractall(unzipped)
    # the server's command (server/python/plugin_pip.py), on the zip's requirements.txt
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    target = tmp_path / f"{version}-{platform.system()}-{platform.machine()}"
    install = subprocess.run(
        [*pip, "install", "-q", "-r", str(unzipped / "requirements.txt"), "--target", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert not (target / "torch").exists() and not (target / "executorch").exists()
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"requirements.txt installs {size / 1e6:.0f} MB into the target folder")

    # -S: no site-packages, so nothing from the test's venv (which has torch) is importable
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", NO_TORCH_CHECK, str(target), str(unzipped)],
        cwd=tmp_path,  # not the checkout: its garagecam_core must not shadow the installed one
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_an_older_python_installs_nothing_and_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that ignores `pythonVersion` (3.10 on non-Docker installs): pip finds nothing
    to install, instead of failing on garagecam-core, and the plugin says why in one line."""
    from packaging.requirements import Requirement

    lines = (PLUGIN_DIR / "src" / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    environment = {"python_version": "3.10", "python_full_version": "3.10.14"}
    assert requirements
    assert not [r.name for r in requirements if r.marker is None or r.marker.evaluate(environment)]
    for version in ("3.11", "3.12"):  # ... while a supported Python still gets the core
        environment = {"python_version": version, "python_full_version": f"{version}.0"}
        assert any(
            r.name == "garagecam-core" and r.marker.evaluate(environment)
            for r in requirements
            if r.marker
        )

    monkeypatch.syspath_prepend(str(PLUGIN_DIR / "src"))
    import main

    assert main.python_problem((3, 11)) is None
    problem = main.python_problem((3, 10))
    assert problem is not None and "\n" not in problem
    assert "Python 3.11 or newer" in problem and "Python 3.10" in problem
    monkeypatch.setattr(main, "python_problem", lambda: problem)
    with pytest.raises(RuntimeError, match=r"^GarageCam needs Python 3\.11 or newer"):
        main.create_scrypted_plugin()
