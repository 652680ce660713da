"""The plugin against a fake Scrypted host (real SDK files), real frames and the demo model."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import scrypted_sdk
from garagecam_scrypted.plugin import GarageCamPlugin
from scrypted_sdk import types as sdk_types

from garagecam_core import __version__, demo_model_path
from garagecam_core.bundle import read_metadata
from garagecam_core.engine.base import AsyncEngine
from garagecam_core.engine.factory import ModelConfig, default_engine_factory
from garagecam_core.errors import (
    ConfigError,
    EngineClosedError,
    ModelNotFoundError,
    RemoteEngineError,
    WorkerError,
)
from tests.images import truncated
from tests.scrypted.conftest import TEST_INTERVAL, Clock, Script, wait_until
from tests.scrypted.host import FakeCamera, FakeHost, check_typed_dict

CLOSED, OPEN = (False, False), (True, True)


async def create(plugin: GarageCamPlugin, camera_id: str, **extra: Any) -> tuple[str, Any]:
    """Create a GarageCam device for the camera; returns (native id, camera object)."""
    settings = {"name": "Garage", "camera": camera_id, "mode": "local", "model": "demo"} | extra
    device_id = await plugin.createDevice(settings)
    (native_id,) = [n for n in plugin._gc_cameras]  # one camera per test unless told otherwise
    assert scrypted_sdk.systemManager.getDeviceById(device_id) is not None
    camera = await plugin.getDevice(native_id)
    await camera.putSetting("interval", TEST_INTERVAL)
    return native_id, camera


def sensors(host: FakeHost, native_id: str) -> dict[str, str]:
    """label -> sensor native id."""
    return {n.rpartition(":")[2]: n for n in host.children(native_id)}


@dataclass
class Running:
    """A GarageCam device watching a fake camera, its door already reported closed."""

    plugin: GarageCamPlugin
    camera: Any
    native_id: str
    ids: dict[str, str]  # label -> sensor native id
    fake: FakeCamera


async def running(
    host: FakeHost, make_plugin: Any, script: Script, **plugin_kwargs: Any
) -> Running:
    camera_id, fake = host.add_camera("Driveway", script)
    plugin = await make_plugin(**plugin_kwargs)
    native_id, camera = await create(plugin, camera_id)
    ids = sensors(host, native_id)
    await wait_until(lambda: host.state(ids["door_open"], "entryOpen") is False)
    return Running(plugin, camera, native_id, ids, fake)


# --- devices ---------------------------------------------------------------------------------


async def test_create_device_reports_a_camera_and_one_sensor_per_label(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()

    page = await plugin.getCreateDeviceSettings()
    for setting in page:
        check_typed_dict(setting, sdk_types.Setting)
    by_key = {s["key"]: s for s in page}
    assert list(by_key) == [
        "name",
        "camera",
        "mode",
        "model",
        "remote_url",
        "remote_token",
        "remote_model",
        "homekit",
    ]
    # the Inference choices by their labels; each choice's fields grouped under its name
    assert by_key["mode"]["choices"] == ["On this server", "GarageCam runner"]
    assert by_key["model"]["group"] == "Model on this server"
    assert {by_key[k]["group"] for k in ("remote_url", "remote_token", "remote_model")} == {
        "GarageCam runner"
    }
    assert by_key["camera"]["type"] == "device"
    assert "interfaces.includes('Camera')" in by_key["camera"]["deviceFilter"]
    assert by_key["remote_token"]["type"] == "password"
    assert by_key["model"]["choices"] == ["demo"]

    native_id, _ = await create(plugin, camera_id)
    device = host.devices[native_id]
    assert device["type"] == sdk_types.ScryptedDeviceType.DeviceProvider.value
    assert set(device["interfaces"]) == {"Settings", "DeviceProvider", "Online"}
    assert host.state(native_id, "name") == "Garage"

    children = host.children(native_id)
    door, car = children[f"{native_id}:door_open"], children[f"{native_id}:car_present"]
    assert door["type"] == car["type"] == "Sensor"
    assert door["interfaces"] == ["EntrySensor", "Online", "TamperSensor"]  # demo: garage_door
    assert car["interfaces"] == ["OccupancySensor", "Online", "TamperSensor"]  # demo: occupancy
    assert door["name"] == "Garage Door Open" and car["name"] == "Garage Car Present"
    # HomeKit's accessory information: no "Default-SerialNumber", no firmware "0.0.0"
    assert door["info"]["model"].startswith("garagecam-demo v")
    assert door["info"]["serialNumber"] == f"{native_id}:door_open"
    assert door["info"]["firmware"] == __version__
    # the camera device provides its sensors
    sensor = await (await plugin.getDevice(native_id)).getDevice(f"{native_id}:door_open")
    assert sensor.nativeId == f"{native_id}:door_open"
    # the stored settings are strings in the camera's own storage
    assert host.native_ids[native_id].storage["camera"] == camera_id
    assert host.native_ids[None].storage["cameras"] == f'["{native_id}"]'


async def test_states_follow_the_camera(host: FakeHost, make_plugin: Any, script: Script) -> None:
    run = await running(host, make_plugin, script)
    native_id, camera, ids, fake_camera = run.native_id, run.camera, run.ids, run.fake
    await wait_until(lambda: host.state(ids["car_present"], "occupied") is False)
    assert host.state(ids["door_open"], "online") is True
    assert host.state(native_id, "online") is True

    script.truth = OPEN
    await wait_until(lambda: host.state(ids["door_open"], "entryOpen") is True)
    await wait_until(lambda: host.state(ids["car_present"], "occupied") is True)
    pushed = [(e.native_id, e.interface, e.value) for e in host.events if e.property]
    assert (ids["door_open"], "EntrySensor", True) in pushed
    assert (ids["car_present"], "OccupancySensor", True) in pushed
    # the pictures were asked for as the issue says, and converted to JPEG bytes
    assert fake_camera.calls[0] == {"reason": "event"}
    assert set(host.media.converted) == {"image/jpeg"}
    assert "door_open on" in camera.gc_status()

    script.truth = CLOSED
    await wait_until(lambda: host.state(ids["door_open"], "entryOpen") is False)
    await wait_until(lambda: host.state(ids["car_present"], "occupied") is False)


async def test_confirm_frames_hold_back_a_single_odd_frame(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    run = await running(host, make_plugin, script)
    door, fake_camera = run.ids["door_open"], run.fake
    # one open frame among closed ones never flips the state (confirm frames = 2)
    frames = script.frames
    sequence = iter([frames[OPEN][0]] + [frames[CLOSED][i % 3] for i in range(30)])
    script.override = None
    served: list[bytes] = []

    def odd() -> bytes:
        frame = next(sequence, frames[CLOSED][0])
        served.append(frame)
        return frame

    fake_camera.frames = odd
    await wait_until(lambda: len(served) >= 10)
    assert host.state(door, "entryOpen") is False
    assert not [
        e for e in host.events if e.native_id == door and e.property == "entryOpen" and e.value
    ]


# --- settings --------------------------------------------------------------------------------


async def test_settings_round_trip_and_apply_without_restart(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    run = await running(host, make_plugin, script)
    native_id, camera, door = run.native_id, run.camera, run.ids["door_open"]
    camera_id = host.native_ids[native_id].storage["camera"]

    page = await camera.getSettings()
    for setting in page:
        check_typed_dict(setting, sdk_types.Setting)
    values = {s["key"]: s.get("value") for s in page}
    assert values["camera"] == camera_id and values["model"] == "demo"
    assert values["interval"] == TEST_INTERVAL
    assert "on_threshold:door_open" in values and "off_threshold:car_present" in values

    core = camera.gc_core
    engine = core.engine
    await camera.putSetting("roi", "0,0,1,1")
    await camera.putSetting("on_threshold:door_open", 0.5)
    await camera.putSetting("confirm_frames", 3)
    assert host.native_ids[native_id].storage["roi"] == "0,0,1,1"
    assert host.native_ids[native_id].storage["on_threshold:door_open"] == "0.5"
    new_core = camera.gc_core
    assert new_core is not core  # applied at once ...
    assert new_core.engine is engine  # ... on the same engine
    assert str(new_core.roi) == "0,0,1,1"
    assert new_core.debouncer.policy("door_open").on_threshold == 0.5
    assert new_core.debouncer.policy("door_open").confirm_frames == 3
    # ... and the states carried over: the sensor never went offline or unknown
    assert host.state(door, "online") is True
    assert new_core.debouncer.state("door_open").value == "off"
    settings_events = [e for e in host.events if e.interface == "Settings"]
    assert len(settings_events) == 4  # one per putSetting (interval in create() + 3 here)

    # clearing a value goes back to the default
    await camera.putSetting("on_threshold:door_open", None)
    assert "on_threshold:door_open" not in host.native_ids[native_id].storage
    demo_door = read_metadata(demo_model_path()).label("door_open")  # the model's own default
    assert camera.gc_core.debouncer.policy("door_open").on_threshold == demo_door.on_threshold


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        ("interval", "abc", ConfigError, "Interval (seconds): expected a number, got text"),
        ("interval", float("nan"), ConfigError, "expected a finite number"),
        ("interval", -5, ConfigError, "Interval (seconds): value must be higher than 0"),
        ("interval", 7200, ConfigError, "Interval (seconds): value must be at most 3600"),
        ("max_age", 0.01, ConfigError, "Maximum age (seconds): value must be at least the"),
        ("roi", "0.5,0.5,0.9,0.9", ConfigError, "Region of interest: "),
        ("roi", "a,b", ConfigError, "Region of interest: "),
        ("confirm_frames", 1.5, ConfigError, "Confirm frames: expected an integer, got a fraction"),
        ("confirm_frames", 101, ConfigError, "Confirm frames: value must be at most 100"),
        # below the model's OFF threshold: named as the page names the settings
        (
            "on_threshold:door_open",
            0.005,
            ConfigError,
            "door_open ON threshold 0.005 is below door_open OFF threshold",
        ),
        ("on_threshold:door_open", 2, ConfigError, "ON threshold: value must be at most 1"),
        ("on_threshold:no_such_label", 0.5, ConfigError, ""),
        (
            "mode",
            "cloud",
            ConfigError,
            "'cloud' is not one of 'On this server', 'GarageCam runner'",
        ),
        ("model", "missing.pte", ModelNotFoundError, "no file 'missing.pte'"),
        ("model", "../../etc/passwd", ModelNotFoundError, "file name or an absolute path"),
        ("model", "/nonexistent/x.pte", ModelNotFoundError, "does not exist"),
        ("camera", "", ConfigError, "Camera: choose"),
        ("bogus", 1, ConfigError, "unknown setting 'bogus'"),
        ("roi", {"x": 1}, ConfigError, "unsupported value"),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(  # noqa: PLR0917 - parametrized
    host: FakeHost,
    make_plugin: Any,
    script: Script,
    key: str,
    value: Any,
    error: type[Exception],
    message: str,
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    native_id, camera = await create(plugin, camera_id)
    stored = dict(host.native_ids[native_id].storage)
    core = camera.gc_core
    if key == "on_threshold:no_such_label":
        # a label the model does not have is kept aside (another model may have it), not used
        await camera.putSetting(key, value)
        assert "no_such_label" not in camera.gc_core.debouncer.labels
        return
    with pytest.raises(error) as caught:
        await camera.putSetting(key, value)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert host.native_ids[native_id].storage == stored
    assert camera.gc_core is core  # the running loop was not touched
    assert camera._gc_task is not None and not camera._gc_task.done()


async def test_a_pte_placed_in_the_files_folder_can_be_chosen(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    native_id, camera = await create(plugin, camera_id)
    host.files.mkdir(parents=True, exist_ok=True)
    (host.files / "mine.pte").write_bytes(demo_model_path().read_bytes())
    (host.files / "learnt.gcam").write_bytes(demo_model_path().read_bytes())
    (host.files / "notes.txt").write_text("not a model")

    (Path.cwd() / "shipped.pte").write_bytes(b"baked into the zip's fs/ by --model")
    page = {s["key"]: s for s in await camera.getSettings()}
    assert page["model"]["choices"] == ["demo", "learnt.gcam", "mine.pte", "shipped.pte"]
    assert page["model"]["combobox"] is True
    await camera.putSetting("model", "mine.pte")
    assert host.native_ids[native_id].storage["model"] == "mine.pte"
    door = sensors(host, native_id)["door_open"]
    await wait_until(lambda: host.state(door, "online") is True)

    # a corrupt file is refused with the core's message, the running model stays
    (host.files / "broken.pte").write_bytes(b"PK\x03\x04 definitely not a program")
    with pytest.raises(Exception, match=r"broken\.pte"):
        await camera.putSetting("model", "broken.pte")
    assert host.native_ids[native_id].storage["model"] == "mine.pte"


# --- failures --------------------------------------------------------------------------------


async def test_camera_failures_are_logged_once_each_way(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str]
) -> None:
    run = await running(host, make_plugin, script)
    camera, fake_camera = run.camera, run.fake

    fake_camera.error = RuntimeError("RTSP 503 from rtsp://admin:hunter22@10.0.0.5/stream")
    calls = len(fake_camera.calls)
    await wait_until(lambda: len(fake_camera.calls) >= calls + 4)
    fake_camera.error = None
    await wait_until(
        lambda: (
            camera.gc_core.failures == 0
            and camera.gc_core.last_frame is not None
            and len(fake_camera.calls) >= calls + 6
        )
    )
    await wait_until(lambda: any("frames are back" in line for line in console))

    lost = [line for line in console if "no frame" in line]
    back = [line for line in console if "frames are back" in line]
    assert len(lost) == 1 and len(back) == 1
    assert "snapshot failed: RTSP 503 from rtsp://admin:**REDACTED**@10.0.0.5/stream" in lost[0]
    assert "hunter22" not in "".join(console) + camera.gc_status()
    assert lost[0].startswith("WARNING ")


@pytest.mark.parametrize(
    ("make_frame", "reason"),
    [
        (lambda s: b"<html>login</html>", "did not send a JPEG or PNG image"),
        (lambda s: b"", "empty response"),
        (lambda s: truncated(s.frames[CLOSED][0], 0.3), "bad_image"),
        (lambda s: b"\xff\xd8\xff" + bytes(20_000_000), "more than 20,000,000"),
    ],
)
async def test_bad_snapshots_count_as_failures(  # noqa: PLR0917 - parametrized
    host: FakeHost,
    make_plugin: Any,
    script: Script,
    console: list[str],
    make_frame: Any,
    reason: str,
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    script.override = make_frame(script)
    plugin = await make_plugin()
    native_id, _camera = await create(plugin, camera_id)
    await wait_until(lambda: any("no frame" in line for line in console))
    assert reason in next(line for line in console if "no frame" in line)
    door = sensors(host, native_id)["door_open"]
    assert host.state(door, "entryOpen") is None  # nothing reported from a bad frame
    assert host.state(door, "online") is False


async def test_a_removed_or_wrong_camera_is_reported(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str]
) -> None:
    light_id, _ = host.add_camera("Porch light", script, is_camera=False)
    plugin = await make_plugin()
    await create(plugin, light_id)
    await wait_until(lambda: any("cannot take pictures" in line for line in console))

    camera_id, _ = host.add_camera("Driveway", script)
    host.system_state.pop(camera_id)
    camera = next(iter(plugin._gc_cameras.values()))
    await camera.putSetting("camera", camera_id)
    await wait_until(lambda: any("no longer exists" in line for line in console))


async def test_hung_camera_times_out(
    host: FakeHost,
    make_plugin: Any,
    script: Script,
    console: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from garagecam_scrypted import source

    monkeypatch.setattr(source, "DEFAULT_TIMEOUT", 0.2)
    camera_id, fake_camera = host.add_camera("Driveway", script)
    fake_camera.hang = True
    plugin = await make_plugin()
    await create(plugin, camera_id)
    await wait_until(lambda: any("sent no snapshot within 0.2 s" in line for line in console))


class FlakyEngine:
    """The real engine, failing on demand (a dying worker, an unreachable runner)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.fail = False

    @property
    def metadata(self) -> Any:
        return self.engine.metadata

    async def classify(self, image: bytes, roi: Any = None) -> Any:
        if self.fail:
            raise WorkerError(
                "the inference worker died during a request (killed by signal SIGKILL)"
            )
        return await self.engine.classify(image, roi)

    async def close(self) -> None:
        await self.engine.close()


class UnfamiliarEngine(FlakyEngine):
    """The real engine, its frames marked unlike anything the model was trained on."""

    async def classify(self, image: bytes, roi: Any = None) -> Any:
        result = await self.engine.classify(image, roi)
        return dataclasses.replace(result, novelty=2.0) if self.fail else result


async def test_unfamiliar_frames_make_the_states_unknown_and_say_so(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    engines: list[UnfamiliarEngine] = []

    def factory(config: ModelConfig) -> Any:
        engines.append(UnfamiliarEngine(default_engine_factory(config)))
        return engines[-1]

    run = await running(host, make_plugin, script, engine_factory=factory)
    camera = run.camera
    await wait_until(lambda: "door_open off" in camera.gc_status())
    engines[0].fail = True  # from now on the model says it does not know these frames
    await wait_until(lambda: camera.gc_status().startswith("Needs labels"))
    assert "door_open on" not in camera.gc_status()
    engines[0].fail = False
    await wait_until(lambda: "door_open off" in camera.gc_status())


async def test_engine_failures_then_max_age_takes_the_sensors_offline(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str], clock: Clock
) -> None:
    engines: list[FlakyEngine] = []

    def factory(config: ModelConfig) -> Any:
        engines.append(FlakyEngine(default_engine_factory(config)))
        return engines[-1]

    run = await running(host, make_plugin, script, engine_factory=factory)
    native_id, camera, ids = run.native_id, run.camera, run.ids
    await camera.putSetting("max_age", 60)

    engines[0].fail = True
    await wait_until(lambda: any("no frame (engine:" in line for line in console))
    # still within max_age: the last states stay shown and online
    assert host.state(ids["door_open"], "online") is True
    clock.offset = 61.0  # the last good frame is now older than max_age
    await wait_until(lambda: host.state(ids["door_open"], "online") is False)
    assert host.state(ids["car_present"], "online") is False
    assert host.state(native_id, "online") is False
    assert host.state(ids["door_open"], "entryOpen") is False  # last state kept, marked offline
    assert any("states unavailable" in line for line in console)
    assert "killed by signal" in camera.gc_status()

    engines[0].fail = False
    await wait_until(lambda: host.state(ids["door_open"], "online") is True)
    assert host.state(native_id, "online") is True


async def test_model_missing_at_start_retries_in_background(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str], tmp_path: Any
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    host.files.mkdir(parents=True, exist_ok=True)
    model = host.files / "mine.pte"
    model.write_bytes(demo_model_path().read_bytes())
    plugin = await make_plugin()
    native_id, _camera = await create(plugin, camera_id, model="mine.pte")
    await plugin.gc_close()

    model.unlink()  # gone while Scrypted was restarting
    plugin2 = await make_plugin()
    camera2 = await plugin2.getDevice(native_id)
    assert camera2.gc_core is None
    assert camera2.gc_status().startswith("Not running: Model: no file 'mine.pte'")
    assert [line for line in console if "not running" in line] == [
        f"WARNING Garage: not running: Model: no file 'mine.pte' in {host.files}, "
        f"{Path.cwd()} (retrying in the background)"
    ]
    assert host.state(native_id, "online") is False
    door = sensors(host, native_id)["door_open"]
    assert host.state(door, "online") is False  # known from storage, though no model loaded
    # the user picks another model: it runs at once, the retry stops
    await camera2.putSetting("model", "demo")
    await wait_until(lambda: host.state(door, "online") is True)
    assert camera2._gc_retry is None


async def test_create_device_refuses_what_cannot_run(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    with pytest.raises(ConfigError, match="Camera: choose"):
        await plugin.createDevice({"name": "x", "model": "demo"})
    with pytest.raises(ModelNotFoundError):
        await plugin.createDevice({"camera": camera_id, "model": "nope.pte"})
    with pytest.raises(ConfigError, match="unknown settings"):
        await plugin.createDevice({"camera": camera_id, "intervall": 5})
    with pytest.raises(ConfigError, match="Runner URL"):
        await plugin.createDevice({"camera": camera_id, "mode": "remote", "remote_url": "ftp://x"})
    remote = {"camera": camera_id, "mode": "remote", "remote_token": "tok-secret"}
    with pytest.raises(ConfigError, match="leave the user name and password out") as caught:
        await plugin.createDevice(remote | {"remote_url": "http://user:pw-secret@127.0.0.1:9/"})
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="not a valid URL"):
        await plugin.createDevice(remote | {"remote_url": "http://[::1/"})
    # the API paths are appended to the URL: a query would swallow them
    with pytest.raises(ConfigError, match=r"Runner URL: expected the runner's address without"):
        await plugin.createDevice(remote | {"remote_url": "http://127.0.0.1:9/?x=1"})
    # the token travels in an HTTP header: a line break would end it (one line, not echoed)
    with pytest.raises(ConfigError, match="Runner token: use only printable ASCII") as caught:
        await plugin.createDevice(remote | {"remote_token": "tok-secret\nX: 1"})
    assert "secret" not in str(caught.value)
    # a runner that does not answer: refused with a message that keeps the token secret
    with pytest.raises(RemoteEngineError, match="cannot reach the runner") as caught:
        await plugin.createDevice(remote | {"remote_url": "http://127.0.0.1:9/"})
    assert "secret" not in str(caught.value)
    assert list(host.devices) == []
    assert plugin._gc_engines.open_models == 0  # nothing left loaded by the refused attempts


async def test_plugin_restart_restores_cameras_and_delete_forgets_them(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    native_id, _ = await create(plugin, camera_id)
    await plugin.gc_close()

    plugin2 = await make_plugin()
    camera = await plugin2.getDevice(native_id)
    door = sensors(host, native_id)["door_open"]
    await wait_until(lambda: host.state(door, "online") is True)
    assert camera.gc_core is not None

    await plugin2.releaseDevice(host.native_ids[native_id].id, native_id)
    assert camera.gc_core is None
    assert host.native_ids[None].storage["cameras"] == "[]"
    assert await plugin2.getDevice(native_id) is None
    assert plugin2._gc_engines.open_models == 0


async def test_cameras_share_one_engine_per_model(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    first, _ = host.add_camera("Driveway", script)
    second, _ = host.add_camera("Garage", script)
    plugin = await make_plugin()
    await plugin.createDevice({"name": "A", "camera": first})
    await plugin.createDevice({"name": "B", "camera": second})
    a, b = plugin._gc_cameras.values()
    assert a.gc_core.engine is b.gc_core.engine
    assert plugin._gc_engines.open_models == 1


async def test_no_own_attribute_shadows_a_scrypted_property(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    _native_id, camera = await create(plugin, camera_id)
    sensor = next(iter(camera._gc_sensors.values()))
    reserved = {p.value for p in sdk_types.ScryptedInterfaceProperty}
    for device in (plugin, camera, sensor):
        own = set(vars(device)) - {"nativeId", "deviceState"}  # ScryptedDeviceBase's own
        assert not own & reserved
        assert all(name.startswith("_gc_") for name in own)


@pytest.mark.slow
async def test_worker_engine_end_to_end(host: FakeHost, make_plugin: Any, script: Script) -> None:
    """The default engine: a worker process, as on a real server."""
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin(engine_kind="worker")
    native_id, camera = await create(plugin, camera_id)
    door = sensors(host, native_id)["door_open"]
    await wait_until(lambda: host.state(door, "entryOpen") is False, limit=180)
    worker = camera.gc_core.engine.engine  # ExecutorEngine(WorkerEngine)
    first_pid = worker.pid
    os.kill(first_pid, signal.SIGKILL)  # a crash in the runtime stays in the worker
    script.truth = OPEN
    await wait_until(lambda: host.state(door, "entryOpen") is True, limit=180)
    assert worker.pid not in (None, first_pid)  # restarted, the plugin kept going


async def test_remote_mode_classifies_on_a_garagecam_runner(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str]
) -> None:
    """Remote mode against the runner's real HTTP API (`/v1/models`, `/v1/classify`)."""
    from garagecam_core.runner.http import ApiContext, HttpServer
    from garagecam_core.runner.metrics import RunnerMetrics

    engine = default_engine_factory(ModelConfig("demo", demo_model_path(), engine="local"))
    context = ApiContext(
        engines={"demo": engine},
        cameras={},
        metrics=RunnerMetrics(),
        health=list,
        token="runner-token-123",
    )
    server = HttpServer(context, "127.0.0.1", 0)
    await server.start()
    try:
        camera_id, _ = host.add_camera("Driveway", script)
        plugin = await make_plugin()
        url = f"http://127.0.0.1:{server.port}"
        with pytest.raises(Exception, match="rejected the token"):
            await create(plugin, camera_id, mode="remote", remote_url=url, remote_token="wrong-1")
        native_id, camera = await create(
            plugin, camera_id, mode="remote", remote_url=url, remote_token="runner-token-123"
        )
        ids = sensors(host, native_id)
        await wait_until(lambda: host.state(ids["door_open"], "entryOpen") is False)
        script.truth = OPEN
        await wait_until(lambda: host.state(ids["car_present"], "occupied") is True)
        page = {s["key"]: s for s in await camera.getSettings()}
        assert page["remote_token"]["type"] == "password" and "model" not in page
        assert all("runner-token-123" not in line and "wrong-1" not in line for line in console)
        assert plugin._gc_engines.open_models == 0  # nothing loaded locally
        assert "model" not in host.native_ids[native_id].storage  # a runner device has none
    finally:
        await server.stop()
        await engine.close()


async def test_a_replaced_model_file_is_loaded_anew(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    host.files.mkdir(parents=True, exist_ok=True)
    model = host.files / "mine.pte"
    model.write_bytes(demo_model_path().read_bytes())
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    _native_id, camera = await create(plugin, camera_id, model="mine.pte")
    old = camera.gc_core.engine
    model.write_bytes(demo_model_path().read_bytes() + b"")  # same name, new file
    os.utime(model, ns=(1, 1))
    await camera.putSetting("model", "mine.pte")
    assert camera.gc_core.engine is not old
    assert plugin._gc_engines.open_models == 1  # the old one was closed
    with pytest.raises(EngineClosedError, match="closed"):  # the old engine is gone
        await old.classify(script())


async def test_an_engine_that_cannot_start_is_a_clear_error(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    def factory(config: ModelConfig) -> Any:
        raise PermissionError(13, "Permission denied", "/usr/bin/python3")

    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin(engine_factory=factory)
    with pytest.raises(Exception, match=r"cannot load demo\.gcam: PermissionError"):
        await plugin.createDevice({"camera": camera_id})
    assert list(host.devices) == []


async def test_a_load_given_up_on_is_closed_once_it_is_done() -> None:
    """A camera's open cancelled while its worker starts (the plugin stopping, a replaced
    setting): the worker is closed when it is up, not left running without a user."""
    from garagecam_scrypted.engines import Engines
    from garagecam_scrypted.settings import CameraSettings

    entered, proceed = threading.Event(), threading.Event()
    opened: list[FlakyEngine] = []

    def factory(config: ModelConfig) -> Any:
        entered.set()
        proceed.wait(30)
        opened.append(FlakyEngine(default_engine_factory(config)))
        return opened[-1]

    engines = Engines(factory, "local")
    opening = asyncio.create_task(engines.open(CameraSettings("camera-1"), []))
    assert await asyncio.to_thread(entered.wait, 30)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert engines.open_models == 0
    proceed.set()
    await engines.close()  # waits for the abandoned load
    assert len(opened) == 1
    with pytest.raises(EngineClosedError):
        await opened[0].classify(b"frame")


async def test_a_flood_of_setting_changes_leaves_one_loop_with_the_last_value(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    run = await running(host, make_plugin, script)
    native_id, camera, door = run.native_id, run.camera, run.ids["door_open"]
    values = [0.05 + i / 1000 for i in range(30)]
    results = await asyncio.gather(
        *(camera.putSetting("interval", v) for v in values),
        camera.putSetting("interval", "oops"),
        return_exceptions=True,
    )
    assert [r for r in results if r is not None] and all(r is None for r in results[:-1])
    stored = float(host.native_ids[native_id].storage["interval"])
    assert stored in values and camera.gc_core.interval == stored
    loops = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Camera.run"]
    assert len(loops) == 1  # every replaced loop was stopped
    assert host.state(door, "online") is True


async def test_sensors_asked_for_before_the_model_loads(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    native_id, _camera = await create(plugin, camera_id)
    await plugin.gc_close()
    plugin2 = await make_plugin(
        engine_factory=lambda config: (_ for _ in ()).throw(WorkerError("no"))
    )
    camera2 = await plugin2.getDevice(native_id)
    sensor = await camera2.getDevice(f"{native_id}:door_open")
    assert sensor.nativeId == f"{native_id}:door_open"
    assert host.state(f"{native_id}:door_open", "online") is False


# --- HomeKit ---------------------------------------------------------------------------------


async def test_new_sensors_get_the_homekit_mixin_once(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    """HomeKit auto-enables devices only at its own start: new sensors get its mixin from us,
    once (a user who turns HomeKit off on one keeps it off), and only if HomeKit is there."""
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    native_id, camera = await create(plugin, camera_id)  # no HomeKit plugin yet
    ids = sensors(host, native_id)
    assert host.mixin_changes == []

    homekit = host.add_homekit()  # installed later: the next sync offers the sensors
    await camera.putSetting("interval", TEST_INTERVAL * 2)
    assert host.mixins(ids["door_open"]) == [homekit]
    assert host.mixins(ids["car_present"]) == [homekit]

    door_id = host.native_ids[ids["door_open"]].id
    host.system_state[door_id]["mixins"] = {"value": []}  # the user disables HomeKit on it
    await camera.putSetting("interval", TEST_INTERVAL)
    assert host.mixins(ids["door_open"]) == []


async def test_homekit_opt_out_adds_no_mixin(
    host: FakeHost, make_plugin: Any, script: Script
) -> None:
    host.add_homekit()
    camera_id, _ = host.add_camera("Driveway", script)
    plugin = await make_plugin()
    _, camera = await create(plugin, camera_id, homekit=False)
    assert host.mixin_changes == []
    page = {s["key"]: s for s in await camera.getSettings()}
    assert page["homekit"]["value"] is False


async def test_sensors_are_unknown_until_a_state_is_decided(
    host: FakeHost, make_plugin: Any, script: Script, clock: Clock
) -> None:
    """Fresh frames alone do not make the server's stored state current: until the debouncer
    decides, the sensor is offline and tampered (HomeKit's StatusTampered); after, it is not;
    frames older than the maximum age flag it again."""
    run = await running(host, make_plugin, script)
    door = run.ids["door_open"]
    assert host.state(door, "online") is True and host.state(door, "tampered") is False
    await run.plugin.gc_close()

    host.set_state(door, "entryOpen", True)  # what the server kept from before the restart
    flip = iter(range(10**9))
    frames = script.frames
    # frames that never agree twice in a row: with confirm_frames 2 nothing is decided
    run.fake.frames = lambda: frames[OPEN if next(flip) % 2 else CLOSED][0]
    host.native_ids[run.native_id].storage["confirm_frames"] = "2"
    plugin2 = await make_plugin()
    camera2 = await plugin2.getDevice(run.native_id)
    await wait_until(lambda: camera2.gc_core is not None and camera2.gc_core.last_frame is not None)
    calls = len(run.fake.calls)
    await wait_until(lambda: len(run.fake.calls) >= calls + 3)
    assert camera2.gc_core.available
    assert camera2.gc_core.debouncer.state("door_open").value == "unknown"
    assert host.state(door, "online") is False
    assert host.state(door, "tampered") is True
    assert host.state(door, "entryOpen") is True  # kept, but flagged as not current

    run.fake.frames = lambda: frames[CLOSED][0]
    await wait_until(lambda: host.state(door, "entryOpen") is False)
    assert host.state(door, "online") is True and host.state(door, "tampered") is False

    run.fake.error = RuntimeError("camera unplugged")  # no more good frames ...
    clock.offset = 10_000  # ... and the last one is now older than the maximum age
    await wait_until(lambda: host.state(door, "tampered") is True)
    assert host.state(door, "online") is False


async def test_accessory_names_and_status_read_well(
    host: FakeHost, make_plugin: Any, script: Script, console: list[str]
) -> None:
    run = await running(host, make_plugin, script)
    # renaming the GarageCam device renames no sensor at the next settings change
    host.set_state(run.native_id, "name", "Front")
    await run.camera.putSetting("interval", TEST_INTERVAL * 2)
    names = {label: host.devices[n]["name"] for label, n in run.ids.items()}
    assert names == {"door_open": "Garage Door Open", "car_present": "Garage Car Present"}
    # the demo model by its name, not its path in the plugin's pip folder
    assert "model demo" in run.camera.gc_status()
    assert str(demo_model_path()) not in run.camera.gc_status()

    class RPCResultError(Exception):  # server/python/rpc.py: Exception.__init__ never called
        def __init__(self, caught: Any, message: str) -> None:
            self.caught, self.message = caught, message

    run.fake.error = RPCResultError(None, "camera offline")
    await wait_until(lambda: any("snapshot failed" in line for line in console))
    (line,) = [line for line in console if "snapshot failed" in line]
    assert "snapshot failed: camera offline)" in line and "(None," not in line, line


async def test_a_restart_shows_nothing_as_current_while_the_model_loads(
    host: FakeHost, make_plugin: Any, script: Script, clock: Clock, console: list[str]
) -> None:
    """Scrypted restarts with the plugin's last states stored (an open door): from the
    plugin's start until its first decision they are offline and tampered, not current."""
    run = await running(host, make_plugin, script)
    door = run.ids["door_open"]
    await run.plugin.gc_close()
    host.set_state(door, "entryOpen", True)  # what the server kept; the garage is closed

    loading = threading.Event()

    def slow_factory(config: ModelConfig) -> Any:  # a worker that takes its time to start
        loading.wait(60)
        return default_engine_factory(config)

    plugin = GarageCamPlugin(
        engine_kind="local", engine_factory=slow_factory, clock=clock, write=console.append
    )
    try:
        await wait_until(lambda: host.state(door, "online") is False, limit=20)
        assert host.state(door, "tampered") is True
        assert host.state(door, "entryOpen") is True  # kept, flagged as not current
        loading.set()
        await plugin.gc_ready()
        await wait_until(lambda: host.state(door, "entryOpen") is False)
        assert host.state(door, "online") is True and host.state(door, "tampered") is False
    finally:
        loading.set()
        await plugin.gc_close()
