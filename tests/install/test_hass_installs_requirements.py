"""The path a HACS user's Home Assistant takes, minus GitHub: the integration from the release
zip, its requirement installed by Home Assistant itself from a package index, an entry set up.

A real `hass` process (Home Assistant from the ha-newest venv, Python 3.14, in the Debian sid
tree) runs from a fresh venv that holds Home Assistant and its own dependencies but no
GarageCam package. The index is tests/install/simple_index.py on 127.0.0.1 with the wheels
this checkout builds: garagecam-core (`pip wheel --no-deps .`) and garagecam-runtime (the
cp314 wheel setup.sh built, under $GARAGECAM_WHEELS). Home Assistant's requirements installer
(homeassistant/util/package.py: `python -m uv pip install --index-strategy
unsafe-first-match`) gets it as an extra index through UV_EXTRA_INDEX_URL, the variable
Home Assistant's own container uses for its wheels index; uv asks extra indexes first, so
garagecam-core comes from here and the core's dependencies Home Assistant already has (numpy,
pillow, aiohttp, ...) are resolved against PyPI, the default index.

Then, as docs/home-assistant.md tells a Core user: with only the core, the flow offers Remote
only; `pip install "garagecam-core[runtime]==X"` into Home Assistant's venv and a restart
make it offer Local, and a Local entry on the demo model classifies the camera's frames.
Run: ha_harness ha-newest -m pytest -p no:homeassistant tests/install (scripts/test.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from garagecam_core.scenes import generate_scene
from tests.install.simple_index import SimpleIndex

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PY_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
STARTUP_TIMEOUT = 180.0  # a cold Home Assistant start on a busy 2-core machine
# the test camera: a YAML platform serving one JPEG file as camera.garage
CAMERA_MANIFEST = {
    "domain": "garagecam_test_camera",
    "name": "GarageCam test camera",
    "version": "1.0.0",
    "documentation": "https://example.invalid",
    "codeowners": [],
    "dependencies": ["camera"],
    "requirements": [],
    "iot_class": "local_polling",
}
CAMERA_PLATFORM = """
from pathlib import Path
from homeassistant.components.camera import Camera


async def async_setup_platform(hass, config, async_add_entities, discovery_info=None):
    async_add_entities([FileCamera(Path(config["file"]))])


class FileCamera(Camera):
    _attr_name = "Garage"

    def __init__(self, path):
        super().__init__()
        self._path = path

    async def async_camera_image(self, width=None, height=None):
        return await self.hass.async_add_executor_job(self._path.read_bytes)
"""


def _run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=True, **kwargs
    )


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """garagecam-core built from this checkout, plus the runtime wheel for this Python."""
    out = tmp_path_factory.mktemp("wheels")
    source = tmp_path_factory.mktemp("source")  # a copy: the build leaves build/ behind
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "garagecam_core", source / "garagecam_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source)
    wheels = Path(os.environ.get("GARAGECAM_WHEELS", ROOT / "build" / "wheels"))
    found = sorted(wheels.rglob(f"garagecam_runtime-*-{PY_TAG}-{PY_TAG}-*.whl"))
    if not found:
        pytest.fail(
            f"no garagecam-runtime {PY_TAG} wheel under {wheels}: run ./scripts/setup.sh",
            pytrace=False,
        )
    shutil.copy2(found[-1], out)
    assert sorted(p.name.split("-")[0] for p in out.glob("*.whl")) == [
        "garagecam_core",
        "garagecam_runtime",
    ]
    return out


@pytest.fixture(scope="module")
def index(wheelhouse: Path) -> Iterator[SimpleIndex]:
    with SimpleIndex(wheelhouse) as served:
        yield served


def _fresh_venv(path: Path) -> Path:
    """A venv with Home Assistant's packages (hard links to the harness venv's files, so
    nothing done here touches that venv) and no GarageCam package: what a Home Assistant
    Core install looks like before HACS."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    _run(Path(sys.base_prefix) / "bin" / f"python{version}", "-m", "venv", path)
    site = Path(sysconfig.get_paths()["purelib"])
    fresh = path / "lib" / f"python{version}" / "site-packages"
    for entry in site.iterdir():
        if entry.name.lower().startswith(("garagecam", "__editable__", "pip")):
            continue
        if entry.is_dir():
            shutil.copytree(entry, fresh / entry.name, copy_function=os.link, symlinks=True)
        else:
            os.link(entry, fresh / entry.name)
    os.link(Path(sys.prefix) / "bin" / "uv", path / "bin" / "uv")  # `python -m uv` runs it
    return path / "bin" / "python"


def _config_dir(path: Path, port: int, frame: Path) -> Path:
    (path / "custom_components").mkdir(parents=True)
    camera = path / "custom_components" / "garagecam_test_camera"
    camera.mkdir()
    (camera / "__init__.py").write_text('"""A file camera for the install test."""\n')
    (camera / "manifest.json").write_text(json.dumps(CAMERA_MANIFEST))
    (camera / "camera.py").write_text(CAMERA_PLATFORM)
    (path / "configuration.yaml").write_text(
        f"""
homeassistant:
  name: Install test
  unit_system: metric
  time_zone: UTC
http:
  server_host: 127.0.0.1
  server_port: {port}
onboarding:
config:
logger:
  default: warning
  logs:
    homeassistant.util.package: info
    homeassistant.requirements: info
camera:
  - platform: garagecam_test_camera
    file: {frame}
"""
    )
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Hass:
    python: Path
    config: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.config / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.python), "-m", "homeassistant", "--config", str(self.config),
             "--log-no-color"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.config,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hass exited {self.process.returncode}:\n{self.log()}")
            try:
                self.request("GET", "/api/onboarding", auth=False)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(1)
        raise AssertionError(f"hass did not answer in {STARTUP_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        path = self.config / "home-assistant.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-6000:] + (self.config / "stdout.log").read_text(errors="replace")[-3000:]

    def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = True, form: bool = False
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data, headers, method=method)
        with urllib.request.urlopen(req, timeout=300) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def onboard(self) -> None:
        """The owner account through the onboarding API, then a token for the REST API."""
        client = f"{self.base}/"
        user = self.request(
            "POST", "/api/onboarding/users",
            {"client_id": client, "name": "Owner", "username": "owner",
             "password": "install-test-pw", "language": "en"},
            auth=False,
        )  # fmt: skip
        tokens = self.request(
            "POST", "/auth/token",
            {"grant_type": "authorization_code", "code": user["auth_code"], "client_id": client},
            auth=False, form=True,
        )  # fmt: skip
        self.token = tokens["access_token"]

    def flow_step(self, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", f"/api/config/config_entries/flow/{flow_id}", data
        )
        return result


def _mode_options(step: dict[str, Any]) -> list[str]:
    assert step["type"] == "form" and step["step_id"] == "mode", step
    (field,) = step["data_schema"]
    return list(field["selector"]["select"]["options"])


def _imports_garagecam(python: Path, cwd: Path) -> list[bool]:
    probe = (
        "import importlib.util as u; "
        "print(*(u.find_spec(m) is not None for m in ('garagecam_core', 'garagecam_runtime')))"
    )
    out = _run(python, "-c", probe, cwd=cwd, env={"PATH": "/usr/bin:/bin"}).stdout.split()
    return [word == "True" for word in out]


@pytest.fixture
def hass(tmp_path: Path, index: SimpleIndex) -> Iterator[Hass]:
    python = _fresh_venv(tmp_path / "venv")
    assert _imports_garagecam(python, tmp_path) == [False, False]
    frame = tmp_path / "frame.jpg"
    # a generated garage like those the demo model learnt from: door open, car inside
    frame.write_bytes(
        generate_scene(11, 0, sizes=((1280, 720),), door_open=True, car_present=True).jpeg
    )
    port = _free_port()
    config = _config_dir(tmp_path / "config", port, frame)
    # the integration exactly as HACS installs it: the release zip, extracted
    built = _run(sys.executable, ROOT / "scripts" / "build_hacs_zip.py", tmp_path / "dist")
    zip_path = Path(built.stdout.strip())
    shutil.unpack_archive(zip_path, config / "custom_components" / "garagecam")
    env = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "UV_EXTRA_INDEX_URL": index.url,
    }
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "NO_PROXY"):
        if name in os.environ:  # how this machine reaches PyPI
            env[name] = os.environ[name]
    server = Hass(python, config, port, env)
    try:
        yield server
    finally:
        server.stop()


def test_hass_installs_the_requirement_from_the_index_and_sets_up_a_local_entry(
    hass: Hass, index: SimpleIndex, tmp_path: Path
) -> None:
    hass.start()
    hass.onboard()
    # Starting the flow loads the integration with its requirements: Home Assistant runs
    # uv itself, which fetches garagecam-core from our index.
    step = hass.request("POST", "/api/config/config_entries/flow", {"handler": "garagecam"})
    assert step["type"] == "form" and step["step_id"] == "user", step
    assert "GET /simple/garagecam-core/" in index.requests
    assert f"GET /files/garagecam_core-{VERSION}-py3-none-any.whl" in index.requests
    assert f"Attempting install of garagecam-core=={VERSION}" in hass.log()
    assert _imports_garagecam(hass.python, tmp_path) == [True, False]
    # The core alone: no runtime binding, so Remote is the only mode offered.
    assert _mode_options(hass.flow_step(step["flow_id"], {"camera": "camera.garage"})) == ["remote"]
    hass.request("DELETE", f"/api/config/config_entries/flow/{step['flow_id']}")
    hass.stop()

    # docs/home-assistant.md, Local mode: the [runtime] extra into Home Assistant's venv.
    _run(
        hass.python, "-m", "pip", "install", "-q", "--extra-index-url", index.url,
        f"garagecam-core[runtime]=={VERSION}", env=hass.env,
    )  # fmt: skip
    assert _imports_garagecam(hass.python, tmp_path) == [True, True]
    assert any(p.startswith("GET /files/garagecam_runtime-") for p in index.requests)

    hass.start()
    step = hass.request("POST", "/api/config/config_entries/flow", {"handler": "garagecam"})
    mode = hass.flow_step(step["flow_id"], {"camera": "camera.garage"})
    assert _mode_options(mode) == ["local", "remote"]
    model = hass.flow_step(step["flow_id"], {"mode": "local"})
    assert model["step_id"] == "model", model
    confirm = hass.flow_step(step["flow_id"], {"model": "demo", "scan_interval": 5})
    assert confirm["step_id"] == "confirm", confirm
    created = hass.flow_step(step["flow_id"], {})
    assert created["type"] == "create_entry", created
    entries = hass.request("GET", "/api/config/config_entries/entry?domain=garagecam")
    assert [e["state"] for e in entries] == ["loaded"], entries
    assert _binary_states(hass) == {"door_open": "on", "car_present": "on"}


def _binary_states(hass: Hass) -> dict[str, str]:
    """The entry's binary sensors (one per label) once the debouncer has decided them."""
    deadline = time.monotonic() + 120
    found: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = hass.request("GET", "/api/states")
        found = {
            label: state["state"]
            for state in states
            for label in ("door_open", "car_present")
            if state["entity_id"].startswith("binary_sensor.") and label in state["entity_id"]
        }
        if len(found) == 2 and set(found.values()) <= {"on", "off"}:
            return found
        time.sleep(2)
    return found
