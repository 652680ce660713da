"""The GarageCam add-on found without typing: Home Assistant under a (stand-in) Supervisor.

Real parts: Home Assistant's own hassio client (`get_supervisor_client`, aiohasupervisor) and
its discovery view (`/api/hassio_push/discovery/{uuid}`, which opens our `hassio` flow), HTTP
on 127.0.0.1 both ways to a stand-in Supervisor that follows the Supervisor's API
(supervisor_standin.py), and the GarageCam runner (`garagecam_core.runner`, the server the
add-on runs) with a token and the tiny model in a worker process. Not run: the hassio
integration's own set-up (panels, the OS/host/store coordinators), which discovery does not use.
"""

from __future__ import annotations

import inspect
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from homeassistant import config_entries
from homeassistant.components.hassio.const import DATA_COMPONENT
from homeassistant.components.hassio.discovery import async_setup_discovery_view
from homeassistant.components.hassio.handler import HassIO
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.garagecam import addon as addon_module
from custom_components.garagecam.addon import async_refresh_from_addon
from custom_components.garagecam.const import DOMAIN
from garagecam_core import demo_model_path
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from garagecam_core.studio.store import LabelStore

from .conftest import CAMERA
from .supervisor_standin import AddonSide, StandinAddon, StandinSupervisor

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fake_camera", "camera_device")]

# A custom repository's add-on: `<sha1(repository URL)[:8]>_<slug in config.yaml>`.
SLUG = "5c53de3b_garagecam"
HA_TOKEN = "home-assistant-supervisor-token"  # what the Supervisor gives Home Assistant Core
ADDON_SUPERVISOR_TOKEN = "addon-supervisor-token"  # what it gives the add-on
RUNNER_TOKEN = "runner-token-first"  # the add-on's runner token (kept in its /data)
DOOR = "binary_sensor.garage_camera_door_open"


class AddonRunner:
    """The runner the add-on runs: the real app, its HTTP API on 127.0.0.1 with a token."""

    def __init__(self, model: Path, others: dict[str, Path] | None = None) -> None:
        self.model = model
        self.others = others or {}  # more models it serves
        self.runner: Runner | None = None
        self.port = 0
        self.token = ""

    async def start(self, token: str, port: int = 0) -> None:
        models = {"tiny": self.model, **self.others}
        config = parse_config(
            {
                "models": {name: {"path": str(path)} for name, path in models.items()},
                "mqtt": None,
                "http": {"host": "127.0.0.1", "port": port, "token": token},
            }
        )
        self.runner = Runner(config)
        await self.runner.start()
        assert self.runner.http is not None
        self.port, self.token = self.runner.http.port, token

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None

    def announcement(self) -> dict[str, Any]:
        """What the add-on POSTs to the Supervisor's /discovery as `config`."""
        return {"port": self.port, "token": self.token}


@pytest.fixture
async def addon_runner(tiny_model_path: Path, socket_enabled: None) -> AsyncIterator[AddonRunner]:
    runner = AddonRunner(tiny_model_path)
    await runner.start(RUNNER_TOKEN)
    yield runner
    await runner.stop()


def _register_discovery_view(hass: HomeAssistant, hassio: HassIO) -> None:
    # Home Assistant 2025.8 passes the handler; 2026.x reads it from hass.data.
    if len(inspect.signature(async_setup_discovery_view).parameters) == 2:
        async_setup_discovery_view(hass, hassio)  # type: ignore[call-arg]
    else:
        async_setup_discovery_view(hass)  # type: ignore[call-arg]


@pytest.fixture
async def supervisor(
    hass: HomeAssistant, socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StandinSupervisor]:
    """Home Assistant under the stand-in Supervisor: what the hassio integration sets up for
    discovery (its client on SUPERVISOR/SUPERVISOR_TOKEN, the push view), nothing more."""
    standin = await StandinSupervisor(HA_TOKEN).start()
    monkeypatch.setenv("SUPERVISOR", standin.host)
    monkeypatch.setenv("SUPERVISOR_TOKEN", HA_TOKEN)
    assert await async_setup_component(hass, "http", {})
    hassio = HassIO(hass.loop, async_get_clientsession(hass), standin.host)
    hass.data[DATA_COMPONENT] = hassio
    hass.config.components.add("hassio")
    _register_discovery_view(hass, hassio)
    yield standin
    await standin.stop()


@pytest.fixture
async def pushing(
    hass: HomeAssistant,
    supervisor: StandinSupervisor,
    hass_client_no_auth: ClientSessionGenerator,
    hass_supervisor_access_token: str,
) -> StandinSupervisor:
    """The stand-in also tells Home Assistant of new messages, over Home Assistant's HTTP API,
    as the Supervisor's user (Home Assistant is running)."""
    # Serving freezes Home Assistant's router: what registers views (camera, image) first.
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client_no_auth()
    supervisor.push_to = (str(client.make_url("/")), hass_supervisor_access_token)
    return supervisor


def _addon(supervisor: StandinSupervisor, *, state: str = "started") -> AddonSide:
    addon = supervisor.install(
        StandinAddon(
            SLUG, "GarageCam", ADDON_SUPERVISOR_TOKEN, discovery=["garagecam"], state=state
        )
    )
    return AddonSide(supervisor, addon)


def _on_localhost(side: AddonSide) -> None:
    # The add-on's hostname resolves on the Supervisor's network only; here its runner
    # stands on 127.0.0.1, so the stand-in reports that as the add-on's hostname.
    side.addon.hostname = "127.0.0.1"


async def _discovered(hass: HomeAssistant, supervisor: StandinSupervisor) -> list[Any]:
    await supervisor.pushes_done()
    await hass.async_block_till_done()
    return hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def _camera_model_confirm(hass: HomeAssistant, flow_id: str) -> config_entries.ConfigEntry:
    """From the camera step on, as with a typed runner, but no mode or URL step."""
    result = await hass.config_entries.flow.async_configure(flow_id, {"camera": CAMERA})
    assert result["step_id"] == "model", result
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"model": "tiny", "scan_interval": 10}
    )
    assert result["step_id"] == "confirm", result.get("errors")
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry = result["result"]
    return entry


async def _classifies(hass: HomeAssistant, entry: config_entries.ConfigEntry) -> None:
    assert entry.state is ConfigEntryState.LOADED
    await entry.runtime_data.coordinator.async_refresh()
    assert hass.states.get(DOOR).state in ("on", "off")
    response = await hass.services.async_call(
        DOMAIN, "classify", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    assert set(response["probabilities"]) == {"door_open", "car_present"}


def _addon_entry(runner: AddonRunner, **data: Any) -> MockConfigEntry:
    """An entry created through the add-on earlier (what the flow stores)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Garage camera (tiny)",
        unique_id=f"{CAMERA}_tiny",
        data={
            "camera": CAMERA,
            "mode": "remote",
            "model": "tiny",
            "url": f"http://127.0.0.1:{runner.port}",
            "token": runner.token,
            "addon": SLUG,
            **data,
        },
        options={"scan_interval": 10, "roi": ""},
    )


# --- found and confirmed ----------------------------------------------------------------------


async def test_discovery_card_confirmed_creates_an_entry_that_classifies_through_the_addon(
    hass: HomeAssistant, pushing: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(pushing)
    _on_localhost(side)
    uuid = await side.announce(addon_runner.announcement())

    flows = await _discovered(hass, pushing)
    assert pushing.push_status == [200]
    assert len(flows) == 1 and flows[0]["context"]["source"] == config_entries.SOURCE_HASSIO
    assert flows[0]["context"]["title_placeholders"] == {"name": "GarageCam"}
    assert flows[0]["step_id"] == "addon"
    # Home Assistant read the message and the add-on's info from the Supervisor, as itself
    assert ("GET", f"/discovery/{uuid}", "homeassistant") in pushing.requests
    assert ("GET", f"/addons/{SLUG}/info", "homeassistant") in pushing.requests

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"use_addon": True}
    )
    assert result["step_id"] == "user"  # the camera: the only question left
    entry = await _camera_model_confirm(hass, result["flow_id"])
    assert dict(entry.data) == {
        "camera": CAMERA,
        "mode": "remote",
        "url": f"http://127.0.0.1:{addon_runner.port}",
        "token": RUNNER_TOKEN,
        "addon": SLUG,
        "model": "tiny",
    }
    await _classifies(hass, entry)


async def test_a_card_confirmed_after_the_addon_restarted_uses_its_new_token(
    hass: HomeAssistant, pushing: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(pushing)
    _on_localhost(side)
    await side.announce(addon_runner.announcement())
    (card,) = await _discovered(hass, pushing)
    await _restart(addon_runner, "token")
    await side.announce(addon_runner.announcement())
    assert await _discovered(hass, pushing) == [card]  # the same card, still open
    result = await hass.config_entries.flow.async_configure(card["flow_id"], {"use_addon": True})
    assert result["step_id"] == "user", result.get("errors")
    entry = await _camera_model_confirm(hass, result["flow_id"])
    assert entry.data["token"] == "runner-token-rotated"
    await _classifies(hass, entry)


async def test_add_entry_offers_the_running_addon(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    mosquitto = supervisor.install(
        StandinAddon("core_mosquitto", "Mosquitto broker", "mqtt-token", discovery=["mqtt"])
    )
    await AddonSide(supervisor, mosquitto).announce(
        {"host": "core-mosquitto", "port": 1883}, service="mqtt"
    )
    side = _addon(supervisor)  # announced while Home Assistant was not running: no push
    _on_localhost(side)
    await side.announce(addon_runner.announcement())

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["step_id"] == "addon"
    assert result["description_placeholders"] == {
        "name": "GarageCam",
        "url": f"http://127.0.0.1:{addon_runner.port}",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"use_addon": True})
    assert result["step_id"] == "user"
    entry = await _camera_model_confirm(hass, result["flow_id"])
    assert entry.data["addon"] == SLUG and entry.data["token"] == RUNNER_TOKEN
    await _classifies(hass, entry)


async def test_the_addon_address_is_its_hostname_on_the_supervisor_network(
    hass: HomeAssistant, supervisor: StandinSupervisor
) -> None:
    await _addon(supervisor).announce({"port": 8765, "token": "t"})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["description_placeholders"]["url"] == "http://5c53de3b-garagecam:8765"


async def test_declining_the_addon_leads_to_the_usual_steps(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(supervisor)
    _on_localhost(side)
    await side.announce(addon_runner.announcement())
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"use_addon": False})
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["step_id"] == "mode"


async def test_a_token_the_runner_rejects_is_shown_on_the_addon_step(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(supervisor)
    _on_localhost(side)
    await side.announce({"port": addon_runner.port, "token": "not-the-runners-token"})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"use_addon": True})
    assert result["step_id"] == "addon"
    assert result["errors"] == {"base": "invalid_auth"}


# --- not found: the usual steps ---------------------------------------------------------------


@pytest.mark.parametrize("case", ["not_installed", "stopped", "not_announced", "bad_message"])
async def test_no_usable_addon_means_the_usual_steps(
    hass: HomeAssistant, supervisor: StandinSupervisor, case: str
) -> None:
    if case != "not_installed":
        side = _addon(supervisor, state="stopped" if case == "stopped" else "started")
        if case == "stopped":
            await side.announce({"port": 8765, "token": "t"})  # left from its last run
        if case == "bad_message":
            await side.announce({"port": 8765})  # no token
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["step_id"] == "mode"
    assert ("GET", "/discovery", "homeassistant") in supervisor.requests


async def test_an_unreachable_supervisor_means_the_usual_steps(
    hass: HomeAssistant, supervisor: StandinSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    await supervisor.stop()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["step_id"] == "user"
    assert "Cannot read the Supervisor's discovery messages" in caplog.text


async def test_not_under_the_supervisor_means_the_usual_steps(
    hass: HomeAssistant, socket_enabled: None, addon_runner: AddonRunner
) -> None:
    assert "hassio" not in hass.config.components
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["step_id"] == "user"
    # An entry made through the add-on, with Home Assistant since moved off the Supervisor,
    # keeps its last address and token.
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    before = dict(entry.data)
    await async_refresh_from_addon(hass, entry)
    assert dict(entry.data) == before


# --- the entry follows the add-on ---------------------------------------------------------------


async def _restart(runner: AddonRunner, change: str) -> None:
    """The add-on restarts with a new token (same port) or on a new port (same token)."""
    port, token = runner.port, runner.token
    await runner.stop()
    if change == "token":
        await runner.start("runner-token-rotated", port)
    else:
        await runner.start(token)
        assert runner.port != port


@pytest.mark.parametrize("change", ["token", "port"])
async def test_running_entry_follows_the_addon_announcement(
    hass: HomeAssistant,
    pushing: StandinSupervisor,
    addon_runner: AddonRunner,
    change: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    side = _addon(pushing)
    _on_localhost(side)
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await side.announce(addon_runner.announcement())  # the add-on (re)starts
    assert not await _discovered(hass, pushing)  # its entry uses it: no card

    caplog.set_level(logging.DEBUG)
    await _restart(addon_runner, change)
    await side.announce(addon_runner.announcement())  # the same message, new config: a push
    assert not await _discovered(hass, pushing)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert pushing.push_status == [200, 200]
    assert entry.data["url"] == f"http://127.0.0.1:{addon_runner.port}"
    assert entry.data["token"] == addon_runner.token
    await _classifies(hass, entry)  # reloaded with them
    assert "runner-token" not in caplog.text


@pytest.mark.parametrize("change", ["token", "port"])
async def test_entry_reads_the_addon_again_at_setup(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner, change: str
) -> None:
    side = _addon(supervisor)
    _on_localhost(side)
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    # While Home Assistant was stopped, the add-on restarted with a new token or port.
    await _restart(addon_runner, change)
    await side.announce(addon_runner.announcement())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.data["url"] == f"http://127.0.0.1:{addon_runner.port}"
    assert entry.data["token"] == addon_runner.token
    await _classifies(hass, entry)


async def test_reauth_of_an_addon_entry_takes_the_addon_token_without_a_form(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(supervisor)
    _on_localhost(side)
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    # The add-on got a new token and Home Assistant missed its announcement: a poll is refused.
    await _restart(addon_runner, "token")
    await side.announce(addon_runner.announcement())
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)  # no token form
    assert entry.data["token"] == "runner-token-rotated"
    await _classifies(hass, entry)


async def test_reauth_asks_for_a_token_when_the_addon_has_no_new_one(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(supervisor)
    _on_localhost(side)
    await side.announce({"port": addon_runner.port, "token": "stale-token"})
    entry = _addon_entry(addon_runner, token="stale-token")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)  # the runner refuses it
    await hass.async_block_till_done()
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "reauth_confirm"


async def test_entry_keeps_its_address_while_the_addon_is_stopped(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(supervisor, state="stopped")
    await side.announce(addon_runner.announcement())
    entry = _addon_entry(addon_runner, token="the-last-known-token")
    entry.add_to_hass(hass)
    await async_refresh_from_addon(hass, entry)
    assert entry.data["token"] == "the-last-known-token"


# --- already configured, ignored, unusable ------------------------------------------------------


async def test_discovery_with_an_entry_on_the_addon_aborts(
    hass: HomeAssistant, pushing: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(pushing)
    _on_localhost(side)
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_HASSIO},
        data=HassioServiceInfo(
            config=addon_runner.announcement(), name="GarageCam", slug=SLUG, uuid="0" * 32
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "addon_in_use"
    assert entry.state is ConfigEntryState.LOADED  # nothing changed: no reload


async def test_an_ignored_addon_card_stays_ignored(
    hass: HomeAssistant, pushing: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    side = _addon(pushing)
    _on_localhost(side)
    await side.announce(addon_runner.announcement())
    (flow,) = await _discovered(hass, pushing)
    await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_IGNORE},
        data={"unique_id": flow["context"]["unique_id"], "title": "GarageCam"},
    )
    await hass.async_block_till_done()
    await _restart(addon_runner, "port")
    await side.announce(addon_runner.announcement())
    assert not await _discovered(hass, pushing)


@pytest.mark.parametrize(("slug", "state"), [("0badc0de_garagecam", "started"), (SLUG, "stopped")])
async def test_discovery_of_an_unknown_or_stopped_addon_aborts(
    hass: HomeAssistant, supervisor: StandinSupervisor, slug: str, state: str
) -> None:
    # A message Home Assistant got while the add-on was being uninstalled or stopped.
    _addon(supervisor, state=state)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_HASSIO},
        data=HassioServiceInfo(
            config={"port": 8765, "token": "t"}, name="GarageCam", slug=slug, uuid="1" * 32
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "addon_unavailable"


async def test_discovery_of_an_unusable_message_aborts(
    hass: HomeAssistant, pushing: StandinSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    side = _addon(pushing)
    await side.announce({"port": "eight", "token": "secret-runner-token"})
    assert not await _discovered(hass, pushing)
    assert "no valid 'port'" in caplog.text
    assert "secret-runner-token" not in caplog.text


async def test_the_standin_refuses_what_the_supervisor_refuses(
    hass: HomeAssistant, supervisor: StandinSupervisor
) -> None:
    """The stand-in's rules that the tests above lean on, checked over HTTP with Home
    Assistant's own client: an add-on cannot read messages (401), cannot announce a service
    its config does not list (403), and a new config keeps the message's uuid."""
    from aiohasupervisor import SupervisorClient
    from aiohasupervisor.exceptions import SupervisorAuthenticationError, SupervisorForbiddenError
    from aiohasupervisor.models import DiscoveryConfig

    side = _addon(supervisor)
    as_addon = SupervisorClient(
        f"http://{supervisor.host}", ADDON_SUPERVISOR_TOKEN, session=async_get_clientsession(hass)
    )
    with pytest.raises(SupervisorAuthenticationError):
        await as_addon.discovery.list()
    with pytest.raises(SupervisorForbiddenError):
        await as_addon.discovery.set(DiscoveryConfig(service="mqtt", config={}))
    first = await side.announce({"port": 1, "token": "a"})
    assert await side.announce({"port": 2, "token": "a"}) == first
    assert [m.config for m in await _messages_seen_by_home_assistant(hass)] == [
        {"port": 2, "token": "a"}
    ]


async def _messages_seen_by_home_assistant(hass: HomeAssistant) -> list[Any]:
    from homeassistant.components.hassio import get_supervisor_client

    return list(await get_supervisor_client(hass).discovery.list())


# --- the add-on's studio: its model and folder, and a model it replaced --------------------


@pytest.fixture
async def two_model_runner(
    tiny_model_path: Path, socket_enabled: None
) -> AsyncIterator[AddonRunner]:
    """The add-on serving `demo` (first by name) and `tiny`, its studio's model."""
    runner = AddonRunner(tiny_model_path, {"demo": demo_model_path()})
    await runner.start(RUNNER_TOKEN)
    yield runner
    await runner.stop()


async def test_the_addon_studio_model_and_folder_are_the_entry_defaults(
    hass: HomeAssistant,
    pushing: StandinSupervisor,
    two_model_runner: AddonRunner,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The add-on announces its studio's model and folder: the model step offers that model
    first, the entry keeps its frames in that folder, and the studio sees them there."""
    share = tmp_path_factory.mktemp("share")  # outside Home Assistant's config folder
    monkeypatch.setattr(addon_module, "SHARED_FOLDER", PurePosixPath(share))
    dataset = share / "garagecam/datasets/tiny"
    side = _addon(pushing)
    _on_localhost(side)
    studio = {"model": "tiny", "dataset": str(dataset)}
    await side.announce({**two_model_runner.announcement(), **studio})
    (card,) = await _discovered(hass, pushing)
    result = await hass.config_entries.flow.async_configure(card["flow_id"], {"use_addon": True})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["step_id"] == "model"
    assert result["data_schema"].schema["model"].config["options"] == ["demo", "tiny"]
    assert result["data_schema"]({"scan_interval": 10})["model"] == "tiny"  # no choice to make
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "tiny", "scan_interval": 10}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry = result["result"]
    assert entry.data["dataset"] == str(dataset) and entry.data["model"] == "tiny"
    # frames kept for labelling (opt-in) go to the studio's folder
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "capture_enabled": True}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    capture = entry.runtime_data.capture
    assert capture is not None and capture.directory == dataset
    assert capture.diagnostics()["folder"] == dataset.as_posix()
    frames = await hass.async_add_executor_job(lambda: LabelStore(dataset).scan())
    assert len(frames) == 1 and next(iter(frames)).startswith("images/")


async def test_another_model_or_a_folder_outside_share_keeps_the_config_folder(
    hass: HomeAssistant,
    pushing: StandinSupervisor,
    two_model_runner: AddonRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(addon_module, "SHARED_FOLDER", PurePosixPath(tmp_path / "share"))
    side = _addon(pushing)
    _on_localhost(side)
    outside = {"model": "tiny", "dataset": str(tmp_path / "config-of-home-assistant")}
    await side.announce({**two_model_runner.announcement(), **outside})
    (card,) = await _discovered(hass, pushing)
    result = await hass.config_entries.flow.async_configure(card["flow_id"], {"use_addon": True})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "tiny", "scan_interval": 10}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert "dataset" not in result["result"].data  # refused: not under the share


async def test_an_addon_entry_follows_a_replaced_model_at_its_next_frame(
    hass: HomeAssistant, supervisor: StandinSupervisor, addon_runner: AddonRunner
) -> None:
    """The studio's "Use this model" replaces the add-on's model (the runner's
    `replace_model`, which the studio calls): the entry's next frame is the new model's,
    with its thresholds (the entry's own per-label options still over them)."""
    side = _addon(supervisor)
    _on_localhost(side)
    await side.announce(addon_runner.announcement())
    entry = _addon_entry(addon_runner)
    entry.add_to_hass(hass)
    labels = {"car_present": {"on_threshold": 0.9}}
    options = {**entry.options, "labels": labels, "capture_enabled": True}
    hass.config_entries.async_update_entry(entry, options=options)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    door, car = (coordinator.debouncer.policy(n) for n in ("door_open", "car_present"))
    assert (door.on_threshold, door.off_threshold, car.on_threshold) == (0.6, 0.4, 0.9)
    assert addon_runner.runner is not None
    await addon_runner.runner.replace_model("tiny", demo_model_path())

    await coordinator.async_refresh()
    assert coordinator.data.available and coordinator.data.error is None
    door, car = (coordinator.debouncer.policy(n) for n in ("door_open", "car_present"))
    assert (door.on_threshold, door.off_threshold) == (0.7, 0.3)  # the demo's
    assert (car.on_threshold, car.off_threshold) == (0.9, 0.3)  # the entry's option stays
    assert entry.runtime_data.engine.metadata.name == "garagecam-demo"
    assert entry.state is ConfigEntryState.LOADED  # followed in place, no reload
    # the frames worth labelling: the unsure band is the new one too
    capture = entry.runtime_data.capture
    assert capture is not None
    band = {spec.name: (spec.on_threshold, spec.off_threshold) for spec in capture.labels}
    assert band == {"door_open": (0.7, 0.3), "car_present": (0.9, 0.3)}


def test_a_model_with_other_labels_is_not_followed_in_place() -> None:
    """The runner refuses such a swap; a runner restarted with another file under the same
    name is the way: the entry's entities are the labels, so it is set up again."""
    from custom_components.garagecam.model_change import (
        LabelsChanged,
        apply_model,
        entry_policies,
    )
    from garagecam_core.debounce import Debouncer
    from garagecam_core.metadata import LabelSpec, ModelMetadata

    def model(*labels: str) -> ModelMetadata:
        return ModelMetadata("m", 32, 32, tuple(LabelSpec(name) for name in labels))

    old, new = model("door_open", "car_present"), model("gate_open", "car_present")
    debouncer = Debouncer(entry_policies(old, {}))
    with pytest.raises(LabelsChanged, match="gate_open, car_present, not door_open"):
        apply_model(debouncer, old, new, {})
    assert debouncer.labels == ("door_open", "car_present")


async def _entry_of_the_studio_model(
    hass: HomeAssistant, supervisor: StandinSupervisor, announcement: dict[str, Any]
) -> config_entries.ConfigEntry:
    """The card confirmed, a camera, the model offered first, frames kept for labelling."""
    side = _addon(supervisor)
    _on_localhost(side)
    await side.announce(announcement)
    (card,) = await _discovered(hass, supervisor)
    result = await hass.config_entries.flow.async_configure(card["flow_id"], {"use_addon": True})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    model = result["data_schema"]({"scan_interval": 10})["model"]
    assert model == announcement["model"]  # the studio's: nothing to choose
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": model, "scan_interval": 10}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry = result["result"]
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "capture_enabled": True}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.mark.usefixtures("socket_enabled")
async def test_home_assistant_os_story_frames_labelled_in_the_studio_then_used(
    hass: HomeAssistant,
    pushing: StandinSupervisor,
    tiny_model_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole Home Assistant OS path with the add-on's runner as the add-on writes it (no
    camera of its own, `studio.model`): found -> an entry of the studio's model -> its frames
    kept in the studio's folder -> the studio sees them -> "Use this model" (the studio's API,
    as the sidebar calls it) -> the entry's next frame is the new model's, with its thresholds.
    """
    from garagecam_core.studio.training import TrainingJob, TrainSettings

    share = tmp_path_factory.mktemp("share")
    monkeypatch.setattr(addon_module, "SHARED_FOLDER", PurePosixPath(share))
    models, dataset = share / "garagecam/models", share / "garagecam/datasets/garage"
    models.mkdir(parents=True)
    dataset.mkdir(parents=True)
    shutil.copyfile(demo_model_path(), models / "garage.gcam")  # what the add-on makes
    config = parse_config(
        {
            "models": {"garage": {"path": str(models / "garage.gcam")}},
            "mqtt": None,
            "http": {"host": "127.0.0.1", "port": 0, "token": RUNNER_TOKEN},
            "studio": {"enabled": True, "model": "garage", "dataset": str(dataset)},
        }
    )
    runner = Runner(config)
    await runner.start()
    try:
        assert runner.http is not None and runner.studio is not None
        announcement = {"port": runner.http.port, "token": RUNNER_TOKEN}
        entry = await _entry_of_the_studio_model(
            hass, pushing, {**announcement, "model": "garage", "dataset": str(dataset)}
        )
        coordinator = entry.runtime_data.coordinator
        assert coordinator.debouncer.policy("door_open").on_threshold == 0.7  # the demo's

        base = f"http://127.0.0.1:{runner.http.port}/v1/studio/api"
        auth = {"Authorization": f"Bearer {RUNNER_TOKEN}"}
        session = async_get_clientsession(hass)
        async with session.post(f"{base}/refresh", json={}, headers=auth) as response:
            assert response.status == 200
        async with session.get(f"{base}/state", headers=auth) as response:
            state = await response.json()
        assert state["dataset"] == str(dataset) and state["frames"] == 1  # Home Assistant's

        run = runner.studio.store.studio_dir / "runs" / "r1"  # a finished training run
        await hass.async_add_executor_job(lambda: run.mkdir(parents=True))
        await hass.async_add_executor_job(shutil.copyfile, tiny_model_path, run / "model.pte")
        runner.studio.jobs["r1"] = TrainingJob("r1", run, TrainSettings(), 10, status="done")
        async with session.post(f"{base}/deploy", json={"run": "r1"}, headers=auth) as response:
            assert response.status == 200, await response.text()

        await coordinator.async_refresh()
        assert coordinator.data.error is None
        assert entry.runtime_data.engine.metadata.name == "tiny"
        door = coordinator.debouncer.policy("door_open")
        assert (door.on_threshold, door.off_threshold) == (0.6, 0.4)  # the new model's
        assert entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await runner.stop()
