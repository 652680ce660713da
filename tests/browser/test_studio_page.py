"""The studio page in a real browser (Debian's chromium driven by Playwright): label with the
keyboard, filter, ask the teacher, bulk-accept, train, deploy, roll back.

The studio runs as the real `garagecam studio` command in a child process, on a folder laid
out as Home Assistant's `save_snapshot` writes it; the teacher is a local server speaking the
OpenAI chat-completions protocol. The last test drives the same page served by a running
runner (`garagecam run` with `studio:`) on its own captures: label, deploy, roll back, with
the runner's camera switching models. Screenshots of the page go to docs/images/studio-*.png
when GARAGECAM_SCREENSHOTS=1.

Needs the `playwright` Python package and /usr/bin/chromium (never `playwright install`);
run with a Python that has both (see docs/studio.md, "Tests").
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from garagecam_core import demo_model_path
from garagecam_core.capture import frame_hash, hamming
from garagecam_core.engine.local import LocalEngine
from garagecam_core.scenes import generate_scene
from tests.core.studio.vlm_server import FakeVlm, serve

# Missing parts fail the suite (setup.sh installs both): a skipped browser test would hide them.
try:
    from playwright import sync_api as playwright
except ImportError as err:  # pragma: no cover - a set-up problem, said plainly
    raise ImportError(
        "the browser tests need playwright (requirements/py313.txt; ./scripts/setup.sh)"
    ) from err
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():  # pragma: no cover
    raise FileNotFoundError("the browser tests need Debian's chromium: apt-get install chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TOKEN = "studio-test-token"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "images"
DOCS = os.environ.get("GARAGECAM_SCREENSHOTS") == "1"  # screenshots for docs/studio.md
FRAMES = 60 if DOCS else 28
KEYBOARD_FRAMES = 16
MISTAKE = 2  # the keyboard test labels this frame wrongly on purpose
mistakes: list[str] = []

pytestmark = [pytest.mark.slow]


def truth_of(index: int) -> dict[str, int]:
    scene = generate_scene(9090, index, sizes=((640, 360),))
    return {"door_open": int(scene.door_open), "car_present": int(scene.car_present)}


def unsure_of_the_car() -> int:
    """A scene (seed 9090, past the grid's) the demo model is unsure of for car_present: as
    frame 0, whose Home Assistant line has door_open only, its card has a suggestion for one
    label of two (the case Enter must handle), whatever the demo model's version."""
    with LocalEngine(demo_model_path()) as engine:
        car = next(s for s in engine.metadata.labels if s.name == "car_present")
        for index in range(FRAMES, FRAMES + 500):
            jpeg = generate_scene(9090, index, sizes=((640, 360),)).jpeg
            p = engine.classify(jpeg).probabilities["car_present"]
            if car.off_threshold < p < car.on_threshold:
                return index
    raise AssertionError("no generated scene leaves the demo model unsure of the car")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    """A Home Assistant dataset folder: snapshots named after the states, and labels.jsonl
    lines holding those (demo model's, possibly wrong) states for some of them."""
    root = tmp_path_factory.mktemp("ha") / "dataset"
    root.mkdir()
    truth = {}
    lines = []
    for i in range(FRAMES):
        index = unsure_of_the_car() if i == 0 else i
        scene = generate_scene(9090, index, sizes=((640, 360),))
        name = f"20261130T06{i:04d}_door_open-{'on' if i % 3 else 'off'}.jpg"
        (root / name).write_bytes(scene.jpeg)
        truth[name] = truth_of(index)
        if i % 4 == 0:
            lines.append(json.dumps({"path": name, "labels": {"door_open": int(i % 3 > 0)}}))
    (root / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return root, truth


@pytest.fixture(scope="module")
def teacher(dataset: tuple[Path, dict[str, dict[str, int]]]) -> Iterator[FakeVlm]:
    """The local VLM stand-in in a thread of its own (the browser test itself is sync).

    It "sees" a frame by its difference hash (the studio sends a re-encoded copy) and answers
    the truth, except for one frame where it answers something unusable."""
    root, truth = dataset
    by_hash = {frame_hash((root / name).read_bytes()): values for name, values in truth.items()}
    names = {frame_hash((root / name).read_bytes()): name for name in truth}
    unusable = min(by_hash)  # type: ignore[type-var]

    def answer(question: str, image: bytes) -> str:
        seen = frame_hash(image)
        assert seen is not None
        nearest = min(by_hash, key=lambda h: hamming(h, seen))  # type: ignore[arg-type]
        values = by_hash[nearest]
        label = "door_open" if "door" in question else "car_present"
        if nearest == unusable and label == "car_present":
            return "I am not sure, it could be a car"
        return f"{'yes' if values[label] else 'no'} 0.9"

    vlm = FakeVlm(answer)
    vlm.unusable = names[unusable]  # type: ignore[attr-defined]
    ready = threading.Event()
    stop: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            async with serve(vlm):
                stop["event"] = asyncio.Event()
                stop["loop"] = asyncio.get_running_loop()
                ready.set()
                await stop["event"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield vlm
    stop["loop"].call_soon_threadsafe(stop["event"].set)
    thread.join(10)


@pytest.fixture(scope="module")
def studio(
    dataset: tuple[Path, dict[str, dict[str, int]]], teacher: FakeVlm, tmp_path_factory: Any
) -> Iterator[dict[str, Any]]:
    root, _ = dataset
    models = tmp_path_factory.mktemp("models")
    camera_model = models / "garage.pte"
    shutil.copyfile(demo_model_path(), camera_model)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "garagecam_core", "studio", "--dataset", str(root),
         "--model", str(camera_model), "--port", "0", "--token", TOKEN,
         "--teacher", teacher.url, "--teacher-model", "fake-vlm"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/studio/", line)
    if not match:
        process.kill()
        pytest.fail(
            f"studio did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    yield {"url": f"http://127.0.0.1:{match.group(1)}/studio/", "model": camera_model,
           "process": process}  # fmt: skip
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert TOKEN not in err  # the token never reaches the log


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium for the module (Playwright's sync API allows one at a time)."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(studio: dict[str, Any], browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("response", lambda r: r.status == 404 and not_found.append(r.url))
    yield page
    context.close()


not_found: list[str] = []  # every 404 the page met (a favicon, a script)


def shoot(page: Any, name: str, full_page: bool = False) -> None:
    if DOCS:
        page.screenshot(path=str(SCREENSHOTS / f"studio-{name}.png"), full_page=full_page)


def labels_file(root: Path) -> dict[str, dict[str, Any]]:
    records = {}
    for line in (root / "labels.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        records[record["path"]] = record
    return records


def api_get(page: Any, path: str) -> Any:
    """GET an API route from the page, with the token, as the page's own script does."""
    script = (
        "async ([url, token]) =>"
        " (await fetch(url, {headers: {Authorization: 'Bearer ' + token}})).json()"
    )
    return page.evaluate(script, [f"/v1/studio/api{path}", TOKEN])


def wait_probabilities(page: Any) -> None:
    page.wait_for_function(
        "() => !document.querySelector('#summary').textContent.includes('computing')"
    )
    page.wait_for_selector(".card .prob.on, .card .prob.off, .card .prob.unsure")


def test_token_is_asked_then_grid_shows_the_labelling_order(
    page: Any, studio: dict[str, Any]
) -> None:
    page.goto(studio["url"])
    page.wait_for_selector("#token-form:not([hidden])")
    page.fill("#token", "wrong")
    page.click("#token-form button")
    page.wait_for_function(
        "() => document.querySelector('#token-error').textContent.includes('not valid')"
    )
    page.fill("#token", TOKEN)
    page.click("#token-form button")
    page.wait_for_selector("#app:not([hidden])")
    page.reload()  # the token stays for the session
    page.wait_for_selector(".card")
    wait_probabilities(page)
    page.click("#rescan")
    page.wait_for_selector(".card .prob")
    assert page.locator(".card").count() == FRAMES
    frames = api_get(page, "/frames")
    shown = page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.path)")
    assert shown == [f["path"] for f in frames]  # the server's labelling order
    # both predicted states of the door among the first frames, not only the unsure side
    door = [f["probabilities"]["door_open"] for f in frames[:8]]
    assert min(door) < 0.5 <= max(door)


def test_on_load_the_header_toolbar_and_keys_stay_in_view_and_nothing_is_missing(
    page: Any, studio: dict[str, Any]
) -> None:
    page.reload()
    page.wait_for_selector(".card.focus")
    wait_probabilities(page)
    assert page.evaluate("() => window.scrollY") == 0
    for selector in ("header", ".toolbar", "#keys"):
        assert page.locator(selector).is_visible()
        assert page.locator(selector).bounding_box()["y"] >= 0
    assert page.evaluate("() => document.activeElement.id") == "grid"  # keys work at once
    assert not_found == []  # no favicon 404, nothing else missing
    # the legend's keys follow the order the cards list the labels in
    names = page.locator(".card").first.locator(".chip .name").all_inner_texts()
    assert names == ["door_open", "car_present"]
    legend = page.locator("#keys").inner_text()
    assert "2 door_open" in legend and "3 car_present" in legend
    assert "4 door_open + car_present" in legend
    assert "Suggestions are guesses" in legend
    shoot(page, "open")


def card_of(page: Any, path: str) -> Any:
    return page.locator(f'.card[data-path="{path}"]')


def test_enter_accepts_the_suggestions_a_card_has_per_label(
    page: Any, dataset: tuple[Path, dict[str, dict[str, int]]]
) -> None:
    root, _ = dataset
    frames = [f for f in api_get(page, "/frames") if not f["confirmed"] and f["by"] != "user"]
    partial = next(f for f in frames if f["suggestion"] and f["missing"])
    complete = next(f for f in frames if not f["missing"])

    card_of(page, partial["path"]).locator(".thumb").click()
    page.keyboard.press("Enter")
    card = card_of(page, partial["path"])
    card.locator(".flag.part").wait_for()
    assert labels_file(root)[partial["path"]]["labels"] == partial["suggestion"]
    missing = partial["missing"]
    playwright.expect(page.locator("#status")).to_contain_text(f"no suggestion for {missing[0]}")
    playwright.expect(card.locator(f'.chip.missing[data-label="{missing[0]}"]')).to_have_count(1)
    assert page.locator(".card.focus").get_attribute("data-path") == partial["path"]
    entered.append(partial["path"])

    card_of(page, complete["path"]).locator(".thumb").click()
    index = int(card_of(page, complete["path"]).get_attribute("data-index"))
    page.keyboard.press("Enter")
    card_of(page, complete["path"]).locator(".flag.ok").wait_for()
    assert labels_file(root)[complete["path"]]["labels"] == complete["suggestion"]
    assert page.locator(".card.focus").get_attribute("data-index") == str(index + 1)
    entered.append(complete["path"])
    playwright.expect(page.locator("#labelled")).to_have_text("1 labelled by you")
    page.reload()  # the next tests label from the top of a fresh order (confirmed last)
    page.wait_for_selector(".card.focus")
    wait_probabilities(page)


entered: list[str] = []  # frames labelled by Enter (their suggestions, not the truth)


def test_keyboard_labels_a_frame_per_keypress_without_reload(
    page: Any, dataset: tuple[Path, dict[str, dict[str, int]]]
) -> None:
    root, truth = dataset
    page.evaluate("() => { window.__noReload = true; }")
    page.locator("#grid").focus()
    labelled = []
    for index in range(KEYBOARD_FRAMES):
        path = page.locator(".card.focus").get_attribute("data-path")
        want = dict(truth[path])
        if index == MISTAKE:  # a slip of the finger, for the "disagrees" filter to find
            want["door_open"] = 1 - want["door_open"]
        page.keyboard.press(str(1 + want["door_open"] + 2 * want["car_present"]))
        page.wait_for_selector(f'.card[data-path="{path}"] .flag.ok')
        labelled.append((path, want))
    assert page.evaluate("() => window.__noReload") is True
    playwright.expect(page.locator("#labelled")).to_have_text(
        f"{KEYBOARD_FRAMES + 1} labelled by you"  # and the Enter test's
    )  # the header counts as the user labels, without a reload
    shoot(page, "label")
    records = labels_file(root)
    for path, want in labelled:
        assert records[path]["labels"] == want and records[path]["by"] == "user"
    mistakes.append(labelled[MISTAKE][0])
    # Home Assistant's lines for frames not labelled here are still in the file as they were
    untouched = [p for p in truth if p not in dict(labelled) and p in records and p not in entered]
    assert untouched and all("by" not in records[p] for p in untouched)


def test_click_toggles_one_label(
    page: Any, dataset: tuple[Path, dict[str, dict[str, int]]]
) -> None:
    root, _ = dataset
    card = page.locator(".card").nth(KEYBOARD_FRAMES)
    path = card.get_attribute("data-path")
    card.locator('.chip[data-label="car_present"]').click()
    page.wait_for_selector(f'.card[data-path="{path}"] .flag.ok')
    before = labels_file(root)[path]["labels"]["car_present"]
    card = page.locator(f'.card[data-path="{path}"]')
    card.locator('.chip[data-label="car_present"]').click()
    value = card.locator('.chip[data-label="car_present"] .value')
    playwright.expect(value).to_have_text("no" if before else "yes")
    assert labels_file(root)[path]["labels"]["car_present"] == 1 - before


def test_teacher_suggestions_and_agreement(page: Any, teacher: FakeVlm) -> None:
    page.click("#ask-teacher")
    page.wait_for_function(
        f"() => document.querySelectorAll('.card .teacher').length >= 2 * {FRAMES}"
    )
    assert len(teacher.requests) == 2 * FRAMES  # one question per label and frame
    assert page.locator(".card .teacher").first.inner_text().startswith("T: ")
    unusable = page.locator(f'.card[data-path="{teacher.unusable}"] .teacher')  # type: ignore[attr-defined]
    playwright.expect(unusable.nth(1)).to_have_text("T: ?")
    page.wait_for_function("() => document.querySelector('#agreement').textContent.includes('/')")
    table = page.locator("#agreement").inner_text()
    assert "door_open" in table and "car_present" in table
    shoot(page, "grid")


def test_filters_find_the_mistake_and_a_click_fixes_it(
    page: Any, dataset: tuple[Path, dict[str, dict[str, int]]]
) -> None:
    root, truth = dataset
    page.select_option("#filter", "unlabelled")  # the Enter test's partial frame is still
    page.wait_for_function(
        f"() => document.querySelectorAll('.card').length === {FRAMES - KEYBOARD_FRAMES - 2}"
    )
    assert page.locator(".card .flag.ok").count() == 0
    page.select_option("#filter", "disagree")
    (mistake,) = mistakes
    card = page.locator(f'.card[data-path="{mistake}"]')
    card.wait_for()
    cards = page.locator(".card")
    assert cards.count() == page.locator(".card .flag.bad", has_text="disagrees").count()
    assert cards.count() == len(api_get(page, "/frames?filter=disagree"))
    card.locator('.chip[data-label="door_open"]').click()
    playwright.expect(card.locator(".flag.bad", has_text="disagrees")).to_have_count(0)
    assert labels_file(root)[mistake]["labels"] == truth[mistake]
    page.select_option("#filter", "confirmed")
    page.wait_for_function(
        f"() => document.querySelectorAll('.card').length === {KEYBOARD_FRAMES + 2}"
    )


def test_bulk_accept_confirms_the_suggestions(
    page: Any, dataset: tuple[Path, dict[str, dict[str, int]]], teacher: FakeVlm
) -> None:
    root, truth = dataset
    page.select_option("#filter", "unlabelled")
    page.wait_for_selector(".card")
    shown = page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.path)")
    page.click("#accept-all")
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.startsWith('accepted')"
    )
    records = labels_file(root)
    accepted = [p for p in shown if records[p].get("by") == "user"]
    # the teacher answered both labels of all frames but one, and answers the truth
    assert len(accepted) >= len(shown) - 1
    unusable = teacher.unusable  # type: ignore[attr-defined]
    assert all(records[p]["labels"] == truth[p] for p in accepted
               if p != unusable and p not in entered)  # fmt: skip


def start_run(page: Any) -> str:
    """Click Train and return the new run's id (from the API, not from the page, which may
    still show the previous run's result for a moment)."""
    before = {run["id"] for run in api_get(page, "/train")}
    page.click("#train")
    for _ in range(600):
        new = [run["id"] for run in api_get(page, "/train") if run["id"] not in before]
        if new:
            return str(new[-1])
        page.wait_for_timeout(100)
    raise AssertionError("Train started no run within a minute")


def wait_result(page: Any, timeout: float, run_id: str) -> None:
    """Run `run_id` is over, shown, and compared with the current model."""
    page.wait_for_function(
        "(id) => { const s = document.querySelector('#train-status').textContent;"
        " return s.includes(id) && /done|failed|cancelled/.test(s); }",
        arg=run_id,
        timeout=timeout,
    )
    page.wait_for_selector("#result:not([hidden])", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('#compare').textContent.includes('comparing')"
    )


def test_train_a_head_compare_deploy_and_roll_back(page: Any, studio: dict[str, Any]) -> None:
    model: Path = studio["model"]
    original = model.read_bytes()
    page.select_option("#filter", "all")
    page.wait_for_selector(".card")
    # the default: a head on the pretrained trunk; the PyTorch settings are behind the option
    assert page.locator("#full").is_checked() is False
    assert page.locator("#full-settings").is_hidden()
    assert "without PyTorch" in page.locator("#train-plan").inner_text()
    run_id = start_run(page)
    wait_result(page, 240_000, run_id)
    status = page.locator("#train-status").inner_text()
    assert "done" in status and "no PyTorch" in status  # the page says what Train does
    run = api_get(page, "/train")[-1]
    assert run["kind"] == "head" and run["stage"] == "done"
    table = page.locator("#compare").inner_text()
    assert "door_open" in table and "cross-validated" in table and "%" in table
    frames = run["comparison"]["frames"]
    assert frames == run["frames"] and f"of {frames} frames" in table  # n of N, every figure
    assert page.locator("#too-few").is_visible() is (frames < 50)
    shoot(page, "train")

    run_model = Path(run["command"].split("--out ")[1].split(" ")[0])
    assert run_model.suffix == ".gcam"
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.endswith(".gcam")
    assert Path(download.value.path()).read_bytes() == run_model.read_bytes()

    page.click("#deploy")
    # loading the new model in a fresh inference worker takes a while on a busy machine
    page.wait_for_function(
        "() => document.querySelector('#deploy-status').textContent.includes('now using')",
        timeout=180_000,
    )
    assert model.read_bytes() == run_model.read_bytes()  # the .gcam, at the camera's file
    assert model.with_name("garage.previous.pte").read_bytes() == original
    page.wait_for_selector("#rollback:not([hidden])")
    assert page.locator("#deploy").inner_text() == "In use"
    playwright.expect(page.locator("#summary")).to_contain_text("model garagecam-dataset")
    wait_probabilities(page)  # the grid now shows the new model's probabilities
    shoot(page, "deploy")

    page.click("#rollback")
    page.wait_for_function(
        "() => document.querySelector('#deploy-status').textContent.includes('rolled back')",
        timeout=180_000,
    )
    assert model.read_bytes() == original
    playwright.expect(page.locator("#summary")).to_contain_text("model garagecam-demo")


def test_the_pytorch_fine_tune_stays_an_option(page: Any) -> None:
    page.wait_for_selector("#full-option:not([hidden])")  # torch is installed here
    page.check("#full")
    assert "with PyTorch" in page.locator("#train-plan").inner_text()
    assert "demo model" in page.locator("#train-plan").inner_text()
    page.fill("#epochs", "2")  # tiny: this only shows the option still works
    page.fill("#input-size", "32")
    run_id = start_run(page)
    if DOCS:  # the export after the last epoch prints nothing; the page says what it does
        page.wait_for_selector("#train-stage:has-text('exporting')", timeout=600_000)
        shoot(page, "train-export")
    wait_result(page, 600_000, run_id)
    status = page.locator("#train-status").inner_text()
    assert "done" in status and "epoch 2/2" in status
    assert "fine-tuning the demo model" in status
    run = api_get(page, "/train")[-1]
    assert run["kind"] == "full" and run["init_from"] == "demo"
    assert "--init-from demo" in run["command"]
    held_out = run["comparison"]["frames"]
    table = page.locator("#compare").inner_text()
    assert "held-out frames" in table and f"of {held_out} frames" in table
    assert held_out < 50 and page.locator("#too-few").is_visible()  # said to be small
    page.uncheck("#full")


def test_at_760_px_the_train_panel_is_one_screen_down_not_after_every_card(
    studio: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 760, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(studio["url"] + "#token=" + TOKEN)
        page.wait_for_selector(".card.focus")
        assert page.evaluate("() => window.scrollY") == 0
        top = page.evaluate(
            "() => document.querySelector('#train-panel').getBoundingClientRect().top"
        )
        assert top < 2 * 900  # was about 9,000 px with 60 frames
        # the keys still reach every card: the grid scrolls the focused one into view
        for _ in range(FRAMES - 1):
            page.keyboard.press("ArrowRight")
        last = page.locator(".card.focus")
        assert last.get_attribute("data-index") == str(FRAMES - 1)
        box, grid = last.bounding_box(), page.locator("#grid").bounding_box()
        assert grid["y"] <= box["y"] and box["y"] + box["height"] <= grid["y"] + grid["height"] + 1
        page.evaluate("() => window.scrollTo(0, 0)")
        shoot(page, "narrow", full_page=True)  # the grid's box, then the panels
    finally:
        context.close()


# -- the same page served by a running runner --------------------------------------------------


@pytest.fixture
def runner_studio(tmp_path: Path, tiny_model_path: Path) -> Iterator[dict[str, Any]]:
    """A real runner (its own event loop in a thread) capturing a file camera's frames, with
    the studio on them behind its token, and a finished training run whose model is the tiny
    test model (training itself is driven by the tests above)."""
    from garagecam_core.runner.config import parse_config
    from garagecam_core.studio.training import TrainingJob, TrainSettings
    from tests.core.runner.support import local_engine, running_runner

    (tmp_path / "models").mkdir()
    shutil.copyfile(demo_model_path(), tmp_path / "models" / "garage.pte")
    (tmp_path / "frames").mkdir()
    for index in (0, 2, 4):  # door closed, open, open: a background frame and a state change
        scene = generate_scene(5, index, sizes=((320, 180),))
        (tmp_path / "frames" / f"{index}.jpg").write_bytes(scene.jpeg)
    config = parse_config(
        {
            "models": {"garage": {"path": "models/garage.pte"}},
            "http": {"port": 0, "token": TOKEN},
            "capture": {"enabled": True},
            "studio": {"enabled": True},
            "cameras": [{"id": "garage", "model": "garage", "file": "frames", "interval": 0.1,
                         "confirm_frames": 1}],
        },
        base_dir=tmp_path,
    )  # fmt: skip
    started = threading.Event()
    held: dict[str, Any] = {}

    async def main() -> None:
        async with running_runner(config, engine_factory=local_engine) as runner:
            held["runner"], held["loop"] = runner, asyncio.get_running_loop()
            held["stop"] = asyncio.Event()
            directory = runner.studio.store.studio_dir / "runs" / "r1"
            directory.mkdir(parents=True)
            shutil.copyfile(tiny_model_path, directory / "model.pte")
            job = TrainingJob("r1", directory, TrainSettings(), 2, status="done")
            runner.studio.jobs["r1"] = job
            started.set()
            await held["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert started.wait(60), "the runner did not start"
    runner = held["runner"]
    assert wait(lambda: runner.metrics.captured.value("garage", "state_change") >= 1)
    yield {"runner": runner, "url": f"http://127.0.0.1:{runner.http.port}/studio/",
           "model": tmp_path / "models" / "garage.pte",
           "captures": tmp_path / "captures" / "garage"}  # fmt: skip
    held["loop"].call_soon_threadsafe(held["stop"].set)
    thread.join(30)
    assert not thread.is_alive()


def wait(predicate: Any, seconds: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_runner_serves_the_page_label_deploy_and_roll_back(
    runner_studio: dict[str, Any], tiny_model_path: Path, browser: Any
) -> None:
    runner = runner_studio["runner"]
    camera = runner.cameras["garage"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(runner_studio["url"])
        page.wait_for_selector("#token-form:not([hidden])")  # the runner's token
        page.fill("#token", TOKEN)
        page.click("#token-form button")
        page.wait_for_selector("#app:not([hidden])")
        page.click("#rescan")  # frames captured since the runner started
        page.wait_for_selector(".card")
        captured = {f"images/{p.name}" for p in (runner_studio["captures"] / "images").iterdir()}
        shown = set(page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.path)"))
        assert shown == captured and len(shown) >= 2  # the runner's own captures

        page.locator("#grid").focus()
        path = page.locator(".card.focus").get_attribute("data-path")
        page.keyboard.press("1")  # neither label
        page.wait_for_selector(f'.card[data-path="{path}"] .flag.ok')
        records = labels_file(runner_studio["captures"])
        assert records[path]["labels"] == {"door_open": 0, "car_present": 0}

        page.wait_for_selector("#result:not([hidden])")  # the finished run
        page.click("#deploy")
        page.wait_for_function(
            "() => document.querySelector('#deploy-status').textContent.includes('now using')"
        )
        assert runner_studio["model"].read_bytes() == tiny_model_path.read_bytes()
        assert runner.engines["garage"].metadata.name == "tiny"
        frames = runner.metrics.frames.value("garage")
        assert wait(lambda: runner.metrics.frames.value("garage") >= frames + 2)
        with LocalEngine(tiny_model_path) as tiny:
            expected = tiny.classify(camera.last_frame.image).probabilities
        assert camera.last_frame.classification.probabilities == pytest.approx(expected, abs=1e-4)
        playwright.expect(page.locator("#summary")).to_contain_text("model tiny")

        page.click("#rollback")
        page.wait_for_function(
            "() => document.querySelector('#deploy-status').textContent.includes('rolled back')"
        )
        assert runner_studio["model"].read_bytes() == demo_model_path().read_bytes()
        assert runner.engines["garage"].metadata.name == "garagecam-demo"
        playwright.expect(page.locator("#summary")).to_contain_text("model garagecam-demo")
    finally:
        context.close()
