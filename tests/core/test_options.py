"""One camera's options: each rule once, errors that name the field and never the value, and
where the three front ends (runner YAML, Home Assistant, Scrypted) used to disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from garagecam_core import demo_model_path
from garagecam_core.debounce import LabelOverride
from garagecam_core.errors import ConfigError, ModelNotFoundError
from garagecam_core.options import (
    CameraOptions,
    OptionError,
    OptionsError,
    check_runner_url,
    find_models,
    model_path,
    parse_token,
    parse_topic,
    topics_overlap,
)
from garagecam_core.redact import SECRETS
from garagecam_core.roi import Roi
from garagecam_core.runner.config import parse_config

SECRET = "hunter2-secret"


def _problems(values: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(OptionsError) as caught:
        CameraOptions.parse(values, **kwargs)
    assert isinstance(caught.value, ConfigError)
    assert "\n" not in str(caught.value)
    return [(problem.field, problem.code) for problem in caught.value.problems]


def test_defaults() -> None:
    options = CameraOptions.parse({})
    assert options.interval == 10.0 and options.roi is None and options.confirm_frames == 2
    assert options.max_age is None and options.effective_max_age == 60.0
    assert options.model == "demo" and options.labels == {}
    assert options.runner_url is None and options.runner_token is None


def test_text_values_as_stored_by_scrypted_and_numbers_from_forms() -> None:
    options = CameraOptions.parse(
        {
            "interval": "2.5",
            "roi": " 0.1, 0.2 ,0.5,0.6 ",
            "confirm_frames": 3.0,  # a form's number widget sends floats
            "max_age": "",  # a cleared setting
            "labels": {"door": {"on_threshold": "0.8", "off_threshold": 0.2}},
        }
    )
    assert options.interval == 2.5
    assert options.roi == Roi(0.1, 0.2, 0.5, 0.6)
    assert options.confirm_frames == 3 and isinstance(options.confirm_frames, int)
    assert options.max_age is None and options.effective_max_age == 60.0
    assert options.labels == {"door": LabelOverride(0.8, 0.2, None)}


@pytest.mark.parametrize("interval", [1, 10, 20, 100, 300, 3600])
def test_one_default_max_age_rule(interval: float) -> None:
    options = CameraOptions.parse({"interval": interval})
    assert options.effective_max_age == max(60.0, 3 * interval)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"interval": 0}, ("interval", "out_of_range")),
        ({"interval": 3601}, ("interval", "out_of_range")),  # the runner had no bound
        ({"interval": True}, ("interval", "not_a_number")),
        ({"interval": float("nan")}, ("interval", "not_a_number")),
        ({"interval": "abc"}, ("interval", "not_a_number")),
        ({"max_age": 5, "interval": 10}, ("max_age", "below_interval")),
        ({"max_age": 8 * 24 * 3600}, ("max_age", "out_of_range")),
        ({"confirm_frames": 0}, ("confirm_frames", "out_of_range")),
        ({"confirm_frames": 101}, ("confirm_frames", "out_of_range")),  # runner had no bound
        ({"confirm_frames": 1.5}, ("confirm_frames", "not_whole")),
        ({"roi": "0.5,0.5,0.6,0.1"}, ("roi", "invalid_roi")),
        ({"roi": [0.1, 0.1, True, 0.5]}, ("roi", "invalid_roi")),
        ({"roi": {"x": 1}}, ("roi", "invalid_roi")),
        ({"labels": {"door": {"on_threshold": 1.5}}}, ("labels.door.on_threshold", "out_of_range")),
        (
            {"labels": {"door": {"on_threshold": 0.2, "off_threshold": 0.5}}},
            ("labels.door.off_threshold", "threshold_order"),
        ),
        ({"labels": {"door": {"colour": 1}}}, ("labels.door.colour", "unknown")),
        ({"colour": 1}, ("colour", "unknown")),
        ({"model": 3}, ("model", "invalid_model")),
    ],
)
def test_each_problem_names_its_field(values: dict[str, Any], problem: tuple[str, str]) -> None:
    assert _problems(values) == [problem]


def test_every_problem_is_reported_at_once() -> None:
    fields = _problems({"interval": -1, "roi": "x", "confirm_frames": 0})
    assert [field for field, _ in fields] == ["interval", "roi", "confirm_frames"]


@pytest.mark.parametrize("field", ["interval", "max_age", "roi", "confirm_frames", "model"])
def test_errors_never_echo_the_value(field: str) -> None:
    """A password pasted into the wrong field must not come back in the error."""
    with pytest.raises(OptionsError) as caught:
        CameraOptions.parse({field: [SECRET] if field == "model" else SECRET})
    assert SECRET not in str(caught.value)


# --- the runner URL and token (Scrypted's settings.py and engine/remote.py had one each) -----


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "missing"),
        ("ftp://runner", "invalid_url"),
        ("http://", "invalid_url"),
        ("http://runner:99999", "invalid_url"),
        ("http://[::1", "invalid_url"),
        # remote.py let credentials through without a token; Scrypted refused them always
        (f"http://admin:{SECRET}@runner:8080", "url_credentials"),
        ("http://runner:8080/?model=x", "invalid_url"),  # the API paths are appended
        ("http://runner:8080/#top", "invalid_url"),
    ],
)
def test_runner_url_rules(url: str, code: str) -> None:
    with pytest.raises(OptionError) as caught:
        check_runner_url(url)
    assert caught.value.field == "runner_url" and caught.value.code == code
    assert SECRET not in str(caught.value)


def test_runner_url_is_normalised_and_required_only_when_asked() -> None:
    assert check_runner_url(" https://runner.local:8443/ ") == "https://runner.local:8443"
    assert CameraOptions.parse({}).runner_url is None
    assert _problems({}, runner_required=True) == [("runner_url", "missing")]


def test_token_rules() -> None:
    assert parse_token("  tok-123  ") == "tok-123"  # pasted blanks: the runner refuses them
    assert parse_token("") is None and parse_token(None) is None
    for bad in ("tok\nen", "tok\ten", "tök"):
        with pytest.raises(OptionError, match="printable ASCII") as caught:
            parse_token(bad)
        assert bad not in str(caught.value)


def test_secrets_are_returned_not_registered() -> None:
    token, url = "tok-never-logged-1", "http://runner:8080/api/token/t0k3n-in-path-2"
    options = CameraOptions.parse({"runner_url": url, "runner_token": token})
    assert {token, "t0k3n-in-path-2"} <= options.secrets
    for secret in options.secrets:
        assert SECRETS.mask(secret) == secret  # parsing wrote no global
    assert token not in repr(options)


def test_runner_config_parsing_registers_no_secret() -> None:
    """Parsing returned values but also wrote the process-wide SECRETS registry
    (runner/config.py); now it returns them and the runner's start-up registers them."""
    config = parse_config(
        {
            "mqtt": {"host": "b", "password": "mqtt-pass-never-1"},
            "http": {"token": "http-token-never-2"},
            "cameras": [{"id": "a", "onvif": {"host": "c", "password": "onvif-pass-never-3"}}],
        }
    )
    expected = {"mqtt-pass-never-1", "http-token-never-2", "onvif-pass-never-3"}
    assert expected <= config.secrets
    assert all(SECRETS.mask(secret) == secret for secret in expected)


# --- MQTT topics (runner/config.py and config_flow.py had different rules) ------------------


@pytest.mark.parametrize("topic", ["homeassistant", "a/b-c/d_e", "home.kit", "/garage/"])
def test_good_topics(topic: str) -> None:
    assert parse_topic("discovery_prefix", topic, "x") == topic.strip("/")


@pytest.mark.parametrize("topic", ["a/#", "a/+/b", "a b", "a//b", "café", "/", "$SYS"])
def test_bad_topics(topic: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_topic("discovery_prefix", topic, "x")
    assert caught.value.code == "invalid_topic"


def test_topics_must_not_overlap() -> None:
    assert topics_overlap("garagecam", "garagecam")
    assert topics_overlap("garagecam/x", "garagecam")
    assert topics_overlap("garagecam", "garagecam/x")
    assert not topics_overlap("garagecam-ha", "garagecam")
    assert _problems({"discovery_prefix": "garagecam", "base_topic": "garagecam"}) == [
        ("discovery_prefix", "topic_overlap")
    ]
    problems = _problems(
        {"discovery_prefix": "homeassistant/x", "base_topic": "bridge"},
        reserved_topics=("homeassistant",),
    )
    assert problems == [("discovery_prefix", "reserved_topic")]


def test_runner_refuses_a_discovery_prefix_inside_its_base_topic() -> None:
    """The runner took `discovery_prefix: garagecam` with `base_topic: garagecam`: configs
    and states in one tree (its cleanup would read its own states as configs)."""
    with pytest.raises(ConfigError, match=r"mqtt\.discovery_prefix: must not be the base topic"):
        parse_config(
            {
                "mqtt": {"host": "b", "discovery_prefix": "garagecam", "base_topic": "garagecam"},
                "cameras": [{"id": "a", "file": "x"}],
            }
        )


def test_runner_yaml_keeps_its_format_and_key_paths() -> None:
    config = parse_config(
        {
            "mqtt": {"host": "b", "discovery_prefix": "homeassistant/"},
            "cameras": [
                {
                    "id": "a",
                    "file": "x",
                    "interval": 2,
                    "roi": [0.1, 0.1, 0.5, 0.5],
                    "labels": {"door": {"on_threshold": 0.9, "confirm_frames": 4}},
                }
            ],
        }
    )
    camera = config.cameras[0]
    assert camera.interval == 2 and camera.roi == Roi(0.1, 0.1, 0.5, 0.5)
    assert camera.effective_max_age == 60 and camera.confirm_frames == 2
    assert camera.labels == {"door": LabelOverride(0.9, None, 4)}
    assert config.mqtt is not None and config.mqtt.discovery_prefix == "homeassistant"
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.max_age: value must be at least"):
        parse_config({"cameras": [{"id": "a", "file": "x", "interval": 30, "max_age": 20}]})
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.labels\.d\.off_threshold: the OFF"):
        parse_config(
            {
                "cameras": [
                    {
                        "id": "a",
                        "file": "x",
                        "labels": {"d": {"on_threshold": 0.2, "off_threshold": 0.5}},
                    }
                ]
            }
        )


# --- model lookup (inference.py and Scrypted's settings.py had one each) --------------------


def test_model_lookup(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "mine.pte").write_bytes(b"x")
    (first / "head.gcam").write_text("{}")
    (first / "notes.txt").write_text("x")
    assert find_models([first, second, tmp_path / "missing"]) == ["demo", "head.gcam", "mine.pte"]
    assert model_path("demo", []) == demo_model_path()
    assert model_path("mine.pte", [first, second]) == second / "mine.pte"
    assert model_path(str(second / "mine.pte"), []) == second / "mine.pte"
    for model, message in (
        ("notes.txt", r"not a \.pte or \.gcam file"),
        ("../mine.pte", "must be a file name or an absolute path"),
        ("gone.pte", r"no file 'gone\.pte' in "),
        (str(tmp_path / "gone.gcam"), "does not exist"),
        # Scrypted took an absolute path of any suffix; Home Assistant only .pte/.gcam
        (str(first / "notes.txt"), r"not a \.pte or \.gcam file"),
    ):
        with pytest.raises(ModelNotFoundError, match=message):
            model_path(model, [first, second])
