"""The integration's files checked with Home Assistant's own validators from the installed package.

hassfest (`script/hassfest`, what `home-assistant/actions/hassfest` runs on GitHub) is not in
the `homeassistant` wheel. Where the package has the validator hassfest uses, it is used here
(`cv.string_with_no_html`, `cv.icon`, `cv.slug`, the loader, the services.yaml schema,
`load_yaml_dict`); where it does not, the specific hassfest rule is re-implemented minimally
and says which hassfest file it comes from.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from awesomeversion import AwesomeVersion
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import service
from homeassistant.loader import async_get_integration, async_get_integrations
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict

from custom_components.garagecam.camera_options import ERROR_KEYS
from custom_components.garagecam.const import DOMAIN

ROOT = Path(__file__).parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN
MANIFEST = json.loads((COMPONENT / "manifest.json").read_text(encoding="utf-8"))
STRINGS = json.loads((COMPONENT / "translations" / "en.json").read_text(encoding="utf-8"))
ICONS = json.loads((COMPONENT / "icons.json").read_text(encoding="utf-8"))
SERVICES = load_yaml_dict(str(COMPONENT / "services.yaml"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CODE = "\n".join(p.read_text(encoding="utf-8") for p in sorted(COMPONENT.glob("*.py")))

# script/hassfest/translations.py `translation_key_validator` (not in the wheel)
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")


def translation_key(value: Any) -> str:
    if not isinstance(value, str) or TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(f"invalid translation key {value!r}: [a-z0-9-_]+, no edge _ or -")
    return value


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


# --- manifest.json ------------------------------------------------------------------------


async def test_manifest_is_accepted_by_the_loader(hass: HomeAssistant) -> None:
    """Home Assistant's loader refuses a custom integration without a valid version."""
    integration = await async_get_integration(hass, DOMAIN)
    assert not integration.is_built_in
    version = PYPROJECT["project"]["version"]
    assert integration.version == AwesomeVersion(version)
    assert integration.config_flow
    assert integration.requirements == [f"garagecam-core=={version}"]
    needed = [*integration.dependencies, *integration.after_dependencies]
    found = await async_get_integrations(hass, needed)
    assert {name: type(found[name]).__name__ for name in needed} == dict.fromkeys(
        needed, "Integration"
    )


# script/hassfest/manifest.py CUSTOM_INTEGRATION_MANIFEST_SCHEMA, only the keys it allows for
# what this manifest can use (the schema itself is not in the wheel)
CUSTOM_MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type"): vol.In(
            ["device", "entity", "hardware", "helper", "hub", "service", "system"]
        ),
        vol.Optional("config_flow"): bool,
        vol.Required("documentation"): vol.All(vol.Url(), vol.Match(r"^https://")),
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [vol.Match(r"^@")],
        vol.Optional("loggers"): [str],
        vol.Required("iot_class"): vol.In(
            [
                "assumed_state",
                "calculated",
                "cloud_polling",
                "cloud_push",
                "local_polling",
                "local_push",
            ]
        ),
        vol.Optional("single_config_entry"): bool,
        vol.Required("version"): str,  # checked by the loader above
    }
)


def test_manifest_schema_and_key_order() -> None:
    CUSTOM_MANIFEST_SCHEMA(MANIFEST)
    assert MANIFEST["domain"] == COMPONENT.name
    keys = list(MANIFEST)  # hassfest sort_manifest: domain, name, then alphabetical
    assert keys[:2] == ["domain", "name"] and keys[2:] == sorted(keys[2:])


def test_manifest_requirement_is_the_package_version() -> None:
    version = PYPROJECT["project"]["version"]
    assert PYPROJECT["project"]["name"] == "garagecam-core"
    assert MANIFEST["requirements"] == [f"garagecam-core=={version}"]
    assert MANIFEST["version"] == version
    # never torch/executorch: Home Assistant OS (musl) cannot install them; local mode
    # finds the runtime when the user installed it
    assert not any("torch" in r or "executorch" in r for r in MANIFEST["requirements"])
    assert "mqtt" in MANIFEST["after_dependencies"]
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert AwesomeVersion(hacs["homeassistant"]) >= AwesomeVersion("2025.8.0")


# --- translations/en.json ----------------------------------------------------------------


def test_no_html_in_any_translation_string() -> None:
    """hassfest runs every string through Home Assistant's `cv.string_with_no_html`."""
    for path, value in _leaves(STRINGS):
        try:
            cv.string_with_no_html(value)
        except vol.Invalid as err:
            pytest.fail(f"translations/en.json {path}: {err}")
        # custom integrations ship en.json as it is: `[%key:...%]` would show literally
        assert "[%key:" not in value, path


def test_the_no_html_rule_rejects_the_old_strings() -> None:
    with pytest.raises(vol.Invalid):
        cv.string_with_no_html("Put your own `.pte` files in `<config>/garagecam/models/`.")


def test_translation_keys_are_valid_and_used_keys_exist() -> None:
    for section in ("exceptions", "issues", "services"):
        for key in STRINGS[section]:
            translation_key(key)
    for platform, entities in STRINGS["entity"].items():
        cv.slug(platform)
        for key in entities:
            translation_key(key)
    for flow in ("config", "options"):
        for kind in ("error", "abort"):
            for key in STRINGS[flow].get(kind, {}):
                translation_key(key)

    # every translation_key the code raises or creates is translated
    used = set(re.findall(r'translation_key="([a-z0-9_]+)"', CODE))
    known = set(STRINGS["exceptions"]) | set(STRINGS["issues"])
    known |= {key for entities in STRINGS["entity"].values() for key in entities}
    known |= set(STRINGS["selector"])
    assert used and used <= known, used - known
    # every form error the flows can show
    errors = set(re.findall(r'\] = "([a-z0-9_]+)"', CODE))
    errors |= set(re.findall(r'\(\w+, "([a-z0-9_]+)"\)', CODE))  # the _ERROR_KEYS table
    errors |= ERROR_KEYS  # the options' problems (camera_options.form_errors)
    assert errors <= set(STRINGS["config"]["error"]) | set(STRINGS["options"]["error"])
    assert "cannot_load_model" in errors and "reserved_prefix" in errors


def test_every_service_and_field_is_translated() -> None:
    assert set(STRINGS["services"]) == set(SERVICES)
    for name, spec in SERVICES.items():
        assert set(STRINGS["services"][name]["fields"]) == set(spec["fields"])


# --- services.yaml -----------------------------------------------------------------------


async def test_services_yaml_through_home_assistant(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """The descriptions Home Assistant builds from services.yaml (its own schema)."""
    assert await async_setup_component(hass, DOMAIN, {})
    descriptions = await service.async_get_all_descriptions(hass)
    assert "Unable to parse services.yaml" not in caplog.text
    for name in ("classify", "save_snapshot"):
        field = descriptions[DOMAIN][name]["fields"]["config_entry_id"]
        assert field["required"] is True
        assert field["selector"] == {"config_entry": {"integration": DOMAIN}}


def test_services_yaml_schema() -> None:
    # the schema behind async_get_all_descriptions (private name, same since 2021)
    schema = service._SERVICES_SCHEMA
    schema(SERVICES)
    broken = {"classify": {"fields": {"config_entry_id": {"selector": {"no_such": {}}}}}}
    with pytest.raises(vol.Invalid):
        schema(broken)


# --- icons.json --------------------------------------------------------------------------


def icon(value: Any) -> str:
    """script/hassfest/icons.py `icon_value_validator`, on Home Assistant's `cv.icon`."""
    value = cv.icon(cv.string_with_no_html(value))
    if not value.startswith("mdi:"):
        raise vol.Invalid("icons come from Material Design Icons: `mdi:...`")
    return str(value)


# script/hassfest/icons.py `icon_schema` for a non-entity integration (not in the wheel)
ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("entity"): cv.schema_with_slug_keys(
            cv.schema_with_slug_keys(
                {
                    vol.Optional("default"): icon,
                    vol.Optional("state"): cv.schema_with_slug_keys(
                        icon, slug_validator=translation_key
                    ),
                },
                slug_validator=translation_key,
            ),
            slug_validator=cv.slug,
        ),
        vol.Optional("services"): cv.schema_with_slug_keys(
            {vol.Required("service"): icon, vol.Optional("sections"): {str: icon}},
            slug_validator=translation_key,
        ),
    }
)


def test_icons() -> None:
    ICONS_SCHEMA(ICONS)
    assert set(ICONS["services"]) == set(SERVICES)
    for platform, keys in ICONS["entity"].items():
        assert set(keys) <= set(STRINGS["entity"][platform]), platform
    with pytest.raises(vol.Invalid):
        ICONS_SCHEMA({"services": {"classify": {"service": "image-search"}}})


# --- quality_scale.yaml ------------------------------------------------------------------

# script/hassfest/quality_scale.py ALL_RULES (hassfest checks the file for core integrations
# only; the same schema is applied here so the self-assessment stays well-formed)
RULES = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions",
        "docs-high-level-description", "docs-installation-instructions",
        "docs-removal-instructions", "entity-event-setup", "entity-unique-id",
        "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases",
        "dynamic-devices", "entity-category", "entity-device-class",
        "entity-disabled-by-default", "entity-translations", "exception-translations",
        "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip
QUALITY_SCALE_SCHEMA = vol.Schema(
    {
        vol.Required("rules"): {
            vol.Optional(rule): vol.Any(
                vol.In(["todo", "done"]),
                {vol.Required("status"): vol.In(["todo", "done"]), vol.Optional("comment"): str},
                {vol.Required("status"): "exempt", vol.Required("comment"): str},
            )
            for tier in RULES.values()
            for rule in tier
        }
    }
)


def test_quality_scale() -> None:
    data = load_yaml_dict(str(COMPONENT / "quality_scale.yaml"))
    QUALITY_SCALE_SCHEMA(data)
    assert set(data["rules"]) == {rule for tier in RULES.values() for rule in tier}
    with pytest.raises(vol.Invalid):
        QUALITY_SCALE_SCHEMA({"rules": {"brands": {"status": "exempt"}}})  # needs a comment


# --- .github/workflows -------------------------------------------------------------------


def _workflow(name: str) -> dict[Any, Any]:
    return load_yaml_dict(str(ROOT / ".github" / "workflows" / name))


def _uses(workflow: dict[Any, Any]) -> set[str]:
    """The actions a workflow's steps use, and the reusable workflows its jobs call."""
    uses = set()
    for job in workflow["jobs"].values():
        if "uses" in job:  # a job that calls a reusable workflow has no steps
            uses.add(job["uses"])
        uses.update(step.get("uses", "") for step in job.get("steps", []))
    return uses


def test_workflows_run_hassfest_hacs_tests_and_release() -> None:
    validate = _workflow("validate.yml")
    assert {"home-assistant/actions/hassfest@master", "hacs/action@main"} <= _uses(validate)
    [hacs] = [s for s in validate["jobs"]["hacs"]["steps"] if s.get("uses") == "hacs/action@main"]
    assert hacs["with"]["category"] == "integration"

    tests = _workflow("tests.yml")
    commands = [s.get("run", "") for s in tests["jobs"]["tests"]["steps"]]
    assert any("./scripts/setup.sh" in c for c in commands)
    assert any("./scripts/test.sh" in c for c in commands)

    release = _workflow("release.yml")
    assert release[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the `on` key as True
    assert release["jobs"]["pypi"]["permissions"] == {"id-token": "write"}
    assert "pypa/gh-action-pypi-publish@release/v1" in _uses(release)
    build = "\n".join(s.get("run", "") for s in release["jobs"]["core"]["steps"])
    assert "tag != version" in build and "python -m build" in build
    # the zip is named by hacs.json (scripts/build_hacs_zip.py; tests/install checks its content)
    hacs_json = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs_json["zip_release"] is True and "scripts/build_hacs_zip.py" in build
    assert release["jobs"]["runtime"]["uses"] == "./.github/workflows/wheels.yml"
    assert set(release["jobs"]["pypi"]["needs"]) == {"core", "runtime"}
