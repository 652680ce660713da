"""Config flow (every path and error), reconfigure and options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.garagecam.const import DOMAIN
from garagecam_core.errors import (
    CorruptModelError,
    RemoteAuthError,
    RemoteEngineError,
    RuntimeMissingError,
    WorkerError,
)

from .conftest import CAMERA, METADATA, FakeCamera, ScriptedEngine, make_entry, set_up_entry

pytestmark = pytest.mark.usefixtures("fake_camera", "camera_device")


async def _start(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "mode"
    return result


@pytest.fixture
def remote_models() -> Iterator[list[Any]]:
    """What the runner's GET /v1/models answers (or raises)."""
    answers: list[Any] = [{"tiny": METADATA}]

    async def list_models(hass: HomeAssistant, url: str, token: str | None) -> Any:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    with patch(
        "custom_components.garagecam.config_flow.async_list_remote_models",
        side_effect=list_models,
    ):
        yield answers


@pytest.fixture
def user_model(config_dir: Path) -> Path:
    """A user's model file next to a file that is not a model."""
    models = config_dir / "garagecam" / "models"
    models.mkdir(parents=True)
    (models / "notes.txt").write_text("not a model")
    path = models / "mine.pte"
    path.write_bytes(b"x")  # the engine is scripted: only the name matters here
    return path


@pytest.mark.usefixtures("runtime_available", "user_model")
async def test_local_models_include_learnt_heads(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, config_dir: Path
) -> None:
    models = config_dir / "garagecam" / "models"
    (models / "garage.gcam").write_text("{}")  # what Learn from labelled frames writes
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    options = result["data_schema"].schema["model"].config["options"]
    assert options == ["demo", "garage.gcam", "mine.pte"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "garage.gcam", "scan_interval": 5}
    )
    assert result["step_id"] == "confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["data"]["model"] == "garage.gcam"
    await hass.async_block_till_done()


async def test_local_model_path_accepts_gcam_and_refuses_other_files(
    hass: HomeAssistant, config_dir: Path
) -> None:
    from custom_components.garagecam.inference import local_model_path
    from garagecam_core.errors import ModelNotFoundError

    models = config_dir / "garagecam" / "models"
    models.mkdir(parents=True)
    (models / "garage.gcam").write_text("{}")
    assert local_model_path(hass, "garage.gcam") == models / "garage.gcam"
    with pytest.raises(ModelNotFoundError, match=r"not a \.pte or \.gcam file"):
        local_model_path(hass, "notes.txt")
    with pytest.raises(ModelNotFoundError):
        local_model_path(hass, "../garage.gcam")
    # the core's one lookup (the Scrypted plugin's too): a missing file is said by name
    with pytest.raises(ModelNotFoundError, match=r"no file 'gone\.pte' in "):
        local_model_path(hass, "gone.pte")


@pytest.mark.usefixtures("runtime_available", "user_model")
async def test_local_flow_creates_entry(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    result = await _start(hass)
    assert result["data_schema"].schema["mode"].config["options"] == ["local", "remote"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    assert result["step_id"] == "model"
    assert result["data_schema"].schema["model"].config["options"] == ["demo", "mine.pte"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 5, "roi": "0,0.5,1,0.5"}
    )
    assert result["step_id"] == "confirm"
    assert "door_open (garage_door): 90%" in result["description_placeholders"]["labels"]
    assert "car_present (occupancy): 10%" in result["description_placeholders"]["labels"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage camera (demo)"
    assert result["data"] == {"camera": CAMERA, "mode": "local", "model": "demo"}
    assert result["options"] == {"scan_interval": 5, "roi": "0,0.5,1,0.5"}
    assert result["result"].unique_id == "camera.garage_demo"
    await hass.async_block_till_done()


async def test_runtime_missing_offers_remote_only(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, remote_models: list[Any]
) -> None:
    with patch(
        "custom_components.garagecam.config_flow.async_runtime_available", return_value=False
    ):
        result = await _start(hass)
        assert result["data_schema"].schema["mode"].config["options"] == ["remote"]
        assert "not installed" in result["description_placeholders"]["runtime"]
        with pytest.raises(InvalidData):
            await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})


async def test_remote_flow_with_errors(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, remote_models: list[Any]
) -> None:
    remote_models[:] = [
        RemoteEngineError("refused"),
        RemoteAuthError("401"),
        {"tiny": METADATA},
    ]
    with patch(
        "custom_components.garagecam.config_flow.async_runtime_available", return_value=False
    ):
        result = await _start(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"mode": "remote"}
        )
    assert result["step_id"] == "remote"
    user = {"url": "http://runner.local:8087/", "token": "s3cret-token"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
    assert result["step_id"] == "model"
    assert "tiny: door_open, car_present" in result["description_placeholders"]["models"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "tiny", "scan_interval": 10}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        "camera": CAMERA,
        "mode": "remote",
        "url": "http://runner.local:8087",
        "token": "s3cret-token",
        "model": "tiny",
    }
    await hass.async_block_till_done()


@pytest.mark.usefixtures("runtime_available")
@pytest.mark.parametrize(
    ("error", "key"),
    [
        (CorruptModelError("truncated"), "cannot_load_model"),
        (RuntimeMissingError("no executorch"), "runtime_missing"),
        (RemoteEngineError("refused"), "cannot_connect"),
        (RemoteAuthError("401"), "invalid_auth"),
        (RuntimeError("boom"), "unknown"),
    ],
)
async def test_model_errors(
    hass: HomeAssistant, error: Exception, key: str, scripted_engine: ScriptedEngine
) -> None:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    with patch("custom_components.garagecam.config_flow.async_create_engine", side_effect=error):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"model": "demo", "scan_interval": 10}
        )
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": key}
    # the user can fix it and go on
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 10}
    )
    assert result["step_id"] == "confirm"


@pytest.mark.usefixtures("runtime_available")
async def test_classification_error_closes_engine(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    scripted_engine.error = WorkerError("worker died")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 10}
    )
    assert result["errors"] == {"base": "unknown"}
    assert scripted_engine.closed


@pytest.mark.usefixtures("runtime_available", "scripted_engine")
async def test_camera_and_roi_errors(hass: HomeAssistant, fake_camera: FakeCamera) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    fake_camera.fail = True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["errors"] == {"camera": "camera_unavailable"}
    fake_camera.fail = False
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    for roi in ("1,2,3", "0.5,0.5,0.6,0.2", "a,b,c,d"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"model": "demo", "scan_interval": 10, "roi": roi}
        )
        assert result["errors"] == {"roi": "invalid_roi"}
    fake_camera.fail = True  # camera goes away between the steps
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 10}
    )
    assert result["errors"] == {"base": "camera_unavailable"}


@pytest.mark.usefixtures("runtime_available", "scripted_engine")
async def test_already_configured(hass: HomeAssistant) -> None:
    make_entry().add_to_hass(hass)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 10}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"


@pytest.mark.usefixtures("runtime_available", "user_model")
async def test_reconfigure_switches_model_and_keeps_entities(
    hass: HomeAssistant, setup_entry: MockConfigEntry, scripted_engine: ScriptedEngine
) -> None:
    registry = er.async_get(hass)
    before = {
        e.entity_id for e in er.async_entries_for_config_entry(registry, setup_entry.entry_id)
    }
    result = await setup_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "mode"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "mine.pte", "scan_interval": 10}
    )
    assert result["step_id"] == "confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert setup_entry.unique_id == "camera.garage_mine.pte"
    assert setup_entry.data["model"] == "mine.pte"
    entities = er.async_entries_for_config_entry(registry, setup_entry.entry_id)
    assert {e.entity_id for e in entities} == before
    assert all(e.unique_id.startswith("camera.garage_mine.pte_") for e in entities)
    assert hass.states.get("binary_sensor.garage_camera_door_open").state != "unavailable"


async def test_options_flow_applies_without_restart(
    hass: HomeAssistant, setup_entry: MockConfigEntry, scripted_engine: ScriptedEngine
) -> None:
    coordinator = setup_entry.runtime_data.coordinator
    result = await hass.config_entries.options.async_init(setup_entry.entry_id)
    assert result["step_id"] == "init"
    base = {"scan_interval": 3, "max_age": 30, "mqtt_enabled": False, "mqtt_prefix": "bridges"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "roi": "nonsense"}
    )
    assert result["errors"] == {"roi": "invalid_roi"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "mqtt_prefix": "homeassistant"}
    )
    assert result["errors"] == {"mqtt_prefix": "duplicate_prefix"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "mqtt_prefix": "a/#"}
    )
    assert result["errors"] == {"mqtt_prefix": "invalid_prefix"}
    for reserved in ("garagecam", "garagecam/x", "garagecam-ha"):  # runner's base topic, ours
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**base, "mqtt_prefix": reserved}
        )
        assert result["errors"] == {"mqtt_prefix": "reserved_prefix"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "roi": "0.1,0.1,0.5,0.5"}
    )
    assert result["step_id"] == "label"
    assert result["description_placeholders"]["label"] == "door_open"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"on_threshold": 0.3, "off_threshold": 0.7, "confirm_frames": 1}
    )
    assert result["errors"] == {"off_threshold": "invalid_thresholds"}  # under its field
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"on_threshold": 0.8, "off_threshold": 0.2, "confirm_frames": 1}
    )
    assert result["description_placeholders"]["label"] == "car_present"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"on_threshold": 0.7, "off_threshold": 0.3, "confirm_frames": 3}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_entry.options["labels"] == {
        "door_open": {"on_threshold": 0.8, "off_threshold": 0.2, "confirm_frames": 1},
        "car_present": {"on_threshold": 0.7, "off_threshold": 0.3, "confirm_frames": 3},
    }
    new = setup_entry.runtime_data.coordinator
    assert new is not coordinator  # reloaded
    assert new.update_interval is not None and new.update_interval.total_seconds() == 3
    assert new.roi is not None and new.roi.as_list() == [0.1, 0.1, 0.5, 0.5]
    assert new.debouncer.policy("door_open").confirm_frames == 1
    assert new.debouncer.policy("car_present").on_threshold == 0.7
    assert scripted_engine.calls[-1][1] == new.roi
    # confirm_frames=1: the first frame after the reload already decides
    assert hass.states.get("binary_sensor.garage_camera_door_open").state == "on"


REMOTE = {
    "mode": "remote",
    "url": "http://admin:hunter2@runner.local:8087",  # stays hidden in the reauth form
    "token": "old-token",
    "model": "tiny",
}


async def test_rejected_token_at_set_up_is_fixed_by_reauth(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, remote_models: list[Any]
) -> None:
    entry = make_entry(REMOTE)
    entry.add_to_hass(hass)
    with patch(
        "custom_components.garagecam.async_create_engine", side_effect=RemoteAuthError("401")
    ):
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == config_entries.SOURCE_REAUTH
    assert flow["step_id"] == "reauth_confirm"
    form = await hass.config_entries.flow.async_configure(flow["flow_id"])
    placeholders = form["description_placeholders"]
    assert placeholders["url"] == "http://admin:**REDACTED**@runner.local:8087"
    assert placeholders["model"] == "tiny"

    remote_models[:] = [RemoteAuthError("401"), {"other": METADATA}, {"tiny": METADATA}]
    # the core's token rule, before any request: a line break would end the HTTP header
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"token": "a\nb"})
    assert result["errors"] == {"token": "invalid_token"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"token": "wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"token": "new"})
    assert result["errors"] == {"base": "model_gone"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"token": "new"})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data["token"] == "new"
    assert entry.data["url"] == "http://admin:hunter2@runner.local:8087"  # kept as it was
    assert entry.state is ConfigEntryState.LOADED


async def test_rejected_token_while_polling_starts_reauth(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, REMOTE)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    scripted_engine.error = RemoteAuthError("the runner rejected the token")
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [config_entries.SOURCE_REAUTH]


async def test_remote_step_checks_url_and_token_like_the_other_front_ends(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, remote_models: list[Any]
) -> None:
    """The core's runner-URL and token rules, each error under its field, before any request:
    credentials in the URL went to the runner before (which ignores them; the Scrypted plugin
    refused them), a `?query` swallowed the API paths, a token's surrounding blanks were sent
    and rejected."""
    with patch(
        "custom_components.garagecam.config_flow.async_runtime_available", return_value=False
    ):
        result = await _start(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"mode": "remote"}
        )
    for url, token, errors in (
        ("http://admin:hunter2@runner.local:8087", None, {"url": "url_credentials"}),
        ("ftp://runner.local", None, {"url": "invalid_url"}),
        ("http://runner.local:8087/?x=1", None, {"url": "invalid_url"}),
        ("http://runner.local:8087", "tok\nen", {"token": "invalid_token"}),
    ):
        user = {"url": url} | ({"token": token} if token else {})
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
        assert result["errors"] == errors
    user = {"url": " http://runner.local:8087/ ", "token": "  s3cret-token  "}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
    assert result["step_id"] == "model"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "tiny", "scan_interval": 10}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["url"] == "http://runner.local:8087"
    assert result["data"]["token"] == "s3cret-token"
    await hass.async_block_till_done()


async def test_max_age_follows_the_scan_interval_unless_set(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    """One default rule (the runner's and Scrypted's): three scan intervals, at least 60 s.
    A fixed 60 s took an entry polling every 5 minutes offline at its first missed poll."""
    entry = await set_up_entry(hass, scan_interval=300)
    assert "max_age" not in entry.options
    assert entry.runtime_data.coordinator.max_age.total_seconds() == 900
    result = await hass.config_entries.options.async_init(entry.entry_id)
    base = {"scan_interval": 300, "mqtt_enabled": False, "mqtt_prefix": "bridges"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "max_age": 120}
    )
    assert result["errors"] == {"max_age": "max_age_below_interval"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, "scan_interval": 20}
    )  # no max age given: none stored, the rule applies
    while result["type"] is FlowResultType.FORM and result["step_id"] == "label":
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"on_threshold": 0.7, "off_threshold": 0.3, "confirm_frames": 2}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "max_age" not in entry.options
    assert entry.runtime_data.coordinator.max_age.total_seconds() == 60


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        ("café", "invalid_prefix"),  # the runner refused it; now both do
        ("a//b", "invalid_prefix"),  # an empty topic level
        ("homeassistant/x", "duplicate_prefix"),  # inside Home Assistant's own tree
        ("garagecam-ha/bridge", "reserved_prefix"),  # inside this bridge's states
    ],
)
async def test_mqtt_prefix_follows_the_core_topic_rules(
    hass: HomeAssistant, setup_entry: MockConfigEntry, prefix: str, error: str
) -> None:
    result = await hass.config_entries.options.async_init(setup_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 10, "mqtt_enabled": False, "mqtt_prefix": prefix},
    )
    assert result["errors"] == {"mqtt_prefix": error}


@pytest.mark.parametrize(
    ("options", "kept"),
    [
        ({"scan_interval": 300, "max_age": 60}, None),  # the old fixed default
        ({"scan_interval": 10, "max_age": 60}, None),  # the same for a fast poll (60 s)
        ({"scan_interval": 60, "max_age": 30}, None),  # below the interval
        ({"scan_interval": 10, "max_age": 120}, 120),  # the user's own choice
    ],
)
async def test_entry_1_2_drops_the_old_fixed_max_age(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, options: dict[str, Any], kept: Any
) -> None:
    entry = make_entry(**options)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, minor_version=2)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.minor_version == 3
    assert entry.options.get("max_age") == kept
    expected = kept if kept is not None else max(60, 3 * options["scan_interval"])
    assert entry.runtime_data.coordinator.max_age.total_seconds() == expected


@pytest.mark.usefixtures("runtime_available")
async def test_reconfigure_to_a_longer_interval_drops_a_max_age_below_it(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, max_age=30)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "local"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "demo", "scan_interval": 60}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert "max_age" not in entry.options  # 30 s would end between two polls
    assert entry.runtime_data.coordinator.max_age.total_seconds() == 180
