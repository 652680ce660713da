"""The teacher client against a local server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from garagecam_core.errors import ConfigError
from garagecam_core.studio.teacher import (
    MAX_SIDE,
    Answer,
    Teacher,
    TeacherConfig,
    TeacherError,
    completions_url,
    parse_answer,
)
from tests.images import scene_jpeg

from .vlm_server import FakeVlm, serve

KEY = "sk-test-0123456789-secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", Answer(1, None)),
        ("No", Answer(0, None)),
        ("yes 0.9", Answer(1, 0.9)),
        ("no, 0.75", Answer(0, 0.75)),
        ("Yes (confidence: 0.8).", Answer(1, 0.8)),
        ("**yes** 1.0", Answer(1, 1.0)),
        ("no .6", Answer(0, 0.6)),
    ],
)
def test_strict_answers_parse(text: str, expected: Answer) -> None:
    assert parse_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    ["maybe", "yes and no", "yes 1.5", "the door is open", "", "yes 0.9 because the door", "y"],
)
def test_anything_else_is_no_suggestion(text: str) -> None:
    assert parse_answer(text) is None


def test_probability_from_answer() -> None:
    assert Answer(1, 0.8).probability == 0.8
    assert Answer(0, 0.8).probability == pytest.approx(0.2)
    assert Answer(1, None).probability is None


def test_endpoint_from_base_url() -> None:
    assert completions_url("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert completions_url("http://h:8080/v1/") == "http://h:8080/v1/chat/completions"
    full = "http://h/v1/chat/completions"
    assert completions_url(full) == full


async def test_one_question_per_label_with_image_and_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def answer(question: str, _: bytes) -> str:
        return "yes 0.9" if "door" in question else "I cannot tell"

    async with serve(FakeVlm(answer, api_key=KEY)) as vlm:
        teacher = Teacher(TeacherConfig(vlm.url, "qwen2.5-vl", KEY))
        try:
            image = scene_jpeg(2560, 1440)
            suggestions = await teacher.ask(image, ["door_open", "car_present"])
        finally:
            await teacher.close()
    assert [s.label for s in suggestions] == ["door_open", "car_present"]
    assert suggestions[0].answer == Answer(1, 0.9)
    assert suggestions[1].answer is None and suggestions[1].raw == "I cannot tell"
    assert [r["model"] for r in vlm.requests] == ["qwen2.5-vl"] * 2
    assert "garage door" in vlm.requests[0]["messages"][0]["content"][0]["text"]
    assert max(vlm.images[0]) == MAX_SIDE  # scaled down before sending
    assert "unusable answer for car_present" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(teacher.config) and KEY not in str(teacher.config.describe())


async def test_http_errors_and_bad_keys_raise_without_the_key(tmp_path: Path) -> None:
    async with serve(FakeVlm(lambda *_: "yes", api_key=KEY, status=503)) as vlm:
        teacher = Teacher(TeacherConfig(vlm.url, "m", KEY))
        with pytest.raises(TeacherError, match="HTTP 503") as err:
            await teacher.ask(scene_jpeg(), ["door_open"])
        await teacher.close()
        wrong = Teacher(TeacherConfig(vlm.url, "m", "wrong-key"))
        with pytest.raises(TeacherError, match="HTTP 401"):
            await wrong.ask(scene_jpeg(), ["door_open"])
        await wrong.close()
    assert KEY not in str(err.value)


async def test_unreachable_endpoint_is_a_teacher_error() -> None:
    async with serve(FakeVlm(lambda *_: "yes")) as vlm:
        url = vlm.url
    teacher = Teacher(TeacherConfig(url, "m", timeout=5))
    with pytest.raises(TeacherError, match=r"127\.0\.0\.1"):
        await teacher.ask(scene_jpeg(), ["door_open"])
    await teacher.close()


async def test_credentials_in_the_url_are_masked() -> None:
    config = TeacherConfig("http://user:pw-secret@127.0.0.1:9/v1", "m")
    assert "pw-secret" not in str(config.describe())
    teacher = Teacher(config)
    with pytest.raises(TeacherError) as err:
        await teacher.ask(scene_jpeg(), ["door_open"])
    await teacher.close()
    assert "pw-secret" not in str(err.value)


def test_no_teacher_no_requests(tmp_path: Path) -> None:
    from garagecam_core.studio.state import Studio

    studio = Studio(tmp_path, Path("unused.pte"))
    with pytest.raises(ConfigError, match="no teacher"):
        studio.start_teacher(["a.jpg"])
