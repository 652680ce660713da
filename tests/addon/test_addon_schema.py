"""repository.yaml and addon/ checked against the Supervisor's own rules, re-stated here.

Source: home-assistant/supervisor at 090ef31ec024952c2469ed5a7c9f3ce8c1a5499e (2026-08-21;
`fetch home-assistant/supervisor`), cited as file:line. Add-ons are called "apps" in that
code since 2026.04 (supervisor/apps/, was supervisor/addons/). The Supervisor drops unknown
keys silently (`extra=vol.REMOVE_EXTRA`); here an unknown key fails, since it is a typo.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml

from tests.addon.tree import ADDON, ROOT

# supervisor/const.py:414-416: ARCH_ALL = [aarch64, amd64]; armhf, armv7, i386 deprecated
ARCH_ALL = {"aarch64", "amd64"}
# supervisor/apps/const.py:54 RE_SLUG
RE_SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
# supervisor/const.py:480-487 AppStartup; 456-461 AppBootConfig
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}
# supervisor/apps/validate.py:136-138 RE_VOLUME (a `map` string: type and :rw/:ro)
RE_VOLUME = re.compile(
    r"^(data|config|ssl|local_apps|addons|backup|share|media|homeassistant_config"
    r"|all_app_configs|all_addon_configs|app_config|addon_config)(?::(rw|ro))?$"
)
# supervisor/apps/validate.py:262-266: deprecated (2026.07) map types, with their new names
LEGACY_MAP = {"addons", "all_addon_configs", "addon_config"}
# supervisor/apps/validate.py:139 RE_SERVICE
RE_SERVICE = re.compile(r"^(?P<service>mqtt|mysql):(?P<rights>provide|want|need)$")
# supervisor/apps/options.py:31-45 RE_SCHEMA_ELEMENT (an option's type; "?" = optional)
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:|bool|email|url|port|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?"
    r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)|list\((?P<list>.+)\))\??$"
)
# supervisor/validate.py:160-162 docker_port / docker_ports / docker_ports_description
RE_DOCKER_PORT = re.compile(r"^\d+(?:/tcp|/udp)?$")
# supervisor/validate.py:70 an image path component ({arch} allowed); :94-96 no tag
RE_IMAGE_COMPONENT = re.compile(r"^[a-z0-9{][a-z0-9.\-_{}]*$")
# supervisor/apps/validate.py:142-144 RE_DOCKER_IMAGE_BUILD (build_from)
RE_DOCKER_IMAGE_BUILD = re.compile(
    r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?$"
)
# supervisor/const.py:44 FILE_SUFFIX_CONFIGURATION
SUFFIXES = (".yaml", ".yml", ".json")

# supervisor/apps/validate.py:454-557 _SCHEMA_APP_CONFIG: the keys it knows
CONFIG_KEYS = {
    "name", "version", "slug", "description", "arch", "machine", "url", "startup", "boot",
    "init", "advanced", "stage", "ports", "ports_description", "watchdog", "webui", "ingress",
    "ingress_port", "ingress_entry", "ingress_stream", "panel_icon", "panel_title",
    "panel_admin", "homeassistant", "host_network", "host_pid", "host_ipc", "host_uts",
    "host_dbus", "devices", "udev", "tmpfs", "map", "environment", "privileged", "apparmor",
    "full_access", "audio", "video", "gpio", "usb", "uart", "devicetree", "kernel_modules",
    "realtime", "hassio_api", "hassio_role", "homeassistant_api", "stdin", "legacy",
    "docker_api", "auth_api", "services", "discovery", "backup_exclude", "backup_pre",
    "backup_post", "backup", "options", "schema", "image", "ulimits", "timeout", "journald",
    "breaking_versions",
}  # fmt: skip
BOOLEAN_KEYS = {"init", "ingress", "host_network", "tmpfs", "apparmor", "hassio_api",
                "homeassistant_api", "auth_api", "docker_api", "full_access"}  # fmt: skip


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path}: not a mapping"
    return loaded


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return _yaml(ADDON / "config.yaml")


def _tracked() -> list[str]:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.splitlines()


# --- where the Supervisor looks ---------------------------------------------------------------


def test_the_repository_has_one_addon_config_and_one_repository_file() -> None:
    tracked = [Path(p) for p in _tracked()]
    # supervisor/store/data.py:150-164: every `**/config.{yaml,yml,json}` not under a dot
    # folder or a rootfs folder is read as an add-on's config
    configs = [
        p
        for p in tracked
        if p.stem == "config"
        and p.suffix in SUFFIXES
        and not any(part.startswith(".") or part == "rootfs" for part in p.parts)
    ]
    assert configs == [Path("addon/config.yaml")]
    # supervisor/store/data.py:87-89 with supervisor/utils/common.py:22-30: the first
    # `**/repository.{yaml,yml,json}` found is the repository's description
    repositories = [p for p in tracked if p.stem == "repository" and p.suffix in SUFFIXES]
    assert repositories == [Path("repository.yaml")]


def test_repository_yaml() -> None:
    repository = _yaml(ROOT / "repository.yaml")
    # supervisor/store/validate.py:10-17 SCHEMA_REPOSITORY_CONFIG
    assert set(repository) <= {"name", "url", "maintainer"}
    assert isinstance(repository["name"], str) and repository["name"]
    vol.Url()(repository["url"])
    assert isinstance(repository["maintainer"], str)


# --- config.yaml ------------------------------------------------------------------------------


def test_config_required_keys_and_identity(config: dict[str, Any]) -> None:
    assert set(config) <= CONFIG_KEYS, set(config) - CONFIG_KEYS
    # supervisor/apps/validate.py:456-460: name, version, slug, description, arch required
    for key in ("name", "slug", "description"):
        assert isinstance(config[key], str) and config[key]
    assert RE_SLUG.match(config["slug"])
    assert config["slug"] == "garagecam"
    # :457 version_tag (supervisor/validate.py:113-121, any AwesomeVersion); ours must be the
    # garagecam-core release the image installs
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["version"] == pyproject["project"]["version"]
    assert isinstance(config["version"], str)  # quoted: 0.10 must not become 0.1
    # :460 arch values from ARCH_ALL_COMPAT; :235-242 deprecated ones warn. Ours: both
    # supported ones, no deprecated one
    assert set(config["arch"]) == ARCH_ALL
    vol.Url()(config["url"])  # :462


def test_config_enums_booleans_and_ports(config: dict[str, Any]) -> None:
    assert config["startup"] in STARTUP  # :463-465
    assert config["boot"] in BOOT  # :466
    for key in BOOLEAN_KEYS & set(config):  # vol.Boolean() keys (:467, :478, :488, ...)
        assert isinstance(config[key], bool), key
    # :479-481 ingress_port: network_port (supervisor/validate.py:67, 1-65535) or 0
    assert isinstance(config["ingress_port"], int) and 0 <= config["ingress_port"] <= 65535
    assert isinstance(config["ingress_entry"], str)  # :482
    assert isinstance(config["panel_icon"], str) and config["panel_icon"].startswith("mdi:")
    # :470-471 ports / ports_description (supervisor/validate.py:160-162): "N/tcp" keys,
    # host port 1-65535 or null (not mapped)
    for port, host in config["ports"].items():
        assert RE_DOCKER_PORT.match(port)
        assert host is None or 1 <= int(host) <= 65535
    assert set(config["ports_description"]) == set(config["ports"])
    # :281-295: with ingress_port 0 no mapped port may fall in the dynamic ingress range
    assert config["ingress_port"] != 0
    # ours: ingress reaches the runner's own port, the one Remote mode uses
    assert config["ingress_port"] == 8080 and "8080/tcp" in config["ports"]


def test_config_map_services_discovery(config: dict[str, Any]) -> None:
    # :372-399 a `map` entry: a dict with `type`, or a string matching RE_VOLUME
    for entry in config["map"]:
        kind = entry["type"] if isinstance(entry, dict) else RE_VOLUME.match(entry).group(1)
        assert kind not in LEGACY_MAP  # :262-274 legacy types log a deprecation
    assert "share:rw" in config["map"]  # ours: /share/garagecam, writable
    # :524 services match RE_SERVICE
    assert all(RE_SERVICE.match(service) for service in config["services"])
    assert config["services"] == ["mqtt:want"]
    # :525 discovery: [str]; supervisor/api/discovery.py:98-107 an add-on may only send
    # discovery for services listed here; supervisor/discovery/validate.py:9-25 no longer
    # checks the service name (removed in supervisor#4937)
    assert config["discovery"] == ["garagecam"]


def test_config_image(config: dict[str, Any]) -> None:
    # :535 docker_image (supervisor/validate.py:73-105): a registry in lower case, path
    # components matching RE_IMAGE_COMPONENT, no tag (the version is the tag)
    registry, _, path = config["image"].partition("/")
    assert registry == registry.lower() and "." in registry
    assert ":" not in path
    assert all(RE_IMAGE_COMPONENT.match(part) for part in path.split("/"))
    assert "{arch}" in path


def _check_schema_element(element: Any, where: str, in_list: bool = False) -> None:
    # supervisor/apps/validate.py:146-158 SCHEMA_ELEMENT: a type string, a dict of elements,
    # or a list of one type string or dict (a list may not directly contain a list)
    if isinstance(element, str):
        assert RE_SCHEMA_ELEMENT.match(element), f"{where}: unknown type {element!r}"
    elif isinstance(element, dict):
        for key, value in element.items():
            _check_schema_element(value, f"{where}.{key}")
    else:
        assert isinstance(element, list) and len(element) == 1 and not in_list, where
        _check_schema_element(element[0], f"{where}[]", in_list=True)


def _check_option(typ: Any, value: Any, where: str) -> None:
    """supervisor/apps/options.py:106-197 and 230-272: a value against its type."""
    if isinstance(typ, list):
        assert isinstance(value, list), where  # :235-238
        for item in value:
            _check_option(typ[0], item, where)
    elif isinstance(typ, dict):
        assert isinstance(value, dict), where  # :253-257
        for key, item in value.items():
            _check_option(typ[key], item, f"{where}.{key}")
        _check_missing(typ, value, where)
    else:
        match = RE_SCHEMA_ELEMENT.match(typ)
        assert match, where
        if typ.startswith("bool"):
            vol.Boolean()(value)  # :158-159
        elif typ.startswith("list"):
            vol.In(match.group("list").split("|"))(str(value))  # :168-169
        elif typ.startswith(("str", "password")):
            vol.All(str)(value)  # :150-153
        else:
            pytest.fail(f"{where}: add a check for {typ}")


def _check_missing(schema: dict[str, Any], options: dict[str, Any], where: str) -> None:
    # supervisor/apps/options.py:274-291: a missing option is an error unless its type
    # (or its list's type) ends with "?"
    for key in set(schema) - set(options):
        typ = schema[key][0] if isinstance(schema[key], list) else schema[key]
        assert isinstance(typ, str) and typ.endswith("?"), f"{where}.{key} is required"


def test_config_options_and_schema(config: dict[str, Any]) -> None:
    schema, options = config["schema"], config["options"]
    _check_schema_element(schema, "schema")  # :531-534
    # the defaults pass the schema, as the Supervisor checks them before the first start
    # (supervisor/apps/options.py:78-103: unknown options are dropped with a warning)
    assert set(options) <= set(schema)
    for key, value in options.items():
        _check_option(schema[key], value, f"options.{key}")
    _check_missing(schema, options, "options")
    # a camera as a user fills it in passes too
    camera = {"id": "garage", "snapshot_url": "http://192.0.2.10/image.jpg"}
    _check_missing(schema["cameras"][0], camera, "cameras[0]")
    assert re.match(RE_SCHEMA_ELEMENT.match(schema["cameras"][0]["id"]).group("match"),
                    camera["id"])  # fmt: skip


def test_translations_cover_the_options(config: dict[str, Any]) -> None:
    # supervisor/store/data.py:48-75: translations/<language>.{yaml,yml,json}, validated by
    # supervisor/apps/validate.py:589-605 (configuration: {option: {name, description?,
    # fields?}}, network: {port: text})
    files = sorted((ADDON / "translations").iterdir())
    assert [f.name for f in files] == ["en.yaml"]
    translation = _yaml(files[0])
    assert set(translation) <= {"configuration", "network"}

    def check(entries: dict[str, Any], schema: dict[str, Any], where: str) -> None:
        assert set(entries) == set(schema), where  # ours: every option explained, no stale
        for key, entry in entries.items():
            assert set(entry) <= {"name", "description", "fields"}, f"{where}.{key}"
            assert isinstance(entry["name"], str) and entry["name"]
            assert entry.get("description") is None or isinstance(entry["description"], str)
            inner = schema[key][0] if isinstance(schema[key], list) else schema[key]
            if isinstance(inner, dict):
                check(entry["fields"], inner, f"{where}.{key}")

    check(translation["configuration"], config["schema"], "configuration")
    assert set(translation["network"]) == set(config["ports"])
    assert all(isinstance(text, str) for text in translation["network"].values())


def test_addon_folder_files() -> None:
    # supervisor/apps/model.py:621-638: icon.png, logo.png, CHANGELOG.md, DOCS.md beside
    # config.yaml are shown in the store when present; :678-692 README.md is the store's
    # long description
    for name in ("icon.png", "logo.png", "CHANGELOG.md", "DOCS.md", "README.md", "Dockerfile"):
        assert (ADDON / name).is_file(), name
    from PIL import Image

    with Image.open(ADDON / "icon.png") as icon:
        assert icon.size == (128, 128)  # the developer docs' recommended icon size
    with Image.open(ADDON / "logo.png") as logo:
        assert logo.size == (250, 100)  # and logo size
    version = _yaml(ADDON / "config.yaml")["version"]
    assert f"## {version}" in (ADDON / "CHANGELOG.md").read_text()


# --- build.yaml and the Dockerfile ------------------------------------------------------------


def test_build_yaml_and_dockerfile(config: dict[str, Any]) -> None:
    build = _yaml(ADDON / "build.yaml")
    # supervisor/apps/validate.py:576-587 SCHEMA_BUILD_CONFIG
    assert set(build) <= {"build_from", "squash", "args", "labels"}
    assert set(build["build_from"]) == set(config["arch"])
    for arch, image in build["build_from"].items():
        assert RE_DOCKER_IMAGE_BUILD.match(image), image
        # Home Assistant's Debian base (glibc: the runtime wheels are manylinux)
        assert image == f"ghcr.io/home-assistant/{arch}-base-debian:bookworm"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in build["labels"].items())
    assert "squash" not in build  # supervisor/apps/build.py:72-77: ignored, warns
    # supervisor/apps/build.py:66-70, 111-114, 257-258 (supervisor#6694, 2026-04): build.yaml is
    # deprecated; without it the Dockerfile's own `ARG BUILD_FROM` default is the base, so that
    # default must be the same Debian release (multi-arch image, home-assistant/docker-base)
    dockerfile = (ADDON / "Dockerfile").read_text()
    default = re.search(r"^ARG BUILD_FROM=(\S+)$", dockerfile, re.MULTILINE)
    assert default and default.group(1) == "ghcr.io/home-assistant/base-debian:bookworm"
    assert re.search(r"^FROM \$\{BUILD_FROM\}$", dockerfile, re.MULTILINE)
    # the image runs the entry point, and installs with the script the tests run
    assert '"-m", "garagecam_addon"' in dockerfile
    assert "/usr/local/lib/garagecam-addon/install.sh" in dockerfile
