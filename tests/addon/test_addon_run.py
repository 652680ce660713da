"""The add-on's entry point in the bookworm tree, against a stand-in Supervisor and a real
Mosquitto: the token, the broker, a camera of its own, Remote mode, and bad options."""

from __future__ import annotations

import asyncio
import http.server
import json
import signal
import stat
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.errors import ConfigError
from garagecam_core.runner.config import parse_config
from tests.addon.conftest import Installed, addon_config
from tests.addon.tree import VENV
from tests.core.runner.support import Broker, free_port, fresh_spy, jpeg, running_broker, wait_until
from tests.supervisor_standin import AddonRecord, SupervisorStandIn, installed_slug, running

SUPERVISOR_TOKEN = "c0ffee" * 8  # what the Supervisor would put in SUPERVISOR_TOKEN
REPOSITORY = "https://github.com/garagecam/garagecam"
MQTT_PASSWORD = "broker-pw-7f3a"
CAMERA_PASSWORD = "camera-pw-91b2"


def _runner_takes_ingress_gateway() -> bool:
    """Helper "web" adds `http.ingress_gateway` to the runner; before that branch is merged the
    runner refuses the key, and the add-on is started without it (GARAGECAM_ADDON_INGRESS_GATEWAY
    empty). Printed by test_runner_config_names_the_ingress_gateway."""
    try:
        parse_config({"http": {"ingress_gateway": "172.30.32.2"}})
    except ConfigError:
        return False
    return True


INGRESS_KEY = _runner_takes_ingress_gateway()


@dataclass
class Addon:
    installed: Installed
    supervisor: SupervisorStandIn
    data: Path
    share: Path
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    #: the address ingress requests come from (the Supervisor's is not on this machine)
    ingress_gateway: str | None = None

    def write_options(self, options: dict[str, Any]) -> None:
        (self.data / "options.json").write_text(json.dumps(options))

    def start(self) -> None:
        tree = self.installed.tree
        tree.binds = {"/data": self.data, "/share": self.share}
        env = {
            "SUPERVISOR_TOKEN": SUPERVISOR_TOKEN,
            "GARAGECAM_SUPERVISOR_URL": self.supervisor.url,
            "GARAGECAM_ADDON_HTTP_HOST": "127.0.0.1",
            "GARAGECAM_ADDON_HTTP_PORT": str(self.port),
        }
        if not INGRESS_KEY:
            env["GARAGECAM_ADDON_INGRESS_GATEWAY"] = ""
        elif self.ingress_gateway is not None:
            env["GARAGECAM_ADDON_INGRESS_GATEWAY"] = self.ingress_gateway
        # the image's CMD
        self.process = tree.start([f"{VENV}/bin/python", "-m", "garagecam_addon"], env, self.log)

    def wait_healthy(self) -> None:
        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the add-on exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        assert wait_until(healthy, timeout=90, interval=0.2), self.log.read_text()

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def wait_exit(self) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=120)
        self.process = None
        return code

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.data / "token").read_text().strip()


@pytest.fixture
def make_addon(installed: Installed, tmp_path: Path) -> Iterator[Callable[..., Addon]]:
    started: list[Addon] = []
    stack: list[Any] = []

    def make(mqtt: dict[str, Any] | None = None) -> Addon:
        config = addon_config()
        record = AddonRecord(
            slug=installed_slug(REPOSITORY, str(config["slug"])),
            version=installed.version,
            discovery=list(config["discovery"]),  # type: ignore[call-overload]
            services=list(config["services"]),  # type: ignore[call-overload]
            ingress_port=int(config["ingress_port"]),  # type: ignore[call-overload]
        )
        context = running(SupervisorStandIn(SUPERVISOR_TOKEN, record, mqtt=mqtt))
        supervisor = context.__enter__()
        stack.append(context)
        for name in ("data", "share"):
            (tmp_path / name).mkdir(exist_ok=True)
        addon = Addon(
            installed, supervisor, tmp_path / "data", tmp_path / "share",
            tmp_path / "addon.log", free_port(),
        )  # fmt: skip
        started.append(addon)
        return addon

    yield make
    for addon in started:
        if addon.process is not None:
            addon.process.kill()
            addon.process.wait(timeout=30)
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path) as server:
        yield server


@contextmanager
def camera(frame: bytes) -> Iterator[str]:
    """A snapshot URL on 127.0.0.1 that answers `frame`, asking for basic auth like a camera."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(frame)))
            self.end_headers()
            self.wfile.write(frame)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/image.jpg"
    finally:
        server.shutdown()
        server.server_close()


async def _classify(url: str, token: str | None) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        engine = await RemoteEngine.connect(session, url, token=token, model="demo")
        result = await engine.classify(jpeg(size=(640, 360)))
        return dict(result.probabilities)


# --- tests --------------------------------------------------------------------------------


def test_token_is_made_once_and_kept_across_a_restart(make_addon: Callable[..., Addon]) -> None:
    addon = make_addon(mqtt=None)
    addon.write_options({"cameras": [], "capture": False, "log_level": "info"})
    posts = lambda: addon.supervisor.calls("POST", "/discovery")  # noqa: E731
    addon.start()
    addon.wait_healthy()
    assert wait_until(lambda: len(posts()) == 1)  # sent once the runner listens
    token = addon.token
    mode = stat.S_IMODE((addon.data / "token").stat().st_mode)
    assert mode == 0o600
    assert addon.stop() == 0
    addon.start()
    addon.wait_healthy()
    assert wait_until(lambda: len(posts()) == 2)
    assert addon.token == token
    assert addon.stop() == 0
    log = addon.log.read_text()
    assert log.count("Made the inference API's token") == 1, log
    assert token not in log
    # Home Assistant was told twice where the server is, one message (same uuid) kept
    assert [p.status for p in posts()] == [200, 200]
    messages = list(addon.supervisor.discovery_messages.values())
    assert len(messages) == 1
    hostname = addon.supervisor.addon.slug.replace("_", "-")
    assert messages[0]["config"] == {
        "host": hostname, "port": addon.port, "token": token, "version": addon.installed.version,
        "model": "garage", "dataset": "/share/garagecam/datasets/garage",
    }  # fmt: skip
    # no broker from the Supervisor: the add-on serves Remote mode without MQTT
    assert "mqtt" not in (addon.data / "garagecam.yaml").read_text()


def test_remote_client_classifies_through_the_addon_with_its_token(
    make_addon: Callable[..., Addon],
) -> None:
    addon = make_addon(mqtt=None)
    addon.write_options({"cameras": [], "capture": False, "log_level": "info"})
    addon.start()
    addon.wait_healthy()
    probabilities = asyncio.run(_classify(addon.url, addon.token))
    assert set(probabilities) == {"door_open", "car_present"}
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    request = urllib.request.Request(f"{addon.url}/v1/models")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert addon.stop() == 0


@pytest.mark.skipif(not INGRESS_KEY, reason="the runner has no http.ingress_gateway yet")
def test_without_cameras_the_studio_serves_home_assistants_folder_through_ingress(
    make_addon: Callable[..., Addon],
) -> None:
    """No camera of its own: the studio opens in the sidebar (ingress headers from the
    gateway, no token) on /share/garagecam/datasets/garage, the folder Home Assistant is
    told to keep its frames in, with the `garage` model made from the demo."""
    addon = make_addon(mqtt=None)
    addon.ingress_gateway = "127.0.0.1"  # the test's requests come from here
    addon.write_options(addon_config()["options"])  # type: ignore[arg-type]
    frames = addon.share / "garagecam/datasets/garage"
    frames.mkdir(parents=True)
    (frames / "kept-by-home-assistant.jpg").write_bytes(jpeg(size=(320, 180)))
    addon.start()
    addon.wait_healthy()
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/abc123", "X-Hass-Source": "core.ingress"}

    def get(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{addon.url}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as err:
            return err.code, b""

    status, page = get("/studio/", ingress)
    assert status == 200 and b"<html" in page.lower()
    status, body = get("/v1/studio/api/state", ingress)
    state = json.loads(body)
    assert status == 200 and state["dataset"] == "/share/garagecam/datasets/garage"
    assert state["frames"] == 1 and state["model"]["name"] == "garagecam-demo"
    assert state["model"]["path"] == "/share/garagecam/models/garage.gcam"
    assert get("/v1/studio/api/state", {})[0] == 401  # not through ingress: the token
    assert (addon.share / "garagecam/models/garage.gcam").is_file()
    assert wait_until(lambda: addon.supervisor.discovery_messages)
    config = next(iter(addon.supervisor.discovery_messages.values()))["config"]
    assert (config["model"], config["dataset"]) == ("garage", "/share/garagecam/datasets/garage")
    assert addon.stop() == 0


def test_camera_of_its_own_publishes_to_the_supervisors_broker(
    make_addon: Callable[..., Addon], broker: Broker
) -> None:
    mqtt = {"host": "127.0.0.1", "port": broker.port, "ssl": False, "protocol": "3.1.1",
            "username": "addons", "password": MQTT_PASSWORD}  # fmt: skip
    addon = make_addon(mqtt=mqtt)
    spy = fresh_spy(broker.port)
    try:
        with camera(jpeg(size=(640, 360))) as url:
            addon.write_options({
                "cameras": [{"id": "garage", "name": "Garage", "snapshot_url": url,
                             "username": "viewer", "password": CAMERA_PASSWORD, "interval": 1}],
                "capture": False, "log_level": "info",
            })  # fmt: skip
            addon.start()
            addon.wait_healthy()
            discovery = "homeassistant/binary_sensor/garagecam_garage/car_present/config"
            assert wait_until(lambda: spy.get(discovery), timeout=60), spy.retained
            config = json.loads(spy.retained[discovery])
            assert config["device"]["name"] == "Garage"
            # a state (the demo model is sure there is no car in a grey frame) and the
            # camera's availability, while it runs
            state = config["state_topic"]
            assert state.startswith("garagecam/garage/car_present")
            assert wait_until(lambda: spy.get(state), timeout=60), spy.retained
            assert spy.get("garagecam/garage/availability") == "online"
            assert spy.get("garagecam/garage/door_open/probability") is not None
            assert addon.stop() == 0
    finally:
        spy.stop()
    assert [c.status for c in addon.supervisor.calls("GET", "/services/mqtt")] == [200]
    written = (addon.data / "garagecam.yaml").read_text()
    log = addon.log.read_text()
    assert f"MQTT broker from the Supervisor: 127.0.0.1:{broker.port}" in log
    assert "[ERROR]" not in log, log
    assert (addon.share / "garagecam/datasets/garage").is_dir()  # the studio's folder
    # the studio (a camera of its own) is open to the Supervisor's ingress once the runner
    # takes the key (helper "web"'s change); before, the add-on was started without it
    assert ("ingress_gateway: 172.30.32.2" in written) == INGRESS_KEY
    assert ("Home Assistant ingress from 172.30.32.2" in log) == INGRESS_KEY
    for secret in (MQTT_PASSWORD, CAMERA_PASSWORD, addon.token):
        assert secret not in written
        assert secret not in log
        assert all(secret not in payload for _, payload, _ in spy.messages)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # the Supervisor's schema accepts these (str?, match(...)); the runner does not
        (
            {"cameras": [{"id": "garage", "snapshot_url": "http://127.0.0.1:9/x.jpg",
                          "roi": "0.5,0.5,0.9,0.9"}], "capture": False, "log_level": "info"},
            "garagecam run: error: invalid config: cameras[0].roi: ",
        ),
        (
            {"cameras": [{"id": "garage"}], "capture": False, "log_level": "info"},
            "garagecam run: error: cameras[0]: a camera needs a source",
        ),
        (
            {"cameras": [{"id": "garage", "snapshot_url": "http://127.0.0.1:9/x.jpg"}],
             "studio_camera": "porch", "capture": False, "log_level": "info"},
            "garagecam run: error: studio.camera: unknown camera 'porch'",
        ),
        # a hand-written options.json the Supervisor would not have written
        (
            {"cameras": "garage", "capture": False, "log_level": "info"},
            "garagecam add-on: error: options.cameras: expected a list of cameras",
        ),
    ],
    ids=["roi-outside-frame", "no-source", "unknown-studio-camera", "cameras-not-a-list"],
)  # fmt: skip
def test_bad_option_is_one_line_in_the_log_and_a_failed_start(
    make_addon: Callable[..., Addon], options: dict[str, Any], expected: str
) -> None:
    addon = make_addon(mqtt=None)
    addon.write_options(options)
    addon.start()
    assert addon.wait_exit() != 0
    lines = addon.log.read_text().splitlines()
    errors = [line for line in lines if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1, lines
    assert errors[0].startswith(expected), lines
    assert errors[0] == lines[-1]
