"""The studio served by a running runner: behind the API token (or, without one, for this
machine only), on the runner's own captures, and "Use this model" / "Roll back" swapping
the model of the running cameras without a restart.

Real parts: the runner with its HTTP server, file cameras replaying generated scenes, the
demo model and the tiny test model (their outputs differ, so a classification tells which
model made it), a model with other labels exported by the project's exporter, real files.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core import demo_model_path
from garagecam_core.camera import Camera, CameraListener, Frame
from garagecam_core.deploy import previous_path
from garagecam_core.engine.base import ExecutorEngine
from garagecam_core.engine.factory import ModelConfig
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.errors import ModelError
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from garagecam_core.scenes import generate_scene
from garagecam_core.studio.training import TrainingJob, TrainSettings
from tests.conftest import TINY_INPUT
from tests.core.runner.support import eventually, local_engine, running_runner

TOKEN = "studio-runner-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/v1/studio/api"


@pytest.fixture(scope="module")
def other_labels_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny network exported with labels the cameras do not have (`gate_open`)."""
    from garagecam_core.export import export_model
    from garagecam_core.metadata import ModelMetadata, parse_label_specs
    from tests.tiny_model import build

    metadata = ModelMetadata(
        name="gate",
        input_height=TINY_INPUT,
        input_width=TINY_INPUT,
        labels=parse_label_specs("gate_open:garage_door,car_present:occupancy"),
        version="test",
    )
    out = tmp_path_factory.mktemp("gate") / "gate.pte"
    export_model(build(), metadata, out, progress=False)
    return out


def config_for(tmp_path: Path, token: str | None, host: str = "127.0.0.1") -> Any:
    """Two cameras sharing one model file (a copy of the demo model), the studio on the
    garage camera's captures."""
    (tmp_path / "models").mkdir()
    shutil.copyfile(demo_model_path(), tmp_path / "models" / "garage.pte")
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in (0, 2):  # door closed / open
        (frames / f"{index}.jpg").write_bytes(generate_scene(5, index, sizes=((320, 180),)).jpeg)
    camera = {"file": "frames", "model": "garage", "interval": 0.05, "confirm_frames": 1}
    http: dict[str, Any] = {"host": host, "port": 0}
    if token:
        http["token"] = token
    return parse_config(
        {
            "models": {"garage": {"path": "models/garage.pte"}},
            "http": http,
            "capture": {"enabled": True},
            "studio": {"enabled": True, "camera": "garage"},
            "cameras": [{"id": "garage", **camera}, {"id": "shed", **camera, "capture": False}],
        },
        base_dir=tmp_path,
    )


def same_file(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def url(runner: Runner, host: str = "127.0.0.1") -> str:
    assert runner.http is not None
    return f"http://{host}:{runner.http.port}"


def finished_run(runner: Runner, model: Path, run_id: str = "r1") -> None:
    """A training run that is done, with `model` as its result (training itself is tested
    with the studio; here only what happens after "Use this model" matters)."""
    studio = runner.studio
    assert studio is not None
    directory = studio.store.studio_dir / "runs" / run_id
    directory.mkdir(parents=True)
    shutil.copyfile(model, directory / "model.pte")
    studio.jobs[run_id] = TrainingJob(run_id, directory, TrainSettings(), 10, status="done")


async def next_frames(runner: Runner, count: int = 2) -> None:
    """Wait until every camera has analysed `count` more frames."""
    seen = {cid: runner.metrics.frames.value(cid) for cid in runner.cameras}
    for cid, value in seen.items():
        assert await eventually(lambda c=cid, v=value: runner.metrics.frames.value(c) >= v + count)


def assert_made_by(camera: Camera, model: Path, other: Path) -> None:
    """The camera's last classification is `model`'s answer for that frame, not `other`'s."""
    frame = camera.last_frame
    assert frame is not None
    with LocalEngine(model) as engine, LocalEngine(other) as rival:
        expected = engine.classify(frame.image).probabilities
        rival_answer = rival.classify(frame.image).probabilities
    got = frame.classification.probabilities
    assert got == pytest.approx(expected, abs=1e-4), camera.id
    common = set(expected) & set(rival_answer)
    assert max(abs(rival_answer[k] - expected[k]) for k in common) > 0.1  # they do differ


async def test_studio_pages_need_the_token_and_show_the_runners_captures(
    tmp_path: Path,
) -> None:
    config = config_for(tmp_path, TOKEN)
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession() as http,
    ):
        base = url(runner)
        async with http.get(f"{base}/studio/") as response:
            assert response.status == 200  # the page holds no data; it asks for the token
        async with http.get(f"{base}{API}/state") as response:
            assert response.status == 401
        async with http.get(f"{base}{API}/state", headers={"Authorization": "Bearer no"}) as r:
            assert r.status == 403
        async with http.get(f"{base}{API}/state", headers=AUTH) as response:
            assert response.status == 200
            state = await response.json()
        assert state["dataset"] == str((tmp_path / "captures" / "garage").resolve())
        assert state["deploy"]["target"] == str(tmp_path / "models" / "garage.pte")
        assert state["model"]["name"] == "garagecam-demo"

        assert await eventually(lambda: runner.metrics.captured.value("garage", "background"))
        assert runner.capture is not None
        await runner.capture.drain()
        async with http.post(f"{base}{API}/refresh", json={}, headers=AUTH) as response:
            assert response.status == 200
        async with http.get(f"{base}{API}/frames", headers=AUTH) as response:
            frames = await response.json()
        assert {f["reason"] for f in frames} <= {"background", "state_change"} and frames
        path = frames[0]["path"]
        assert path.startswith("images/")
        labels = {"labels": {path: {"door_open": 1, "car_present": 0}}}
        async with http.post(f"{base}{API}/labels", json=labels) as response:
            assert response.status == 401  # a write without the token
        async with http.post(f"{base}{API}/labels", json=labels, headers=AUTH) as response:
            assert response.status == 200
        line = json.loads((tmp_path / "captures" / "garage" / "labels.jsonl").read_text())
        assert line["path"] == path and line["labels"] == {"door_open": 1, "car_present": 0}
        # the runner's own API is unchanged beside it
        async with http.get(f"{base}/v1/cameras", headers=AUTH) as response:
            assert response.status == 200 and set(await response.json()) == {"garage", "shed"}


def outside_address() -> str | None:
    """An address of this machine that is not loopback (the route to a TEST-NET address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_without_a_token_the_studio_answers_this_machine_only(tmp_path: Path) -> None:
    outside = outside_address()
    # a machine with no interface but loopback cannot show the refusal over a real socket
    assert outside is not None, "this test needs an address besides loopback to connect from"
    config = config_for(tmp_path, None, host="0.0.0.0")
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{url(runner)}{API}/state") as response:
            assert response.status == 200
        evil = {"Host": "garage.attacker.example"}  # DNS rebinding: another name, our address
        async with http.get(f"{url(runner)}{API}/state", headers=evil) as response:
            assert response.status == 421
        # from another address, even when it claims the loopback name: refused
        lying = {"Host": "127.0.0.1"}
        async with http.get(f"{url(runner, outside)}{API}/state", headers=lying) as response:
            assert response.status == 403
            assert "only this machine" in (await response.json())["error"]
        async with http.get(f"{url(runner, outside)}/studio/", headers=lying) as response:
            assert response.status == 403
        async with http.get(f"{url(runner, outside)}/v1/cameras") as response:
            assert response.status == 200  # the API without a token is the user's choice


async def test_use_this_model_swaps_the_running_cameras_and_rollback_swaps_back(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    config = config_for(tmp_path, TOKEN)
    target = tmp_path / "models" / "garage.pte"
    demo = demo_model_path()
    # the default engines: one worker process for the model both cameras share
    async with (
        running_runner(config) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
    ):
        garage, shed = runner.cameras["garage"], runner.cameras["shed"]
        await next_frames(runner)
        assert_made_by(garage, demo, tiny_model_path)
        first = runner.engines["garage"]
        assert isinstance(first, ExecutorEngine) and isinstance(first.engine, WorkerEngine)
        finished_run(runner, tiny_model_path)

        async with http.post(f"{API}/deploy", json={"run": "r1"}) as response:
            assert response.status == 200, await response.text()
        assert same_file(target, tiny_model_path) and same_file(previous_path(target), demo)
        second = runner.engines["garage"]
        assert second is not first and first.closed and second.metadata.name == "tiny"
        # one engine, still shared: both cameras and the API see the new one
        assert garage.engine.gate is shed.engine.gate  # type: ignore[attr-defined]
        assert garage.engine.gate.engine is second  # type: ignore[attr-defined]
        await next_frames(runner)
        assert_made_by(garage, tiny_model_path, demo)
        assert_made_by(shed, tiny_model_path, demo)
        for camera in (garage, shed):  # the new model's thresholds (no camera overrides)
            assert camera.debouncer.policy("door_open").on_threshold == 0.6
        async with http.get("/v1/models") as response:
            assert (await response.json())["garage"]["name"] == "tiny"
        image = (tmp_path / "frames" / "2.jpg").read_bytes()
        async with http.post("/v1/classify", data=image) as response:
            answer = (await response.json())["probabilities"]
        with LocalEngine(tiny_model_path) as tiny:
            assert answer == pytest.approx(tiny.classify(image).probabilities, abs=1e-4)
        async with http.get(f"{API}/state") as response:
            assert (await response.json())["model"]["name"] == "tiny"
        text = runner.metrics.render()
        assert 'metadata_name="tiny"' in text and 'metadata_name="garagecam-demo"' not in text
        assert runner.metrics.model_swaps.value("garage", "ok") == 1

        async with http.post(f"{API}/rollback", json={}) as response:
            assert response.status == 200, await response.text()
        assert same_file(target, demo)
        third = runner.engines["garage"]
        assert second.closed and third.metadata.name == "garagecam-demo"  # type: ignore[attr-defined]
        await next_frames(runner)
        assert_made_by(garage, demo, tiny_model_path)
        assert_made_by(shed, demo, tiny_model_path)
        # the demo's own threshold again (no override for door_open on this camera)
        demo_door = next(s for s in third.metadata.labels if s.name == "door_open")  # type: ignore[attr-defined]
        assert garage.debouncer.policy("door_open").on_threshold == demo_door.on_threshold
        assert demo_door.on_threshold != 0.6  # differs from tiny's, so the check can fail
        assert garage.failures == shed.failures == 0


async def test_a_model_with_other_labels_is_refused_and_the_old_one_keeps_running(
    tmp_path: Path, other_labels_model: Path
) -> None:
    config = config_for(tmp_path, TOKEN)
    target = tmp_path / "models" / "garage.pte"
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
    ):
        engine = runner.engines["garage"]
        finished_run(runner, other_labels_model)
        async with http.post(f"{API}/deploy", json={"run": "r1"}) as response:
            assert response.status == 400
            error = (await response.json())["error"]
        assert "labels (gate_open, car_present)" in error and "keeps running" in error
        assert "\n" not in error
        assert same_file(target, demo_model_path())
        assert not previous_path(target).exists()
        assert runner.engines["garage"] is engine and not engine.closed  # type: ignore[attr-defined]
        await next_frames(runner)
        assert_made_by(runner.cameras["garage"], demo_model_path(), other_labels_model)
        assert runner.metrics.model_swaps.value("garage", "refused") == 1


async def test_a_model_the_runner_cannot_load_is_put_back_and_the_old_one_keeps_running(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """The file is already in place when the runner loads it: if that fails (here: the
    engine refuses it), the old file comes back, so a restart runs what runs now."""
    config = config_for(tmp_path, TOKEN)
    target = tmp_path / "models" / "garage.pte"
    refuse = {"on": False}

    def factory(model: ModelConfig) -> Any:
        if refuse["on"]:
            raise ModelError(f"{model.path}: this runner's engine cannot load it")
        return local_engine(model)

    async with (
        running_runner(config, engine_factory=factory) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
    ):
        engine = runner.engines["garage"]
        finished_run(runner, tiny_model_path)
        refuse["on"] = True
        async with http.post(f"{API}/deploy", json={"run": "r1"}) as response:
            assert response.status == 400
            assert "cannot load it" in (await response.json())["error"]
        assert same_file(target, demo_model_path())
        assert runner.engines["garage"] is engine
        async with http.get(f"{API}/state") as response:
            assert (await response.json())["model"]["name"] == "garagecam-demo"
        assert runner.metrics.model_swaps.value("garage", "failed") == 1
        await next_frames(runner)
        assert_made_by(runner.cameras["garage"], demo_model_path(), tiny_model_path)


async def test_a_camera_bug_logs_its_traceback_once_then_one_line_per_repeat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Buggy(CameraListener):
        def __init__(self) -> None:
            self.failing, self.raised = True, 0

        def on_frame(self, camera: Camera, frame: Frame, transitions: Any) -> None:
            if self.failing:
                self.raised += 1
                raise RuntimeError("a bug in a listener")

    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0.jpg").write_bytes(generate_scene(5, 0, sizes=((320, 180),)).jpeg)
    config = parse_config(
        {
            "http": None,
            "cameras": [
                {"id": "garage", "file": str(frames), "interval": 0.02, "max_backoff": 0.05}
            ],
        }
    )
    buggy = Buggy()
    caplog.set_level(logging.INFO, logger="garagecam.runner.camera")
    async with running_runner(config, engine_factory=local_engine, extra_listeners=[buggy]):
        assert await eventually(lambda: buggy.raised >= 4)
        buggy.failing = False
        assert await eventually(lambda: any("any more" in r.getMessage() for r in caplog.records))
    records = [r for r in caplog.records if r.name == "garagecam.runner.camera"]
    tracebacks = [r for r in records if r.exc_info]
    assert len(tracebacks) == 1 and "unexpected error" in tracebacks[0].getMessage()
    repeats = [r for r in records if "unexpected error again" in r.getMessage()]
    assert len(repeats) == buggy.raised - 1 and all(r.exc_info is None for r in repeats)
    assert "RuntimeError: a bug in a listener" in repeats[0].getMessage()
    recovered = [r.getMessage() for r in records if "any more" in r.getMessage()]
    assert recovered == [
        f"Camera garage: no unexpected error any more (after {buggy.raised} in a row)"
    ]


async def test_the_bundled_demo_model_is_never_replaced(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0.jpg").write_bytes(generate_scene(5, 0, sizes=((320, 180),)).jpeg)
    config = parse_config(
        {
            "http": {"port": 0, "token": TOKEN},
            "capture": {"enabled": True},
            "studio": {"enabled": True},
            "cameras": [{"id": "garage", "file": "frames", "interval": 0.05}],
        },
        base_dir=tmp_path,
    )
    demo = demo_model_path()
    before = demo.read_bytes()
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
    ):
        finished_run(runner, tiny_model_path)
        async with http.post(f"{API}/deploy", json={"run": "r1"}) as response:
            assert response.status == 400
            assert "bundled demo model, which is never replaced" in (await response.json())["error"]
        async with http.post(f"{API}/rollback", json={}) as response:
            assert response.status == 400
        assert runner.engines["demo"].metadata.name == "garagecam-demo"
    assert demo.read_bytes() == before
    assert not previous_path(demo).exists()


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
     ("192.0.2.2", False), ("::ffff:192.0.2.2", False), ("", False), ("garage.lan", False)],
)  # fmt: skip
def test_loopback_clients_include_ipv4_mapped_addresses(address: str, loopback: bool) -> None:
    from garagecam_core.runner.http import is_loopback

    assert is_loopback(address) is loopback
