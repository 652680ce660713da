"""One camera's options, validated in one place for every front end.

The runner's YAML, the Home Assistant flows and the Scrypted settings page each translate
their own keys to `CameraOptions.parse` and show its errors in their own idiom. Every problem
is an `OptionError` naming the field (`interval`, `labels.door_open.on_threshold`,
`runner_url`...) with a stable `code` and a one-line `detail` that never repeats the value (a
password typed into the wrong field must not be echoed). Parsing returns values: secrets are
returned (`CameraOptions.secrets`), never registered anywhere.

Also here, because they are option fields: where a model reference points (`model_path`,
`find_models`) and what a runner URL must look like (`check_runner_url`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from . import demo_model_path
from .bundle import MODEL_SUFFIXES
from .debounce import DEFAULT_CONFIRM_FRAMES, LabelOverride, default_max_age
from .discovery import DEFAULT_BASE_TOPIC, DEFAULT_DISCOVERY_PREFIX
from .errors import ConfigError, ModelNotFoundError
from .redact import url_secrets
from .roi import Roi

DEMO_MODEL: Final = "demo"
DEFAULT_INTERVAL: Final = 10.0
#: longest poll interval (every front end): a camera checked less often than hourly tells
#: nothing current
MAX_INTERVAL: Final = 3600.0
#: longest max_age: a week-old state is no state
MAX_MAX_AGE: Final = 7 * 24 * 3600.0
MAX_CONFIRM_FRAMES: Final = 100

#: the option names `CameraOptions.parse` takes
FIELDS: Final = frozenset({
    "interval", "roi", "max_age", "confirm_frames", "labels", "model", "runner_url",
    "runner_token", "discovery_prefix", "base_topic",
})  # fmt: skip
LABEL_FIELDS: Final = frozenset({"on_threshold", "off_threshold", "confirm_frames"})


class OptionError(ConfigError):
    """One option is wrong: `field` names it, `code` is a stable key front ends translate,
    `detail` says what is expected, without the value; `about` what else it concerns, when
    that is not the value (the reserved topic a prefix runs into)."""

    def __init__(self, field: str, code: str, detail: str, about: str = "") -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.code = code
        self.detail = detail
        self.about = about


class OptionsError(ConfigError):
    """Every problem found in one set of options (at least one), one line."""

    def __init__(self, problems: Sequence[OptionError]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


# --- single values ------------------------------------------------------------------------


def _absent(value: Any) -> bool:
    """Not given: None or blank text (Scrypted stores cleared settings as empty strings)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _kind(value: Any) -> str:
    """What a wrong value is, never the value itself."""
    if isinstance(value, str):
        return "text"
    return "true/false" if isinstance(value, bool) else type(value).__name__


def parse_number(name: str, value: Any) -> float | None:
    """A finite number, or its text (`${NAME}` and Scrypted's storage give text); None when
    absent. A bool is not a number here, NaN and infinities are refused."""
    if _absent(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OptionError(name, "not_a_number", f"expected a number, got {_kind(value)}")
    try:
        number = float(value)
    except ValueError:
        raise OptionError(name, "not_a_number", f"expected a number, got {_kind(value)}") from None
    if not math.isfinite(number):
        raise OptionError(name, "not_a_number", "expected a finite number, got NaN or infinity")
    return number


def parse_whole(name: str, value: Any) -> int | None:
    """A whole number (`2`, `"2"` or `2.0`, as form widgets send it); None when absent."""
    if isinstance(value, bool) or not (_absent(value) or isinstance(value, int | float | str)):
        raise OptionError(name, "not_a_number", f"expected an integer, got {_kind(value)}")
    try:
        number = parse_number(name, value)
    except OptionError as err:
        raise OptionError(name, err.code, err.detail.replace("a number", "an integer")) from None
    if number is None:
        return None
    if not number.is_integer():
        raise OptionError(name, "not_whole", "expected an integer, got a fraction")
    return int(number)


def check_range(
    name: str, number: float, low: float, high: float, *, above_low: bool = False
) -> None:
    """`low <= number <= high` (or `low < number` with `above_low`), else an OptionError."""
    if above_low and number <= low:
        raise OptionError(name, "out_of_range", f"value must be higher than {low:g}")
    if number < low:
        raise OptionError(name, "out_of_range", f"value must be at least {low:g}")
    if number > high:
        raise OptionError(name, "out_of_range", f"value must be at most {high:g}")


def parse_interval(value: Any) -> float:
    """Seconds between two snapshots: more than 0, at most an hour (default 10)."""
    number = parse_number("interval", value)
    if number is None:
        return DEFAULT_INTERVAL
    check_range("interval", number, 0.0, MAX_INTERVAL, above_low=True)
    return number


def parse_max_age(value: Any) -> float | None:
    """Seconds without a good frame before the states go unavailable; None: the default
    rule (`default_max_age`). Checked against the interval by `CameraOptions.parse`."""
    number = parse_number("max_age", value)
    if number is not None:
        check_range("max_age", number, 0.0, MAX_MAX_AGE, above_low=True)
    return number


def parse_confirm_frames(value: Any, name: str = "confirm_frames") -> int | None:
    """Frames in a row that must agree before a state changes: 1 to 100; None when absent."""
    number = parse_whole(name, value)
    if number is not None:
        check_range(name, number, 1, MAX_CONFIRM_FRAMES)
    return number


def parse_threshold(name: str, value: Any) -> float | None:
    """A probability threshold from 0 to 1; None when absent (the model's own applies)."""
    number = parse_number(name, value)
    if number is not None:
        check_range(name, number, 0.0, 1.0)
    return number


_ROI_RULE: Final = "expected 'x,y,w,h' fractions from 0 to 1 with x+w and y+h at most 1"


def parse_roi(value: Any) -> Roi | None:
    """`x,y,w,h` text or a list of four fractions; None (the whole frame) when absent."""
    if _absent(value):
        return None
    if isinstance(value, str):
        parts: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise OptionError("roi", "invalid_roi", f"{_ROI_RULE}, got {_kind(value)}")
    numbers = []
    for part in parts:
        try:
            number = None if isinstance(part, bool) else parse_number("roi", part)
        except OptionError:
            number = None
        if number is None:
            raise OptionError("roi", "invalid_roi", f"{_ROI_RULE}: four numbers are needed")
        numbers.append(number)
    if len(numbers) != 4:
        raise OptionError("roi", "invalid_roi", f"{_ROI_RULE}: four numbers are needed")
    try:
        return Roi(*numbers)
    except ConfigError:
        raise OptionError("roi", "invalid_roi", _ROI_RULE) from None


def parse_labels(value: Any) -> dict[str, LabelOverride]:
    """Per-label overrides `{label: {on_threshold, off_threshold, confirm_frames}}`."""
    if _absent(value):
        return {}
    if not isinstance(value, Mapping):
        raise OptionError("labels", "invalid_labels", f"expected a mapping, got {_kind(value)}")
    problems: list[OptionError] = []
    labels: dict[str, LabelOverride] = {}
    for label, raw in value.items():
        try:
            labels[str(label)] = _label_override(str(label), raw)
        except OptionsError as err:
            problems += err.problems
    if problems:
        raise OptionsError(problems)
    return labels


def _label_override(label: str, raw: Any) -> LabelOverride:
    where = f"labels.{label}"
    if _absent(raw):
        return LabelOverride()
    if not isinstance(raw, Mapping):
        error = OptionError(where, "invalid_labels", f"expected a mapping, got {_kind(raw)}")
        raise OptionsError([error])
    problems = [
        OptionError(f"{where}.{key}", "unknown", "unknown option")
        for key in raw
        if key not in LABEL_FIELDS
    ]
    values: dict[str, Any] = {}
    for key, parse in (
        ("on_threshold", lambda v: parse_threshold(f"{where}.on_threshold", v)),
        ("off_threshold", lambda v: parse_threshold(f"{where}.off_threshold", v)),
        ("confirm_frames", lambda v: parse_confirm_frames(v, f"{where}.confirm_frames")),
    ):
        try:
            values[key] = parse(raw.get(key))
        except OptionError as err:
            problems.append(err)
    on, off = values.get("on_threshold"), values.get("off_threshold")
    if on is not None and off is not None and off > on:
        problems.append(
            OptionError(
                f"{where}.off_threshold",
                "threshold_order",
                "the OFF threshold must not be above the ON threshold",
            )
        )
    if problems:
        raise OptionsError(problems)
    return LabelOverride(**values)


def parse_model(value: Any) -> str:
    """A model reference (a name; what it points to is `model_path`'s business)."""
    if _absent(value):
        return DEMO_MODEL
    if not isinstance(value, str):
        raise OptionError("model", "invalid_model", f"expected a model name, got {_kind(value)}")
    return value.strip()


# --- the runner's address and token -------------------------------------------------------

_RUNNER_EXAMPLE: Final = "http://192.168.1.20:8080"


def check_runner_url(url: Any) -> str:
    """The runner's base URL, stripped of blanks and a trailing `/`: http(s) with a host, no
    credentials (the runner checks a token, which has its own field), no query or fragment
    (API paths are appended). Raises OptionError (`runner_url`) without echoing the URL."""
    if _absent(url):
        raise OptionError(
            "runner_url", "missing", f"give the GarageCam runner's address, e.g. {_RUNNER_EXAMPLE}"
        )
    if not isinstance(url, str):
        raise OptionError("runner_url", "invalid_url", f"expected a URL, got {_kind(url)}")
    text = url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise OptionError("runner_url", "invalid_url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(
            "runner_url", "invalid_url", f"expected an http:// or https:// URL: {_RUNNER_EXAMPLE}"
        )
    if parts.username is not None or parts.password is not None:
        raise OptionError(
            "runner_url",
            "url_credentials",
            "leave the user name and password out of the URL: give the runner's token instead",
        )
    if parts.query or parts.fragment:
        raise OptionError(
            "runner_url", "invalid_url", "expected the runner's address without '?' or '#' parts"
        )
    return text


def parse_token(value: Any) -> str | None:
    """The runner's API token, surrounding blanks removed (the runner refuses a token that has
    them, so they are a paste accident); None when absent."""
    if _absent(value):
        return None
    if not isinstance(value, str):
        raise OptionError("runner_token", "invalid_token", f"expected text, got {_kind(value)}")
    token = value.strip()
    if not all(" " <= char <= "~" for char in token):  # it travels in an HTTP header
        raise OptionError(
            "runner_token", "invalid_token", "use only printable ASCII characters (no line breaks)"
        )
    return token


# --- MQTT topics --------------------------------------------------------------------------

_LEVEL: Final = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_topic(name: str, value: Any, default: str) -> str:
    """An MQTT topic to publish under (blanks and surrounding `/` removed): levels of ASCII
    letters, digits, `_`, `-` or `.`; never a wildcard, a space or an empty level."""
    if _absent(value):
        return default
    if not isinstance(value, str):
        raise OptionError(name, "invalid_topic", f"expected a topic, got {_kind(value)}")
    topic = value.strip().strip("/")
    if not topic or not all(_LEVEL.match(level) for level in topic.split("/")):
        raise OptionError(
            name,
            "invalid_topic",
            "expected a topic: levels of letters, digits, '_', '-' or '.' separated by '/' "
            "(no spaces, '#' or '+')",
        )
    return topic


def topics_overlap(first: str, second: str) -> bool:
    """Whether one topic tree holds the other (or they are the same)."""
    return first == second or first.startswith(f"{second}/") or second.startswith(f"{first}/")


def check_topics(
    discovery_prefix: str, base_topic: str, reserved: Iterable[str] = ()
) -> list[OptionError]:
    """Discovery configs and states must not land in each other's tree, nor in a tree another
    publisher owns (`reserved`, e.g. Home Assistant's own `homeassistant` for its bridge)."""
    problems = []
    if topics_overlap(discovery_prefix, base_topic):
        problems.append(
            OptionError(
                "discovery_prefix",
                "topic_overlap",
                "must not be the base topic, lie inside it or contain it",
            )
        )
    for topic in reserved:
        if topics_overlap(discovery_prefix, topic):
            problems.append(
                OptionError(
                    "discovery_prefix",
                    "reserved_topic",
                    f"{topic!r} belongs to another publisher",
                    about=topic,
                )
            )
    return problems


# --- the options --------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraOptions:
    """Everything a front end lets a user set for one camera, validated."""

    interval: float = DEFAULT_INTERVAL
    roi: Roi | None = None
    max_age: float | None = None  # None: `effective_max_age` follows the interval
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES
    labels: Mapping[str, LabelOverride] = field(default_factory=dict)
    model: str = DEMO_MODEL
    runner_url: str | None = None
    runner_token: str | None = field(default=None, repr=False)
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    base_topic: str = DEFAULT_BASE_TOPIC

    @property
    def effective_max_age(self) -> float:
        """Seconds without a good frame before the states become unavailable: the one
        default rule (three missed polls, at least a minute) unless set."""
        return self.max_age if self.max_age is not None else default_max_age(self.interval)

    @property
    def secrets(self) -> frozenset[str]:
        """What a log line must never show: the token and the URL's secret parts. The caller
        registers them (e.g. with `redact.SECRETS`); parsing never does."""
        found = set(url_secrets(self.runner_url)) if self.runner_url else set()
        if self.runner_token:
            found.add(self.runner_token)
        return frozenset(found)

    @classmethod
    def parse(
        cls,
        values: Mapping[str, Any],
        *,
        runner_required: bool = False,
        reserved_topics: Iterable[str] = (),
    ) -> CameraOptions:
        """Validate `values` (keys from `FIELDS`; absent, None or blank: the default).
        Raises OptionsError listing every problem, each naming its field."""
        unknown = [str(key) for key in values if key not in FIELDS]
        problems = [OptionError(key, "unknown", "unknown option") for key in unknown]
        parsed: dict[str, Any] = {}
        for name, parse in _PARSERS.items():
            try:
                parsed[name] = parse(values.get(name))
            except OptionError as err:
                problems.append(err)
            except OptionsError as err:
                problems += err.problems
        if runner_required or not _absent(values.get("runner_url")):
            try:
                parsed["runner_url"] = check_runner_url(values.get("runner_url"))
            except OptionError as err:
                problems.append(err)
        # the topics are checked when given: a front end without MQTT keeps the defaults
        topics = any(not _absent(values.get(k)) for k in ("discovery_prefix", "base_topic"))
        problems += _cross_checks(parsed, list(reserved_topics) if topics else None)
        if problems:
            raise OptionsError(problems)
        return cls(**parsed)


_PARSERS: Final[dict[str, Callable[[Any], Any]]] = {
    "interval": parse_interval,
    "roi": parse_roi,
    "max_age": parse_max_age,
    "confirm_frames": lambda v: _default(parse_confirm_frames(v), DEFAULT_CONFIRM_FRAMES),
    "labels": parse_labels,
    "model": parse_model,
    "runner_token": parse_token,
    "discovery_prefix": lambda v: parse_topic("discovery_prefix", v, DEFAULT_DISCOVERY_PREFIX),
    "base_topic": lambda v: parse_topic("base_topic", v, DEFAULT_BASE_TOPIC),
}


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _cross_checks(parsed: Mapping[str, Any], reserved: list[str] | None) -> list[OptionError]:
    """Rules between fields, on the fields that parsed (topics: unless `reserved` is None)."""
    problems = []
    interval, max_age = parsed.get("interval"), parsed.get("max_age")
    if interval is not None and max_age is not None and max_age < interval:
        problems.append(
            OptionError(
                "max_age",
                "below_interval",
                f"value must be at least the interval ({interval:g} s), or the states go "
                "unavailable between two polls",
            )
        )
    if reserved is not None and "discovery_prefix" in parsed and "base_topic" in parsed:
        problems += check_topics(parsed["discovery_prefix"], parsed["base_topic"], reserved)
    return problems


# --- model lookup -------------------------------------------------------------------------


def find_models(directories: Sequence[Path]) -> list[str]:
    """`demo` and the model files (`.pte` bundles, `.gcam` heads) directly in the folders,
    by name, the first folder winning (blocking: call it from an executor in async code)."""
    names = [DEMO_MODEL]
    for directory in directories:
        try:
            found = sorted(
                p.name for p in directory.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file()
            )
        except OSError:
            continue
        names += [name for name in found if name not in names]
    return names


def model_path(model: str, directories: Sequence[Path]) -> Path:
    """Where a model reference points: `demo` (shipped), an absolute path, or a file name in
    the first of the folders that holds it; always a `.pte` or `.gcam` file. Raises
    ModelNotFoundError (blocking: looks at the disk)."""
    if model == DEMO_MODEL:
        return demo_model_path()
    candidate = Path(model).expanduser()
    if not candidate.is_absolute() and candidate.name != model:
        raise ModelNotFoundError(f"model {model!r} must be a file name or an absolute path")
    if candidate.suffix not in MODEL_SUFFIXES:
        kinds = " or ".join(MODEL_SUFFIXES)
        raise ModelNotFoundError(f"model {model!r} is not a {kinds} file")
    if candidate.is_absolute():
        if not candidate.is_file():
            raise ModelNotFoundError(f"model file {candidate} does not exist")
        return candidate
    for directory in directories:
        if (directory / model).is_file():
            return directory / model
    where = ", ".join(str(d) for d in directories) or "no folder"
    raise ModelNotFoundError(f"no file {model!r} in {where}")
