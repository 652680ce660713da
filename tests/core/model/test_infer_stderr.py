"""`garagecam infer` keeps the ExecuTorch runtime's own messages off stderr unless -v."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from garagecam_core import pte_runtimes
from garagecam_core.scenes import generate_scene

ROOT = Path(__file__).resolve().parents[3]


def _infer(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    image = tmp_path / "frame.jpg"
    image.write_bytes(generate_scene(7, 0, sizes=((640, 360),)).jpeg)
    return subprocess.run(
        [sys.executable, "-m", "garagecam_core", *flags, "infer", str(image)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_infer_prints_nothing_on_stderr(tmp_path: Path) -> None:
    done = _infer(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    line = json.loads(done.stdout)
    assert set(line["probabilities"]) == {"door_open", "car_present"}


def test_infer_verbose_still_classifies(tmp_path: Path) -> None:
    done = _infer(tmp_path, "-v")
    assert done.returncode == 0, done.stderr
    assert "probabilities" in json.loads(done.stdout)


def test_native_writes_go_to_the_debug_log(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="garagecam_core.pte_runtimes")
    with pte_runtimes.native_stderr_to_log():
        os.write(2, b"[cpuinfo_utils.cpp:87] Failed to open midr file\n")
    assert capfd.readouterr().err == ""
    assert (
        logging.DEBUG,
        "ExecuTorch runtime: [cpuinfo_utils.cpp:87] Failed to open midr file",
    ) in [(r.levelno, r.getMessage()) for r in caplog.records]


def test_native_writes_become_warnings_when_the_load_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="garagecam_core.pte_runtimes")
    with pytest.raises(RuntimeError), pte_runtimes.native_stderr_to_log():
        os.write(2, b"Failed to load method forward\n")
        raise RuntimeError("load failed")
    assert (logging.WARNING, "ExecuTorch runtime: Failed to load method forward") in [
        (r.levelno, r.getMessage()) for r in caplog.records
    ]


def test_stderr_is_restored_after_the_block(capfd: pytest.CaptureFixture[str]) -> None:
    with pte_runtimes.native_stderr_to_log():
        pass
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
