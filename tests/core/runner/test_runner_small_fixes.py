"""Small defects of issue 21 (item 9): capture warnings that flapped while the disk stayed
full, and MQTT reconnects to a broker that accepts then drops."""

from __future__ import annotations

import errno
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from garagecam_core.capture import CaptureRules
from garagecam_core.metadata import LabelSpec
from garagecam_core.runner import capture as runner_capture
from garagecam_core.runner.capture import CaptureSink
from garagecam_core.runner.metrics import RunnerMetrics


async def _offer_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: Iterator[str], count: int
) -> Any:
    """Offer `count` frames to a capture sink whose writes answer `answers` in turn: "full"
    (the disk is full), "kept" (a frame written) or "nothing" (not worth keeping)."""

    def offer(*_args: Any) -> dict[str, int]:
        answer = next(answers)
        if answer == "full":
            raise OSError(errno.ENOSPC, "No space left on device")
        return {"background": 1} if answer == "kept" else {}

    sink = CaptureSink(RunnerMetrics(), CaptureRules())
    sink.add_camera("garage", tmp_path, [LabelSpec("door_open")])
    monkeypatch.setattr(sink, "_offer_blocking", offer)
    folder = sink._folders["garage"]
    frame: Any = SimpleNamespace(image=b"", classification=SimpleNamespace(probabilities={}))
    for _ in range(count):
        await sink._offer("garage", folder, frame, {})
    return folder


async def test_capture_warning_does_not_flap_while_the_disk_stays_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The disk stays full: every write fails, and frames not worth keeping (nothing written,
    # no error) come in between.
    caplog.set_level(logging.INFO, logger="garagecam.runner.capture")
    answers = itertools.cycle(["full", "nothing", "nothing", "full", "nothing"])
    await _offer_frames(tmp_path, monkeypatch, answers, 30)
    messages = [r.getMessage() for r in caplog.records if r.name == runner_capture._LOGGER.name]
    assert len([m for m in messages if "cannot keep frames" in m]) == 1, messages
    assert not [m for m in messages if "kept again" in m], messages


async def test_capture_recovery_is_logged_once_frames_are_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="garagecam.runner.capture")
    answers = iter(["full", "nothing", "nothing", "kept", "nothing", "kept"])
    folder = await _offer_frames(tmp_path, monkeypatch, answers, 6)
    assert caplog.text.count("kept again") == 1
    assert not folder.failing


def test_a_broker_that_accepts_then_drops_gets_backoff_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from garagecam_core.discovery import Topics
    from garagecam_core.runner import mqtt
    from garagecam_core.runner.config import MqttConfig

    caplog.set_level(logging.DEBUG, logger="garagecam.runner.mqtt")
    clock = [1000.0]
    monkeypatch.setattr(mqtt, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    publisher = mqtt.MqttPublisher(MqttConfig(host="127.0.0.1", port=1), Topics())
    delays: list[float] = []
    monkeypatch.setattr(
        publisher._client,
        "reconnect_delay_set",
        lambda min_delay, max_delay: delays.append(min_delay),
    )
    monkeypatch.setattr(publisher._client, "publish", lambda *a, **k: None)
    accepted = SimpleNamespace(is_failure=False)
    for _ in range(10):  # accepted, dropped half a second later, ten times
        publisher._handle_connect(publisher._client, None, None, accepted, None)
        clock[0] += 0.5
        publisher._handle_disconnect(publisher._client, None, None, "keepalive timeout", None)
        clock[0] += 1.0
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) <= 3, loud  # connected, lost, "drops soon after accepting": once each
    assert len(delays) == 10
    assert delays[-1] > 8 * delays[0]  # backing off, not every second
    assert len(set(delays)) > 5  # with jitter


def test_check_refuses_a_non_pem_ca_and_a_device_as_frame_file(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    from garagecam_core.runner.check import check_config
    from garagecam_core.runner.config import parse_config

    not_pem = tmp_path / "ca.crt"
    not_pem.write_bytes(b"\x30\x82\x01\x0a this is DER-ish junk, not a PEM certificate")
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "mqtt": {"host": "broker", "tls": {"ca_certs": str(not_pem)}},
            "cameras": [{"id": "a", "model": "tiny", "file": "/dev/zero"}],
        }
    )
    report = check_config(config)
    problems = "\n".join(report.problems)
    assert "mqtt.tls: the certificate files cannot be loaded" in problems
    assert "cameras[0].file: /dev/zero is neither an image file nor a folder" in problems


async def test_file_source_and_infer_refuse_dev_zero_in_one_line(
    tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from garagecam_core.cli import main
    from garagecam_core.errors import SourceError
    from garagecam_core.sources import FileSource

    with pytest.raises(SourceError, match="not a regular file"):
        await FileSource(Path("/dev/zero")).fetch()
    code = main(["infer", "--model", str(tiny_model_path), "/dev/zero"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1
    assert line["error"] == "InvalidImageError"
