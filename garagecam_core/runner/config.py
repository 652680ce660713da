"""The runner's YAML configuration: validation, secrets from the environment, typed result.

Every error names the key path (`cameras[0].snapshot.url`) and what was expected; unknown
keys are errors. Any string value may be `${NAME}` (or contain it) to read the environment
variable NAME, so secrets stay out of the file.
"""

from __future__ import annotations

import codecs
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import voluptuous as vol
import yaml

from .. import demo_model_path
from ..debounce import DEFAULT_CONFIRM_FRAMES, LabelOverride, default_max_age
from ..discovery import DEFAULT_BASE_TOPIC, DEFAULT_DISCOVERY_PREFIX
from ..engine.factory import EngineKind, ModelConfig
from ..errors import ConfigError
from ..options import (
    DEFAULT_INTERVAL,
    DEMO_MODEL,
    CameraOptions,
    OptionError,
    OptionsError,
    check_topics,
    parse_confirm_frames,
    parse_interval,
    parse_max_age,
    parse_roi,
    parse_threshold,
    parse_topic,
)
from ..redact import url_secrets
from ..retained import REPUBLISH_INTERVAL
from ..roi import Roi
from ..sources import DEFAULT_MAX_BYTES
from ..web import IPAddress, gateway_address

if TYPE_CHECKING:
    from ..capture import CaptureRules

AuthKind = Literal["basic", "digest"]

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID_RE = r"^[a-zA-Z0-9_-]{1,64}$"


# --- typed result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSourceConfig:
    url: str
    username: str | None = None
    password: str | None = None
    auth: AuthKind = "basic"
    timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES
    verify_ssl: bool = True


@dataclass(frozen=True)
class OnvifSourceConfig:
    host: str
    port: int = 80
    username: str | None = None
    password: str | None = None
    profile: str | None = None
    timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES
    auth: AuthKind = "digest"


@dataclass(frozen=True)
class FileSourceConfig:
    path: Path


SourceConfig = HttpSourceConfig | OnvifSourceConfig | FileSourceConfig


@dataclass(frozen=True)
class CameraConfig:
    id: str
    name: str
    source: SourceConfig
    model: str = DEMO_MODEL
    interval: float = DEFAULT_INTERVAL
    roi: Roi | None = None
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES
    max_age: float | None = None
    max_backoff: float = 300.0
    labels: Mapping[str, LabelOverride] = field(default_factory=dict)
    capture: bool = False  # keep frames worth labelling (`capture` section, or per camera)

    @property
    def effective_max_age(self) -> float:
        """Seconds without a good frame before the states become unavailable."""
        return self.max_age if self.max_age is not None else default_max_age(self.interval)


@dataclass(frozen=True)
class TlsConfig:
    ca_certs: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    tls: TlsConfig | None = None
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    base_topic: str = DEFAULT_BASE_TOPIC
    keepalive: int = 60
    republish_interval: float = REPUBLISH_INTERVAL
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BYTES
    max_inflight_bytes: int | None = None  # classify bodies in memory; None: max_body_bytes
    max_queued_requests: int = 4  # waiting unread; beyond: 503 busy
    open_metrics: bool = False  # /metrics without the token (and without states)
    # Home Assistant add-on: the Supervisor's address; its ingress requests open the studio
    ingress_gateway: IPAddress | None = None


@dataclass(frozen=True)
class DebugSnapshotsConfig:
    directory: Path
    max_files: int = 100


@dataclass(frozen=True)
class CaptureConfig:
    """Frames worth labelling, kept per camera in `directory/<camera id>` (see capture.py)."""

    directory: Path
    enabled: bool = False  # storing frames of someone's home is opt-in
    max_frames: int = 2000  # per camera
    max_bytes: int = 500_000_000  # per camera
    background_interval: float = 3600.0
    unsure_interval: float = 60.0

    def folder(self, camera_id: str) -> Path:
        return self.directory / camera_id

    def rules(self) -> CaptureRules:
        from ..capture import CaptureRules

        return CaptureRules(
            background_interval=self.background_interval,
            unsure_interval=self.unsure_interval,
            max_frames=self.max_frames,
            max_bytes=self.max_bytes,
        )


@dataclass(frozen=True)
class StudioConfig:
    """The labelling pages served by the runner: a dataset folder, and the model (a name
    under `models:`) that "Use this model" replaces; every camera and API client using that
    model follows. `camera`: the camera the studio was set up for, if any (its captures are
    the default dataset); None for a runner that only serves the API (the add-on for Home
    Assistant: the frames are Home Assistant's)."""

    model: str
    dataset: Path
    camera: str | None = None


@dataclass(frozen=True)
class RunnerConfig:
    cameras: tuple[CameraConfig, ...]
    models: Mapping[str, ModelConfig]
    mqtt: MqttConfig | None = None
    http: HttpConfig | None = field(default_factory=HttpConfig)
    debug_snapshots: DebugSnapshotsConfig | None = None
    capture: CaptureConfig | None = None  # None: no `capture` section and no camera asks
    studio: StudioConfig | None = None
    #: passwords, tokens and URL secrets in this config: the caller registers them with the
    #: log filter (`redact.SECRETS.add_all`) when the runner starts; parsing registers nothing
    secrets: frozenset[str] = field(default=frozenset(), repr=False)

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)


# --- schema ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """What a wrong value is, never the value: a password typed into the wrong field (or a
    port) must not be echoed in the error."""
    if isinstance(value, str):
        return "text"
    return "true/false" if isinstance(value, bool) else type(value).__name__


def _number(value: Any) -> float:
    """A finite number (or its text, as `${NAME}` gives): not a bool, NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise vol.Invalid(f"expected a number, got {_kind(value)}")
    try:
        number = float(value)
    except ValueError:
        raise vol.Invalid(f"expected a number, got {_kind(value)}") from None
    if not math.isfinite(number):
        raise vol.Invalid("expected a finite number, got NaN or infinity")
    return number


def _integer(value: Any) -> int:
    """An integer (or its digits, as `${NAME}` gives): `true` is not 1 here."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise vol.Invalid(f"expected an integer, got {_kind(value)}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise vol.Invalid(f"expected an integer, got {_kind(value)}")
        return int(value)
    return value


def _token(value: Any) -> str:
    """A non-empty API token: an empty one must never mean "no authentication"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise vol.Invalid(
            "is empty (an unset or empty environment variable?): set a token, or remove the "
            "key to serve the API without authentication"
        )
    if not isinstance(value, str):
        raise vol.Invalid(f"expected a string, got {type(value).__name__}")
    if value != value.strip():
        raise vol.Invalid("has leading or trailing spaces")
    return value


_positive = vol.All(_number, vol.Range(min=0, min_included=False))
_port = vol.All(_integer, vol.Range(min=1, max=65535))
_str = vol.All(str, vol.Length(min=1))


def _ingress_gateway(value: Any) -> IPAddress | None:
    """The Supervisor's address (the add-on writes it); null: no ingress."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise vol.Invalid(f"expected an IP address as a string, got {type(value).__name__}")
    try:
        return gateway_address(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from err


def _checked(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A camera option checked by the options' own parser, left raw for `CameraOptions.parse`
    (which types it) in `_build`; voluptuous adds the key path to the parser's message."""

    def validate(value: Any) -> Any:
        try:
            parse(value)
        except OptionError as err:
            raise vol.Invalid(err.detail) from None
        return value

    return validate


def _topic(name: str, default: str) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        try:
            return parse_topic(name, value, default)
        except OptionError as err:
            raise vol.Invalid(err.detail) from None

    return validate


_HTTP_SOURCE = vol.Schema(
    {
        vol.Required("url"): vol.All(_str, vol.Match(r"^https?://", msg="expected an http(s) URL")),
        vol.Optional("username"): vol.Any(None, str),
        vol.Optional("password"): vol.Any(None, str),
        vol.Optional("auth", default="basic"): vol.In(["basic", "digest"]),
        vol.Optional("timeout", default=10.0): _positive,
        vol.Optional("max_bytes", default=DEFAULT_MAX_BYTES): vol.All(_integer, vol.Range(min=1)),
        vol.Optional("verify_ssl", default=True): bool,
    }
)

_ONVIF_SOURCE = vol.Schema(
    {
        vol.Required("host"): _str,
        vol.Optional("port", default=80): _port,
        vol.Optional("username"): vol.Any(None, str),
        vol.Optional("password"): vol.Any(None, str),
        vol.Optional("profile"): vol.Any(None, str),
        vol.Optional("timeout", default=10.0): _positive,
        vol.Optional("max_bytes", default=DEFAULT_MAX_BYTES): vol.All(_integer, vol.Range(min=1)),
        vol.Optional("auth", default="digest"): vol.In(["basic", "digest"]),
    }
)

_LABEL_OVERRIDE = vol.Schema(
    {
        vol.Optional("on_threshold"): _checked(lambda v: parse_threshold("on_threshold", v)),
        vol.Optional("off_threshold"): _checked(lambda v: parse_threshold("off_threshold", v)),
        vol.Optional("confirm_frames"): _checked(parse_confirm_frames),
    }
)

_CAMERA = vol.Schema(
    {
        vol.Required("id"): vol.All(
            str, vol.Match(_ID_RE, msg="expected 1-64 letters, digits, '_' or '-'")
        ),
        vol.Optional("name"): _str,
        vol.Exclusive("snapshot", "source"): _HTTP_SOURCE,
        vol.Exclusive("onvif", "source"): _ONVIF_SOURCE,
        vol.Exclusive("file", "source"): _str,
        vol.Optional("model", default=DEMO_MODEL): _str,
        vol.Optional("interval"): _checked(parse_interval),
        vol.Optional("roi"): _checked(parse_roi),
        vol.Optional("confirm_frames"): _checked(parse_confirm_frames),
        vol.Optional("max_age"): _checked(parse_max_age),
        vol.Optional("max_backoff", default=300.0): _positive,
        vol.Optional("labels", default=dict): {str: _LABEL_OVERRIDE},
        vol.Optional("capture"): bool,
    }
)

_MODEL = vol.Schema(
    {
        vol.Required("path"): _str,
        vol.Optional("engine"): vol.In(["worker", "local"]),
        vol.Optional("threads", default=1): vol.All(_integer, vol.Range(min=1, max=64)),
        vol.Optional("timeout", default=30.0): _positive,
    }
)

_TLS = vol.Schema(
    {
        vol.Optional("ca_certs"): _str,
        vol.Optional("certfile"): _str,
        vol.Optional("keyfile"): _str,
        vol.Optional("insecure", default=False): bool,
    }
)

_MQTT = vol.Schema(
    {
        vol.Required("host"): _str,
        vol.Optional("port", default=1883): _port,
        vol.Optional("username"): vol.Any(None, str),
        vol.Optional("password"): vol.Any(None, str),
        vol.Optional("client_id"): vol.Any(None, _str),
        vol.Optional("tls"): vol.Any(bool, _TLS),
        vol.Optional("discovery_prefix", default=DEFAULT_DISCOVERY_PREFIX): _topic(
            "discovery_prefix", DEFAULT_DISCOVERY_PREFIX
        ),
        vol.Optional("base_topic", default=DEFAULT_BASE_TOPIC): _topic(
            "base_topic", DEFAULT_BASE_TOPIC
        ),
        vol.Optional("keepalive", default=60): vol.All(_integer, vol.Range(min=5, max=3600)),
        vol.Optional("republish_interval", default=REPUBLISH_INTERVAL): _positive,
        vol.Optional("reconnect_min_delay", default=1.0): _positive,
        vol.Optional("reconnect_max_delay", default=60.0): _positive,
    }
)

_HTTP = vol.Schema(
    {
        vol.Optional("host", default="127.0.0.1"): _str,
        vol.Optional("port", default=8080): vol.All(_integer, vol.Range(min=0, max=65535)),
        vol.Optional("token"): _token,
        vol.Optional("max_body_bytes", default=DEFAULT_MAX_BYTES): vol.All(
            _integer, vol.Range(min=1)
        ),
        vol.Optional("max_inflight_bytes"): vol.Any(None, vol.All(_integer, vol.Range(min=1))),
        vol.Optional("max_queued_requests", default=4): vol.All(
            _integer, vol.Range(min=0, max=1024)
        ),
        vol.Optional("open_metrics", default=False): bool,
        vol.Optional("ingress_gateway"): _ingress_gateway,
    }
)

_CAPTURE = vol.Schema(
    {
        vol.Optional("enabled", default=False): bool,
        vol.Optional("directory", default="captures"): _str,
        vol.Optional("max_frames", default=2000): vol.All(_integer, vol.Range(min=1)),
        vol.Optional("max_bytes", default=500_000_000): vol.All(_integer, vol.Range(min=1)),
        vol.Optional("background_interval", default=3600.0): _positive,
        vol.Optional("unsure_interval", default=60.0): vol.All(_number, vol.Range(min=0)),
    }
)

_STUDIO = vol.Schema(
    {
        vol.Optional("enabled", default=False): bool,
        vol.Exclusive("camera", "studio_for"): vol.All(
            str, vol.Match(_ID_RE, msg="expected 1-64 letters, digits, '_' or '-'")
        ),
        vol.Exclusive("model", "studio_for"): vol.All(
            str, vol.Match(_ID_RE, msg="expected a model name of letters, digits, '_' or '-'")
        ),
        vol.Optional("dataset"): _str,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("cameras", default=list): vol.Any(None, [_CAMERA]),
        vol.Optional("models", default=dict): {
            vol.Match(_ID_RE, msg="expected a model name of letters, digits, '_' or '-'"): _MODEL
        },
        vol.Optional("engine", default="worker"): vol.In(["worker", "local"]),
        vol.Optional("mqtt"): vol.Any(None, _MQTT),
        vol.Optional("http", default=dict): vol.Any(None, _HTTP),
        vol.Optional("debug_snapshots"): {
            vol.Required("directory"): _str,
            vol.Optional("max_files", default=100): vol.All(_integer, vol.Range(min=1)),
        },
        vol.Optional("capture"): vol.Any(None, _CAPTURE),
        vol.Optional("studio"): vol.Any(None, _STUDIO),
    }
)


# --- loading --------------------------------------------------------------------------------


def _path_text(path: list[Any]) -> str:
    text = ""
    for part in path:
        key = getattr(part, "schema", part)  # vol.Required/Optional wrap the key
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text or "(top level)"


def _error_text(err: vol.Invalid) -> str:
    message, path = err.error_message, list(err.path)
    # Inside Home Assistant 2026.9+ `voluptuous` is Probatio's shim, which words this one
    # differently ("not a valid option") and raises an ExtraKeysInvalid the shim does not export
    if message == "extra keys not allowed" or type(err).__name__ == "ExtraKeysInvalid":
        message = "unknown key"
    elif message.startswith("required key not provided"):
        message = "required key is missing"
    elif message.startswith("two or more values in the same group of exclusion"):
        if path[:1] == ["studio"]:
            message = "give studio.camera or studio.model, not both"
        else:
            message = "give only one of snapshot, onvif, file"
        path = path[:-1]
    return f"{_path_text(path)}: {message}"


def _expand_env(value: Any, path: str) -> Any:
    """Replace `${NAME}` in strings with environment variables; missing ones are errors."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_RE.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


class _StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping (PyYAML keeps the last
    silently: `port: 1883` then `port: 8883` would quietly pick one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise _MarkedError(
                    f"the key {key!r} is given twice (lines {seen[key]} and {line})", key_node
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


#: byte-order marks YAML allows, longest first (the UTF-32 LE mark starts like UTF-16 LE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 (a BOM is fine), or UTF-16/32 with a BOM as YAML allows; else one clear line."""
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ConfigError(
            f"{path} is not {encoding.upper().removesuffix('-SIG')} text (byte "
            f"0x{raw[err.start]:02X} at line {line}, column {column}): save it as UTF-8"
        ) from None


#: PyYAML quotes what it found (`found undefined alias 'hunter2'` for a password starting
#: with `*`): the quoted part is the config's own text, which may be a secret
_QUOTED: Final = re.compile("'[^']*'|\"[^\"]*\"")
_ALIAS_HINT: Final = " (a value starting with * or & must be quoted)"


def _yaml_error(err: yaml.YAMLError, path: Path) -> ConfigError:
    """Line, column and what is wrong: never the offending source line or value, which may
    hold a password (PyYAML's own message quotes both)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "syntax error"
        if not getattr(err, "ours", False):
            hint = _ALIAS_HINT if "alias" in problem or "anchor" in problem else ""
            problem = _QUOTED.sub("(value not shown)", problem) + hint
        return ConfigError(f"{path} is not valid YAML{where}: {problem}")
    return ConfigError(f"{path} is not valid YAML")


#: a runner config is a few hundred nodes; aliases may repeat parts, not multiply them
MAX_YAML_NODES: Final = 100_000
MAX_YAML_DEPTH: Final = 64


def _node_count(node: yaml.Node, depth: int, sizes: dict[int, int], open_: set[int]) -> int:
    """Nodes in `node` with every alias expanded (as the config will be walked), refusing a
    recursive alias, deep nesting or an alias bomb before anything is built from it."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _MarkedError("an alias refers to the node that contains it (recursive)", node)
    if depth > MAX_YAML_DEPTH:
        raise _MarkedError(f"nested more than {MAX_YAML_DEPTH} levels deep", node)
    open_.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1
    for child in children:
        total += _node_count(child, depth + 1, sizes, open_)
        if total > MAX_YAML_NODES:
            raise _MarkedError(
                f"aliases expand it to more than {MAX_YAML_NODES:,} values (an alias bomb?)", node
            )
    open_.discard(key)
    sizes[key] = total
    return total


class _MarkedError(yaml.MarkedYAMLError):
    """Our own finding, worded without values (`_yaml_error` shows it as it is)."""

    ours = True

    def __init__(self, problem: str, node: yaml.Node) -> None:
        super().__init__(problem=problem, problem_mark=node.start_mark)


_OPENING: Final = (
    yaml.FlowSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.BlockMappingStartToken,
)
_CLOSING: Final = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)


def _check_nesting(text: str) -> None:
    """Refuse deep nesting from the tokens (an iterative scan) before PyYAML's parser, which
    recurses once per level, spends seconds reaching a RecursionError."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        depth += isinstance(token, _OPENING) - isinstance(token, _CLOSING)
        if depth > MAX_YAML_DEPTH:
            raise yaml.MarkedYAMLError(
                problem=f"nested more than {MAX_YAML_DEPTH} levels deep",
                problem_mark=token.start_mark,
            )


def _load_yaml(text: str, path: Path) -> Any:
    """The YAML document, composed, checked for size and depth, then built: bounded work."""
    loader = _StrictLoader(text)
    try:
        _check_nesting(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _node_count(node, 0, {}, set())
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise _yaml_error(err, path) from None
    except RecursionError:  # the parser itself recurses per level (5,000 nested brackets)
        raise ConfigError(
            f"{path} is not valid YAML: nested more than {MAX_YAML_DEPTH} levels deep"
        ) from None
    finally:
        loader.dispose()


def load_config(path: Path) -> RunnerConfig:
    """Read, validate and type a runner config file; raises ConfigError naming the key."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from err
    return parse_config(_load_yaml(_decode_text(raw, path), path), base_dir=path.parent)


def parse_config(data: Any, base_dir: Path | None = None) -> RunnerConfig:
    """Validate already-decoded config data (relative paths resolve against base_dir)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (keys: cameras, models, mqtt, http)")
    data = _expand_env(data, "")
    try:
        valid = SCHEMA(data)
    except vol.MultipleInvalid as err:
        details = "; ".join(sorted({_error_text(e) for e in err.errors}))
        raise ConfigError(f"invalid config: {details}") from None
    return _build(valid, base_dir or Path.cwd())


def _resolve(base_dir: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _build(valid: dict[str, Any], base_dir: Path) -> RunnerConfig:
    default_engine: EngineKind = valid["engine"]
    models: dict[str, ModelConfig] = {
        DEMO_MODEL: ModelConfig(DEMO_MODEL, demo_model_path(), default_engine)
    }
    for name, raw in valid["models"].items():
        models[name] = ModelConfig(
            name=name,
            path=_resolve(base_dir, raw["path"]),
            engine=raw.get("engine", default_engine),
            threads=raw["threads"],
            timeout=raw["timeout"],
        )

    raw_capture = valid.get("capture") or _CAPTURE({})
    cameras = _build_cameras(valid["cameras"] or [], models, raw_capture["enabled"], base_dir)
    # Every configured model is served (HTTP API); the demo one only when something uses it.
    demo_used = any(camera.model == DEMO_MODEL for camera in cameras)
    demo_used |= (valid.get("studio") or {}).get("model") == DEMO_MODEL
    if DEMO_MODEL not in valid["models"] and valid["models"] and not demo_used:
        del models[DEMO_MODEL]

    mqtt = _build_mqtt(valid["mqtt"], base_dir) if valid.get("mqtt") else None
    http = HttpConfig(**valid["http"]) if valid.get("http") is not None else None
    debug = None
    if valid.get("debug_snapshots"):
        raw_debug = valid["debug_snapshots"]
        debug = DebugSnapshotsConfig(
            _resolve(base_dir, raw_debug["directory"]), raw_debug["max_files"]
        )
    if not cameras and http is None:
        raise ConfigError("nothing to do: configure 'cameras', or 'http' to serve /v1/classify")
    capture = None
    if valid.get("capture") is not None or any(camera.capture for camera in cameras):
        capture = CaptureConfig(
            directory=_resolve(base_dir, raw_capture["directory"]),
            **{k: v for k, v in raw_capture.items() if k != "directory"},
        )
    studio = _build_studio(valid.get("studio"), (cameras, models), capture, http, base_dir)
    secrets = _secrets(cameras, mqtt, http)
    return RunnerConfig(tuple(cameras), models, mqtt, http, debug, capture, studio, secrets)


#: the YAML keys of a camera that are `CameraOptions` fields (same names)
_OPTION_KEYS: Final = ("interval", "roi", "max_age", "confirm_frames", "labels", "model")


def _build_cameras(
    raws: list[dict[str, Any]],
    models: Mapping[str, ModelConfig],
    capture_default: bool,
    base_dir: Path,
) -> list[CameraConfig]:
    cameras: list[CameraConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        where = f"cameras[{index}]"
        if raw["id"] in seen:
            raise ConfigError(f"{where}.id: camera id {raw['id']!r} is used twice")
        seen.add(raw["id"])
        if raw["model"] not in models:
            raise ConfigError(
                f"{where}.model: unknown model {raw['model']!r}; define it under 'models' "
                f"(known: {', '.join(sorted(models))})"
            )
        try:
            options = CameraOptions.parse({k: raw[k] for k in _OPTION_KEYS if k in raw})
        except OptionsError as err:  # the rules between fields (each field passed the schema)
            raise ConfigError("; ".join(f"{where}.{problem}" for problem in err.problems)) from None
        cameras.append(
            CameraConfig(
                id=raw["id"],
                name=raw.get("name", raw["id"]),
                source=_build_source(raw, where, base_dir),
                model=options.model,
                interval=options.interval,
                roi=options.roi,
                confirm_frames=options.confirm_frames,
                max_age=options.max_age,
                max_backoff=raw["max_backoff"],
                labels=options.labels,
                capture=raw.get("capture", capture_default),
            )
        )
    return cameras


def _secrets(
    cameras: list[CameraConfig], mqtt: MqttConfig | None, http: HttpConfig | None
) -> frozenset[str]:
    """Every secret the config holds, for the caller to register with the log filter."""
    found: list[str | None] = [mqtt.password if mqtt else None, http.token if http else None]
    for camera in cameras:
        source = camera.source
        if isinstance(source, HttpSourceConfig):
            found += [source.password, *url_secrets(source.url)]
        elif isinstance(source, OnvifSourceConfig):
            found.append(source.password)
    return frozenset(secret for secret in found if secret)


def _build_studio(
    raw: dict[str, Any] | None,
    config: tuple[list[CameraConfig], Mapping[str, ModelConfig]],
    capture: CaptureConfig | None,
    http: HttpConfig | None,
    base_dir: Path,
) -> StudioConfig | None:
    """`studio.camera` (that camera's model and captures) or `studio.model` (a model by name,
    with `studio.dataset`: a runner with no camera of its own)."""
    if not raw or not raw["enabled"]:
        return None
    if http is None:
        raise ConfigError("studio: the studio pages are served by the HTTP API; enable 'http'")
    cameras, models = config
    if "model" in raw:
        return _studio_for_model(raw, models, base_dir)
    ids = [camera.id for camera in cameras]
    camera_id = raw.get("camera")
    if camera_id is None:
        if len(ids) != 1:
            raise ConfigError(
                "studio.camera: name the camera whose model the studio replaces, or "
                f"studio.model and studio.dataset (cameras: {', '.join(ids) or 'none'})"
            )
        camera_id = ids[0]
    elif camera_id not in ids:
        raise ConfigError(
            f"studio.camera: unknown camera {camera_id!r} (cameras: {', '.join(ids) or 'none'})"
        )
    camera = next(c for c in cameras if c.id == camera_id)
    if "dataset" in raw:
        dataset = _resolve(base_dir, raw["dataset"])
    elif capture is not None and camera.capture:
        dataset = capture.folder(camera_id)
    else:
        raise ConfigError(
            f"studio.dataset: camera {camera_id} does not capture frames; enable 'capture' "
            "or give the dataset folder to label"
        )
    return StudioConfig(camera.model, dataset, camera_id)


def _studio_for_model(
    raw: dict[str, Any], models: Mapping[str, ModelConfig], base_dir: Path
) -> StudioConfig:
    name = raw["model"]
    if name not in models:
        raise ConfigError(
            f"studio.model: unknown model {name!r}; define it under 'models' "
            f"(known: {', '.join(sorted(models))})"
        )
    if "dataset" not in raw:
        raise ConfigError(
            f"studio.dataset: required with studio.model: the folder of frames to label for "
            f"model {name}"
        )
    return StudioConfig(name, _resolve(base_dir, raw["dataset"]))


def _build_source(raw: dict[str, Any], where: str, base_dir: Path) -> SourceConfig:
    if "snapshot" in raw:
        return HttpSourceConfig(**raw["snapshot"])
    if "onvif" in raw:
        return OnvifSourceConfig(**raw["onvif"])
    if "file" in raw:
        return FileSourceConfig(_resolve(base_dir, raw["file"]))
    raise ConfigError(f"{where}: a camera needs a source: one of snapshot, onvif, file")


def _readable_file(path: Path, where: str) -> Path:
    """TLS files are read when the client starts: a missing one is a config error now."""
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"{where}: {path} {problem}")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise ConfigError(f"{where}: cannot read {path}: {err.strerror or err}") from None
    return path


def _build_mqtt(raw: dict[str, Any], base_dir: Path) -> MqttConfig:
    raw = dict(raw)
    tls = raw.pop("tls", None)
    tls_config = None
    if tls is True:
        tls_config = TlsConfig()
    elif isinstance(tls, dict):
        files = {
            key: _readable_file(_resolve(base_dir, tls[key]), f"mqtt.tls.{key}")
            for key in ("ca_certs", "certfile", "keyfile")
            if key in tls
        }
        tls_config = TlsConfig(**files, insecure=tls["insecure"])
    config = MqttConfig(tls=tls_config, **raw)
    problems = check_topics(config.discovery_prefix, config.base_topic)
    if problems:
        raise ConfigError("; ".join(f"mqtt.{problem}" for problem in problems))
    return config
