"""`garagecam run --check` finds what would fail at start-up, without any network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from garagecam_core.runner.check import check_config
from garagecam_core.runner.config import parse_config
from tests.core.runner.support import free_port

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def test_every_local_problem_is_reported_at_once(tiny_model_path: Path, tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy_port = blocker.getsockname()[1]
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        config = parse_config(
            {
                "models": {
                    "tiny": {"path": str(tiny_model_path)},
                    "gone": {"path": str(tmp_path / "missing.pte")},
                },
                "http": {"host": "127.0.0.1", "port": busy_port},
                "debug_snapshots": {"directory": str(read_only / "debug")},
                "cameras": [
                    {"id": "a", "model": "tiny", "file": str(tmp_path / "nope.jpg")},
                    {"id": "b", "model": "tiny", "file": str(tmp_path), "labels": {"dog": {}}},
                ],
            }
        )
        report = check_config(config)
    finally:
        blocker.close()
        read_only.chmod(0o700)
    problems = "\n".join(report.problems)
    assert "models.gone: " in problems and "missing.pte" in problems
    assert f"http.port: 127.0.0.1:{busy_port} is already in use" in problems
    assert "cameras[1].labels: the model 'tiny' has no label 'dog'" in problems
    assert "cameras[0].file: " in problems and "nope.jpg does not exist" in problems
    if os.geteuid() != 0:  # root writes anywhere
        assert "debug_snapshots.directory: cannot write in" in problems
    assert any(line.startswith("model tiny: ") for line in report.passed)


def test_a_good_config_passes(tiny_model_path: Path, tmp_path: Path) -> None:
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(b"\xff\xd8\xff")
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "http": {"host": "127.0.0.1", "port": free_port()},
            "debug_snapshots": {"directory": str(tmp_path / "debug")},
            "cameras": [{"id": "a", "model": "tiny", "file": str(frame)}],
        }
    )
    report = check_config(config)
    assert report.problems == []
    assert len(report.passed) == 5


@pytest.mark.timeout(120)
def test_cli_check_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        f"models:\n  m:\n    path: {tmp_path / 'missing.pte'}\n"
        f"http:\n  port: {free_port()}\ncameras:\n  - id: a\n    model: m\n    file: x.jpg\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "garagecam_core", "run", "--config", str(config), "--check"],
        capture_output=True, text=True, timeout=120, env=ENV, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, result.stderr  # the model file, the camera's file
    assert "2 problem(s)" in result.stderr
