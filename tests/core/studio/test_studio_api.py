"""The studio's HTTP API in-process, with a real model in a real inference worker: the
guards (token, Host, JSON-only POSTs, only scanned frames served), label writes, bulk accept,
agreement and the training/deploy refusals that need no torch run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core.runner.http import start_site
from garagecam_core.scenes import generate_scene
from garagecam_core.studio import state as state_module
from garagecam_core.studio.app import create_app
from garagecam_core.studio.state import Studio

TOKEN = "api-test-token"


def make_folder(root: Path, count: int = 10) -> dict[str, dict[str, int]]:
    truth = {}
    for i in range(count):
        scene = generate_scene(31, i, sizes=((320, 180),))
        (root / f"f{i:02d}.jpg").write_bytes(scene.jpeg)
        truth[f"f{i:02d}.jpg"] = {"door_open": int(scene.door_open),
                                  "car_present": int(scene.car_present)}  # fmt: skip
    (root / "notes.txt").write_text("not an image")
    return truth


async def started(root: Path, model: Path, token: str | None) -> tuple[Studio, Any, str]:
    studio = Studio(root, model)
    await studio.start()
    for task in list(studio._tasks):  # wait for the probabilities of every frame
        await task
    runner, port = await start_site(create_app(studio, token), "127.0.0.1", 0)
    return studio, runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def open_studio(
    tmp_path: Path, tiny_model_path: Path
) -> AsyncIterator[tuple[Studio, str, dict[str, dict[str, int]]]]:
    truth = make_folder(tmp_path)
    studio, runner, url = await started(tmp_path, tiny_model_path, None)
    yield studio, url, truth
    await runner.cleanup()
    await studio.close()


async def test_too_few_confirmed_frames_refused_before_training(
    open_studio: tuple[Studio, str, dict[str, dict[str, int]]],
) -> None:
    studio, url, truth = open_studio
    five = dict(list(truth.items())[:5])
    studio.set_labels(five)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/studio/api/train", json={}) as response:
            assert response.status == 400
            assert "needs at least 8" in (await response.json())["error"]
    assert studio.jobs == {}


async def test_frames_labels_accept_and_guards(
    open_studio: tuple[Studio, str, dict[str, dict[str, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    studio, url, truth = open_studio
    api = f"{url}/v1/studio/api"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api}/frames") as response:
            frames = await response.json()
        assert sorted(f["path"] for f in frames) == sorted(truth)  # notes.txt is not a frame
        assert all(f["probabilities"] is not None for f in frames)
        assert all(f["suggestion_from"].keys() == f["suggestion"].keys() for f in frames)

        # another Host (DNS rebinding) and non-JSON POSTs (cross-site forms) are refused
        async with http.get(f"{api}/frames", headers={"Host": "evil.example:80"}) as response:
            assert response.status == 421
        async with http.post(f"{api}/labels", data="labels=x",
                             headers={"Content-Type": "text/plain"}) as response:  # fmt: skip
            assert response.status == 415

        # only frames of the scan are served
        for path in ("../../etc/passwd", "notes.txt", "/etc/hostname"):
            async with http.get(f"{api}/image", params={"path": path}) as response:
                assert response.status == 404
        async with http.get(f"{api}/image", params={"path": "f00.jpg", "size": "thumb"}) as r:
            assert r.status == 200 and r.content_type == "image/jpeg"
            assert r.headers["X-Content-Type-Options"] == "nosniff"

        # labels: bad input is a clear 400 and writes nothing
        bad: list[Any] = [{"labels": {"f00.jpg": {"door_open": 1}}}, {"labels": []}, [1]]
        for body in bad:
            async with http.post(f"{api}/labels", json=body) as response:
                assert response.status == 400 and (await response.json())["error"]
        assert not (studio.store.root / "labels.jsonl").exists()
        first = {f"f{i:02d}.jpg": truth[f"f{i:02d}.jpg"] for i in range(5)}
        async with http.post(f"{api}/labels", json={"labels": first}) as response:
            assert (await response.json()) == {"saved": 5, "confirmed": 5}
        lines = (studio.store.root / "labels.jsonl").read_text().splitlines()
        assert {json.loads(x)["path"]: json.loads(x)["labels"] for x in lines} == first

        async with http.get(f"{api}/frames", params={"filter": "unlabelled"}) as response:
            assert len(await response.json()) == 5
        async with http.get(f"{api}/frames", params={"filter": "nope"}) as response:
            assert response.status == 400

        # bulk accept: the model's sure votes become labels; unsure frames are skipped
        rest = [f"f{i:02d}.jpg" for i in range(5, 10)]
        async with http.post(f"{api}/accept", json={"paths": rest}) as response:
            result = await response.json()
        assert result["accepted"] + len(result["skipped"]) == 5
        for path in set(rest) - set(result["skipped"]):
            frame = studio.store.frame(path)
            assert frame is not None and frame.by == "user"
            assert frame.labels == studio.suggestion(frame)

        async with http.get(f"{api}/agreement") as response:
            agreement = await response.json()
        assert agreement["door_open"]["student_user"]["total"] >= 0
        assert agreement["door_open"]["teacher_user"]["total"] == 0  # no teacher configured

        # the teacher is never contacted when not configured
        async with http.post(f"{api}/teacher", json={"paths": rest}) as response:
            assert response.status == 400 and "no teacher" in (await response.json())["error"]

        # fine-tuning the network without torch: the studio says so, writes the dataset and
        # shows the command
        monkeypatch.setattr(state_module, "train_available", lambda: False)
        async with http.post(f"{api}/labels", json={"labels": truth}) as response:
            assert (await response.json()) == {"saved": 10, "confirmed": 10}
        for name in ("door_open", "car_present"):  # the seed gives both states of each label
            assert {t[name] for t in truth.values()} == {0, 1}
        async with http.post(f"{api}/train", json={"full": True, "epochs": 1}) as response:
            body = await response.json()
        assert body["status"] == "unavailable" and "garagecam-core[train]" in body["error"]
        assert "garagecam train --full --data" in body["command"]
        data = Path(body["command"].split("--data ")[1].split(" ")[0])
        assert len((data / "labels.jsonl").read_text().splitlines()) == body["frames"] == 10
        async with http.post(f"{api}/train", json={"epochs": "many"}) as response:
            assert response.status == 400

        async with http.post(f"{api}/deploy", json={"run": "nope"}) as response:
            assert response.status == 400
        async with http.post(f"{api}/rollback", json={}) as response:
            assert response.status == 400 and "--deploy-to" in (await response.json())["error"]


async def test_token_guards_the_api_not_the_empty_page(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    make_folder(tmp_path, 2)
    studio, runner, url = await started(tmp_path, tiny_model_path, TOKEN)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/studio/") as response:
                assert response.status == 200 and "GarageCam studio" in await response.text()
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            api = f"{url}/v1/studio/api/state"
            async with http.get(api) as response:
                assert response.status == 401
            async with http.get(api, headers={"Authorization": "Bearer nope"}) as response:
                assert response.status == 403
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(api, headers=auth) as response:
                assert response.status == 200 and (await response.json())["frames"] == 2
            # with a token, other Host names are fine (the studio is meant to be reached)
            async with http.get(api, headers={**auth, "Host": "garage.lan"}) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
        await studio.close()


async def test_teacher_run_skips_unreadable_frames_and_reports_server_errors(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    from garagecam_core.studio.teacher import TeacherConfig

    from .vlm_server import FakeVlm, serve

    make_folder(tmp_path, 2)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    async with serve(FakeVlm(lambda q, _: "yes 0.6" if "door" in q else "no")) as vlm:
        studio = Studio(tmp_path, tiny_model_path, teacher=TeacherConfig(vlm.url, "m", "k-123"))
        await studio.start()
        try:
            studio.start_teacher(["f00.jpg", "broken.jpg", "f01.jpg", "not-a-frame.jpg"])
            for task in list(studio._tasks):
                await task
            assert studio.teacher_progress.error is None
            assert len(vlm.requests) == 4  # two frames, two labels; the broken one skipped
            frame = studio.store.frame("f00.jpg")
            assert frame is not None
            assert studio.teacher_of(frame) == {
                "door_open": {"label": "door_open", "value": 1, "confidence": 0.6,
                              "raw": "yes 0.6"},
                "car_present": {"label": "car_present", "value": 0, "confidence": None,
                                "raw": "no"},
            }  # fmt: skip
            assert studio.suggestion(frame) == {"door_open": 1, "car_present": 0}
            # answers survive a restart (cached per teacher model and file version)
            cached = json.loads((tmp_path / ".studio" / "teacher.json").read_text())
            assert len(cached) == 2

            vlm.status = 500
            studio._teacher_cache.clear()
            studio.start_teacher(["f00.jpg"])
            for task in list(studio._tasks):
                await task
            assert "HTTP 500" in (studio.teacher_progress.error or "")
            assert "k-123" not in (studio.teacher_progress.error or "")
        finally:
            await studio.close()


async def test_deploy_and_rollback_tell_the_host_and_swap_the_file(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    import shutil

    from garagecam_core import demo_model_path
    from garagecam_core.deploy import previous_path
    from garagecam_core.studio.training import TrainingJob, TrainSettings

    data = tmp_path / "data"
    data.mkdir()
    make_folder(data, 2)
    camera_model = tmp_path / "garage.pte"
    shutil.copyfile(demo_model_path(), camera_model)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tiny_model_path, run / "model.pte")  # stands in for a finished training
    changes: list[Path] = []

    async def reload(path: Path) -> None:
        changes.append(path)

    studio = Studio(data, camera_model, deploy_to=camera_model, on_model_change=reload)
    await studio.start()
    try:
        studio.jobs["r1"] = TrainingJob("r1", run, TrainSettings(), 2, status="done")
        await studio.deploy("r1")
        tiny = tiny_model_path.read_bytes()  # noqa: ASYNC240 - a test reading a small file
        assert camera_model.read_bytes() == tiny
        assert previous_path(camera_model).read_bytes() == demo_model_path().read_bytes()
        assert studio.predictor is not None and studio.predictor.metadata.name == "tiny"
        assert studio.jobs["r1"].deployed
        await studio.rollback()
        assert camera_model.read_bytes() == demo_model_path().read_bytes()
        assert studio.predictor.metadata.name == "garagecam-demo"
        assert changes == [camera_model, camera_model]
    finally:
        await studio.close()


async def test_guard_leaves_the_hosts_own_routes_alone() -> None:
    from aiohttp import web

    from garagecam_core.studio.app import guard

    async def classify(request: web.Request) -> web.Response:
        return web.json_response({"bytes": len(await request.read())})

    app = web.Application(middlewares=[guard(True)])
    app.router.add_post("/v1/classify", classify)
    app.router.add_post("/v1/studio/api/labels", classify)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}"
            headers = {"Content-Type": "image/jpeg"}
            async with http.post(f"{url}/v1/classify", data=b"jpeg", headers=headers) as r:
                assert r.status == 200 and (await r.json()) == {"bytes": 4}
            async with http.post(f"{url}/v1/studio/api/labels", data=b"x", headers=headers) as r:
                assert r.status == 415
    finally:
        await runner.cleanup()


async def test_a_flood_of_concurrent_label_writes_loses_none(
    open_studio: tuple[Studio, str, dict[str, dict[str, int]]],
) -> None:
    import asyncio

    studio, url, truth = open_studio
    async with aiohttp.ClientSession() as http:

        async def save(path: str, labels: dict[str, int]) -> int:
            body = {"labels": {path: labels}}
            async with http.post(f"{url}/v1/studio/api/labels", json=body) as response:
                return response.status

        statuses = await asyncio.gather(
            *(save(path, labels) for path, labels in truth.items() for _ in range(5))
        )
    assert set(statuses) == {200}
    lines = (studio.store.root / "labels.jsonl").read_text().splitlines()
    assert {json.loads(line)["path"]: json.loads(line)["labels"] for line in lines} == truth
    assert len(lines) == len(truth)  # one line per frame, however many times it was saved


async def _finished(studio: Studio, run: str) -> dict[str, Any]:
    import asyncio

    job = studio.jobs[run]
    for _ in range(1200):  # a bound, not a timing assert: the run ends or the test fails
        if job.status not in ("starting", "running") and (
            job.status != "done" or job.comparison is not None
        ):
            return job.to_dict()
        await asyncio.sleep(0.1)
    raise AssertionError(f"training run still {job.status}: {job.stage}")


async def test_train_fits_a_head_in_process_and_use_this_model_deploys_the_gcam(
    tmp_path: Path, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from garagecam_core.bundle import is_head_model

    data = tmp_path / "data"
    data.mkdir()
    truth = make_folder(data, 12)
    camera_model = tmp_path / "garage.pte"
    shutil.copyfile(tiny_model_path, camera_model)
    # the head path needs no PyTorch: training works where the train extra is missing
    monkeypatch.setattr(state_module, "train_available", lambda: False)
    studio = Studio(data, camera_model, deploy_to=camera_model)
    await studio.start()
    try:
        for task in list(studio._tasks):
            await task
        studio.set_labels(truth)
        job = studio.start_training(studio.settings)
        assert job.kind == "head" and job.model_path.name == "model.gcam"
        run = await _finished(studio, job.id)
        assert run["status"] == "done", run["error"]
        assert run["stage"] == "done" and "no PyTorch" in run["mode"]
        cmp = run["comparison"]
        assert cmp["method"] == "cross-validated" and cmp["frames"] == 12 and cmp["too_few"]
        for name in ("door_open", "car_present"):
            new, current = cmp["labels"][name]["new"], cmp["labels"][name]["current"]
            assert new["total"] == 12 and current["total"] == 12  # n of N, the same frames
            assert 0 <= new["correct"] <= 12 and new["interval"][0] <= new["accuracy"]
        assert run["summary"]["frames"] == 12
        assert set(run["summary"]["thresholds"]) == {"door_open", "car_present"}
        # the embeddings are cached beside the shared training folder: a second run reuses them
        again = studio.start_training(studio.settings)
        second = await _finished(studio, again.id)
        assert second["summary"]["cached_frames"] == 12

        await studio.deploy(job.id)
        assert is_head_model(camera_model)  # the configured file name, the head's content
        assert camera_model.read_bytes() == job.model_path.read_bytes()
        assert studio.predictor is not None
        assert studio.predictor.metadata.name == f"garagecam-{data.name}"
        await studio.rollback()
        assert camera_model.read_bytes() == tiny_model_path.read_bytes()  # noqa: ASYNC240
    finally:
        await studio.close()


async def test_the_full_fine_tune_is_an_option_refused_without_pytorch(
    open_studio: tuple[Studio, str, dict[str, dict[str, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from garagecam_core.studio import app as app_module

    studio, url, truth = open_studio
    monkeypatch.setattr(state_module, "train_available", lambda: False)
    monkeypatch.setattr(app_module, "train_available", lambda: False)
    studio.set_labels(truth)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/v1/studio/api/state") as response:
            train = (await response.json())["train"]
        assert train["available"] and not train["full_available"]
        assert "without PyTorch" in train["plan"] and "with PyTorch" in train["full_plan"]
        async with http.post(f"{url}/v1/studio/api/train", json={"full": True}) as response:
            body = await response.json()
    assert body["kind"] == "full" and body["status"] == "unavailable"
    assert "garagecam-core[train]" in body["error"]
