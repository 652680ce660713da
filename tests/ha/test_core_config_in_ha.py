"""The core's runner config schema inside Home Assistant, where `import voluptuous` may be
Probatio (Home Assistant 2026.9+ aliases it process-wide): same configs accepted, same ones
refused with the same messages as in the core's own suite (tests/core/runner/
test_runner_config.py, whose cases are run here as they are)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as HA_VERSION

from garagecam_core.runner import config
from tests.core.runner import test_runner_config as core_cases

_PARAMETRIZE = next(
    mark
    for mark in core_cases.test_errors_name_the_key_path.pytestmark
    if mark.name == "parametrize"
)
ERROR_CASES = list(_PARAMETRIZE.args[1])


def test_the_schema_runs_on_home_assistants_validation_engine() -> None:
    assert config.vol is sys.modules["voluptuous"]
    engine = Path(config.vol.__file__ or "").parts
    if AwesomeVersion(HA_VERSION) >= AwesomeVersion("2026.9.0"):
        assert "probatio" in engine, engine  # what this file is here to exercise
    assert len(ERROR_CASES) >= 10


@pytest.mark.parametrize(("data", "message"), ERROR_CASES)
def test_refused_like_in_the_core(data: object, message: str) -> None:
    core_cases.test_errors_name_the_key_path(data, message)


def test_issue_example_accepted_like_in_the_core(tmp_path: Path) -> None:
    core_cases.test_issue_example_works_as_written(tmp_path)


def test_full_config_accepted_like_in_the_core(tmp_path: Path) -> None:
    core_cases.test_full_config_with_several_cameras_and_models(tmp_path)


def test_missing_environment_variable_like_in_the_core() -> None:
    core_cases.test_missing_environment_variable_is_named()


def test_bad_yaml_like_in_the_core(tmp_path: Path) -> None:
    core_cases.test_unreadable_and_invalid_yaml(tmp_path)
