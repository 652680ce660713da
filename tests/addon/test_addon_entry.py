"""The add-on's entry point, piece by piece, on the host (fast): options, token, the
Supervisor client against the stand-in, and the runner config it writes."""

from __future__ import annotations

import http.server
import json
import logging
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from garagecam_addon import runner_config
from garagecam_addon.announce import Announcement, announce_when_listening, runner_alive
from garagecam_addon.errors import AddonError
from garagecam_addon.main import Environment
from garagecam_addon.options import AddonOptions, CameraOption, parse_options
from garagecam_addon.supervisor import MqttService, Supervisor, SupervisorApiError
from garagecam_addon.token import ensure_token

from garagecam_core import demo_model_path
from garagecam_core.runner.config import parse_config
from tests.addon.conftest import addon_config
from tests.core.runner.support import free_port, wait_until
from tests.supervisor_standin import AddonRecord, SupervisorStandIn, running

TOKEN = "ab" * 20


def _standin(**kwargs: object) -> SupervisorStandIn:
    record = AddonRecord("a4b36cbe_garagecam", "0.1.0", discovery=["garagecam"],
                         services=["mqtt:want"])  # fmt: skip
    return SupervisorStandIn(TOKEN, record, **kwargs)  # type: ignore[arg-type]


# --- options --------------------------------------------------------------------------------


def test_config_yaml_defaults_parse_as_options() -> None:
    options = parse_options(addon_config()["options"])
    assert options == AddonOptions()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "options: expected a mapping"),
        ({"cameras": [], "colour": "red"}, "options: unknown option 'colour'"),
        ({"cameras": ["garage"]}, "options.cameras[0]: expected a camera"),
        ({"cameras": [{"name": "Garage"}]}, "options.cameras[0].id: required"),
        ({"cameras": [{"id": "g", "interval": "often"}]},
         "options.cameras[0].interval: expected a number"),
        ({"cameras": [{"id": "g", "pasword": "x"}]},
         "options.cameras[0]: unknown option 'pasword'"),
        ({"capture": "yes"}, "options.capture: expected true or false"),
        ({"log_level": "trace"}, "options.log_level: expected info or debug"),
    ],
)  # fmt: skip
def test_malformed_options_are_one_line(raw: object, message: str) -> None:
    with pytest.raises(AddonError) as err:
        parse_options(raw)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_supervisor_token_is_required() -> None:
    with pytest.raises(AddonError, match="SUPERVISOR_TOKEN is not set"):
        Environment.read({})
    env = Environment.read({"SUPERVISOR_TOKEN": TOKEN})
    assert env.supervisor_url == "http://supervisor"
    assert env.listen == runner_config.Listen("0.0.0.0", 8080, "172.30.32.2")
    assert env.paths.token == Path("/data/token")


# --- token ----------------------------------------------------------------------------------


def test_token_is_made_private_once_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "token"
    token = ensure_token(path)
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token(path) == token
    assert not list(tmp_path.glob(".token*"))  # no temporary file left behind


def test_token_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    path = tmp_path / "token"
    token = ensure_token(path)
    path.chmod(0o644)
    assert ensure_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_empty_token_file_gets_a_new_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("\n")
    assert ensure_token(path)


def test_unreadable_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.mkdir()  # not a file
    with pytest.raises(AddonError) as err:
        ensure_token(path)
    assert str(err.value).startswith(f"cannot read the API token {path}: ")


# --- the Supervisor client against the stand-in --------------------------------------------


def test_mqtt_service_and_self_info() -> None:
    broker = {"host": "core-mosquitto", "port": 1883, "ssl": False, "protocol": "3.1.1",
              "username": "addons", "password": "pw"}  # fmt: skip
    with running(_standin(mqtt=broker)) as standin:
        supervisor = Supervisor(TOKEN, standin.url)
        assert supervisor.mqtt() == MqttService("core-mosquitto", 1883, "addons", "pw", False)
        assert supervisor.self_info().hostname == "a4b36cbe-garagecam"
    assert {r.path for r in standin.requests} == {"/services/mqtt", "/addons/self/info"}


def test_no_mqtt_provider_means_no_broker() -> None:
    with running(_standin()) as standin:
        assert Supervisor(TOKEN, standin.url).mqtt() is None


def test_supervisor_refusals_are_one_line_without_the_token() -> None:
    with running(_standin()) as standin:
        with pytest.raises(SupervisorApiError) as err:
            Supervisor("wrong", standin.url).self_info()
        assert str(err.value) == "GET /addons/self/info: HTTP 403"
        with pytest.raises(SupervisorApiError) as err:
            Supervisor(TOKEN, standin.url).discovery("mqtt", {})
        assert str(err.value).startswith("POST /discovery: Apps must list services")
    with pytest.raises(SupervisorApiError, match="Supervisor not reachable"):
        Supervisor(TOKEN, standin.url).mqtt()  # stopped


def test_discovery_again_updates_the_same_message() -> None:
    with running(_standin()) as standin:
        supervisor = Supervisor(TOKEN, standin.url)
        first = supervisor.discovery("garagecam", {"host": "h", "port": 8080, "token": "a"})
        again = supervisor.discovery("garagecam", {"host": "h", "port": 8080, "token": "b"})
    assert first == again
    assert standin.discovery_messages[first]["config"]["token"] == "b"


# --- the runner config ----------------------------------------------------------------------


def _build(options: AddonOptions, tmp_path: Path, **kwargs: object) -> runner_config.RunnerSetup:
    paths = runner_config.Paths(tmp_path / "data", tmp_path / "share")
    return runner_config.build(
        options,
        mqtt=kwargs.get("mqtt"),  # type: ignore[arg-type]
        token="t0ken-value",
        models=kwargs.get("models", {}),  # type: ignore[arg-type]
        paths=paths,
        listen=kwargs.get("listen", runner_config.Listen()),  # type: ignore[arg-type]
    )


def test_runner_config_names_the_ingress_gateway_and_keeps_secrets_out(tmp_path: Path) -> None:
    camera = CameraOption("garage", snapshot_url="http://x/a.jpg", username="u", password="cam-pw")
    options = AddonOptions(cameras=(camera,), capture=True)
    mqtt = MqttService("core-mosquitto", 1883, "addons", "mqtt-pw", ssl=True)
    setup = _build(options, tmp_path, mqtt=mqtt)
    config = setup.config
    assert config["http"] == {"host": "0.0.0.0", "port": 8080, "token": "${GARAGECAM_HTTP_TOKEN}",
                              "ingress_gateway": "172.30.32.2"}  # fmt: skip
    assert config["mqtt"] == {"host": "core-mosquitto", "port": 1883, "username": "addons",
                              "password": "${GARAGECAM_MQTT_PASSWORD}", "tls": True}  # fmt: skip
    assert config["cameras"][0]["snapshot"]["password"] == "${GARAGECAM_CAMERA_0_PASSWORD}"
    assert setup.environment == {
        "GARAGECAM_HTTP_TOKEN": "t0ken-value",
        "GARAGECAM_MQTT_PASSWORD": "mqtt-pw",
        "GARAGECAM_CAMERA_0_PASSWORD": "cam-pw",
    }
    assert config["capture"] == {"enabled": True, "directory": str(tmp_path / "share/datasets")}
    assert config["studio"] == {"enabled": True, "camera": "garage",
                                "dataset": str(tmp_path / "share/datasets/garage")}  # fmt: skip
    text = json.dumps(config)
    assert not any(secret in text for secret in ("t0ken-value", "mqtt-pw", "cam-pw"))


def test_runner_accepts_what_the_addon_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config the add-on writes passes the runner's own validation (without the ingress
    key until helper "web"'s runner change is merged: see test_addon_run.INGRESS_KEY)."""
    from tests.addon.test_addon_run import INGRESS_KEY

    options = AddonOptions(
        cameras=(
            CameraOption("garage", snapshot_url="http://cam/x.jpg", interval=5, roi="0,0,1,1"),
            CameraOption("gate", onvif_host="192.0.2.7", onvif_port=8000, password="pw"),
        ),
        capture=True,
        studio_camera="gate",
        base_topic="garagecam2",
    )
    listen = runner_config.Listen(ingress_gateway="172.30.32.2" if INGRESS_KEY else None)
    setup = _build(options, tmp_path, mqtt=MqttService("broker", 1883), listen=listen)
    for name, value in setup.environment.items():
        monkeypatch.setenv(name, value)
    parsed = parse_config(setup.config)
    assert [c.id for c in parsed.cameras] == ["garage", "gate"]
    assert parsed.http is not None and parsed.http.token == "t0ken-value"
    assert set(parsed.models) == {"demo"}
    assert parsed.studio is not None and parsed.studio.camera == "gate"


def test_models_in_the_share_are_served_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("garage.gcam", "porch.pte", "garage.previous.gcam", "bad name.pte", "notes.txt"):
        (folder / name).write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        models = runner_config.find_models(folder)
    assert models == {"garage": folder / "garage.gcam", "porch": folder / "porch.pte"}
    assert "Skipping bad name.pte" in caplog.text
    assert runner_config.find_models(tmp_path / "missing") == {}
    (folder / "garage.pte").write_bytes(b"x")
    with pytest.raises(AddonError, match=r"garage.gcam and garage.pte have the same name"):
        runner_config.find_models(folder)
    setup = _build(AddonOptions(), tmp_path, models={"garage": folder / "garage.gcam"})
    assert set(setup.config["models"]) == {"demo", "garage"}


def test_without_cameras_the_studio_runs_on_the_served_model_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No camera of its own: the studio labels the folder where Home Assistant keeps the
    frames of the add-on's entries and replaces the model they use; the runner's own parser
    accepts it and Home Assistant is told both."""
    folder = tmp_path / "share/models"
    folder.mkdir(parents=True)
    made = runner_config.ensure_model_file(folder, "garage")
    assert made == folder / "garage.gcam"
    assert made.read_bytes() == demo_model_path().read_bytes()
    assert runner_config.ensure_model_file(folder, "garage") is None  # kept from then on
    models = runner_config.find_models(folder)
    setup = _build(AddonOptions(), tmp_path, models=models)
    dataset = tmp_path / "share/datasets/garage"
    assert setup.config["studio"] == {"enabled": True, "model": "garage", "dataset": str(dataset)}
    assert setup.studio == runner_config.StudioTarget("garage", dataset)
    for name, value in setup.environment.items():
        monkeypatch.setenv(name, value)
    parsed = parse_config(setup.config)
    assert parsed.studio is not None
    assert (parsed.studio.model, parsed.studio.dataset, parsed.studio.camera) == (
        "garage", dataset, None)  # fmt: skip
    assert parsed.models["garage"].path == folder / "garage.gcam"
    # another name in the options: that model, that folder
    setup = _build(AddonOptions(studio_model="porch"), tmp_path, models={})
    assert setup.studio == runner_config.StudioTarget("porch", tmp_path / "share/datasets/porch")
    announcement = Announcement("h", 8080, "t", "garage", str(dataset))
    assert announcement.config() | {"version": "v"} == {
        "host": "h", "port": 8080, "token": "t", "version": "v", "model": "garage",
        "dataset": str(dataset)}  # fmt: skip


def test_a_studio_model_name_that_is_no_file_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AddonError, match=r"^options\.studio_model: expected 1-64 letters"):
        runner_config.ensure_model_file(tmp_path, "../escape")
    assert runner_config.ensure_model_file(tmp_path, "demo") is None  # the bundled one
    assert list(tmp_path.iterdir()) == []


# --- prepare: everything before the exec ----------------------------------------------------


def test_prepare_writes_a_private_config_and_asks_the_runner_for_debug(tmp_path: Path) -> None:
    from garagecam_addon.main import prepare

    data, share = tmp_path / "data", tmp_path / "share"
    data.mkdir()
    options = {"cameras": [{"id": "gate", "snapshot_url": "http://x/a.jpg"}], "log_level": "debug"}
    (data / "options.json").write_text(json.dumps(options))
    with running(_standin()) as standin:
        env = Environment.read({
            "SUPERVISOR_TOKEN": TOKEN, "GARAGECAM_SUPERVISOR_URL": standin.url,
            "GARAGECAM_ADDON_DATA": str(data), "GARAGECAM_ADDON_SHARE": str(share),
        })  # fmt: skip
        start = prepare(env)
    config = str(data / "garagecam.yaml")
    assert start.argv[1:] == ["-m", "garagecam_core", "-v", "run", "--config", config]
    assert stat.S_IMODE((data / "garagecam.yaml").stat().st_mode) == 0o600
    token = (data / "token").read_text().strip()
    assert start.secrets == {"GARAGECAM_HTTP_TOKEN": token}
    # the studio camera's model (the demo, by default) and captures folder
    assert start.announcement == Announcement(
        "a4b36cbe-garagecam", 8080, token, "demo", str(share / "datasets/gate")
    )
    assert not standin.calls("POST", "/discovery")  # nothing before the runner listens
    assert (share / "models").is_dir()
    assert (share / "datasets/gate").is_dir()  # the studio's dataset: the runner needs it


# --- discovery, once the runner listens -----------------------------------------------------


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)  # a runner still connecting to MQTT: listening all the same
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_discovery_is_sent_once_the_runner_answers() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with running(_standin()) as standin:
            announcement = Announcement("a4b36cbe-garagecam", server.server_address[1], "tok")
            supervisor = Supervisor(TOKEN, standin.url)
            assert announce_when_listening(supervisor, announcement, os.getpid(), poll=0.01)
    finally:
        server.shutdown()
        server.server_close()
    (message,) = standin.discovery_messages.values()
    assert message["service"] == "garagecam"
    assert message["config"]["port"] == announcement.port
    assert message["config"]["token"] == "tok"


def test_nothing_is_announced_when_the_runner_stops_first() -> None:
    with running(_standin()) as standin:
        announcement = Announcement("a4b36cbe-garagecam", free_port(), "tok")
        supervisor = Supervisor(TOKEN, standin.url)
        assert not announce_when_listening(supervisor, announcement, _dead_pid(), poll=0.01)
    assert standin.requests == []


def test_a_refused_discovery_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin = _standin()
    standin.addon.discovery = []  # as if config.yaml did not list the service
    try:
        with running(standin), caplog.at_level(logging.WARNING):
            announcement = Announcement("h", server.server_address[1], "tok")
            supervisor = Supervisor(TOKEN, standin.url)
            assert not announce_when_listening(supervisor, announcement, os.getpid(), poll=0.01)
    finally:
        server.shutdown()
        server.server_close()
    told = "Home Assistant was not told about this add-on: POST /discovery: Apps must list"
    assert told in caplog.text
    assert "tok" not in caplog.text


def test_an_exited_runner_is_not_alive() -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        assert runner_alive(process.pid)
    finally:
        process.kill()
    # killed but not yet waited for: a zombie, which has exited
    assert wait_until(lambda: not runner_alive(process.pid))
    process.wait()
    assert not runner_alive(process.pid)


def test_prepare_without_cameras_makes_the_studio_model_and_announces_it(tmp_path: Path) -> None:
    from garagecam_addon.main import prepare

    data, share = tmp_path / "data", tmp_path / "share"
    data.mkdir()
    (data / "options.json").write_text(json.dumps(addon_config()["options"]))
    with running(_standin()) as standin:
        env = Environment.read({
            "SUPERVISOR_TOKEN": TOKEN, "GARAGECAM_SUPERVISOR_URL": standin.url,
            "GARAGECAM_ADDON_DATA": str(data), "GARAGECAM_ADDON_SHARE": str(share),
        })  # fmt: skip
        start = prepare(env)
    token = (data / "token").read_text().strip()
    dataset = share / "datasets/garage"
    assert start.announcement == Announcement(
        "a4b36cbe-garagecam", 8080, token, "garage", str(dataset)
    )
    assert dataset.is_dir() and (share / "models/garage.gcam").is_file()
    written = (data / "garagecam.yaml").read_text()
    assert "model: garage" in written and str(dataset) in written
