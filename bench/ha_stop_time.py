"""How long a real Home Assistant takes to stop (SIGTERM to exit), with and without GarageCam.

Starts `python -m homeassistant` on a fresh configuration directory whose `.storage` is
pre-seeded with a `local_file` camera (a JPEG written here) and, in the "with" runs, a
local-mode GarageCam entry on that camera (demo model, 2 s scan interval, so the engine's
threads and the worker process are in use). `--settle` seconds after start-up, and once
GarageCam has classified `--frames` frames in the "with" runs, it sends SIGTERM and times the
exit (an exit code other than 0 is printed: that was not a clean stop). Runs alternate
without/with, `--runs` times each, one process at a time.

    python bench/ha_stop_time.py [--runs 3] [--frames 3] [--settle 8] [--python PYTHON]
        [--skip-pip]

Run it with the Python of a Home Assistant install (its own venv: Home Assistant pip-installs
the requirements of the core integrations it loads into it on the first start) that can run
local mode (an ExecuTorch runtime), from the repository root. The checkout's `garagecam_core`
is put on PYTHONPATH (`--skip-pip-packages garagecam-core`) and `custom_components/garagecam`
is linked into the configuration directory.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CAMERA_ENTRY = "01JSTOPTEST0CAMERA00000000"
GARAGECAM_ENTRY = "01JSTOPTEST0GARAGECAM00000"
FETCHED = "Finished fetching GarageCam"


def _entry(entry_id: str, domain: str, title: str, **fields: Any) -> dict[str, Any]:
    return {"entry_id": entry_id, "domain": domain, "title": title, "source": "user",
            "version": 1, "pref_disable_new_entities": False,
            "pref_disable_polling": False, **fields}  # fmt: skip


def make_config(directory: Path, with_garagecam: bool) -> None:
    frame = io.BytesIO()
    Image.new("RGB", (640, 360), (120, 110, 100)).save(frame, "JPEG")
    (directory / "garage.jpg").write_bytes(frame.getvalue())
    (directory / "configuration.yaml").write_text(
        "logger:\n  default: info\n  logs:\n    custom_components.garagecam: debug\n",
        encoding="utf-8",
    )
    entries = [
        _entry(CAMERA_ENTRY, "local_file", "Garage", data={},
               options={"name": "Garage", "file_path": str(directory / "garage.jpg")})
    ]  # fmt: skip
    if with_garagecam:
        entries.append(
            _entry(GARAGECAM_ENTRY, "garagecam", "Garage (demo)", minor_version=2,
                   unique_id="camera.garage_demo",
                   data={"camera": "camera.garage", "mode": "local", "model": "demo"},
                   options={"scan_interval": 2, "roi": ""})
        )  # fmt: skip
        (directory / "custom_components").mkdir()
        (directory / "custom_components" / "garagecam").symlink_to(
            ROOT / "custom_components" / "garagecam"
        )
    storage = directory / ".storage"
    storage.mkdir()
    (storage / "core.config_entries").write_text(
        json.dumps({"version": 1, "minor_version": 1, "key": "core.config_entries",
                    "data": {"entries": entries}}),
        encoding="utf-8",
    )  # fmt: skip


def _wait_for(
    log: Path, proc: subprocess.Popen[bytes], text: str, count: int, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Home Assistant exited early:\n{log.read_text()[-3000:]}")
        if log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no {count}x {text!r} within {timeout:g} s:\n{log.read_text()[-3000:]}")


def one_run(
    python: str, with_garagecam: bool, frames: int, pip: bool = True, settle: float = 8.0
) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="ha-stop-") as tmp:
        directory = Path(tmp)
        make_config(directory, with_garagecam)
        log = directory / "run.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [python, "-m", "homeassistant", "-c", str(directory),
                 *(["--skip-pip-packages", "garagecam-core"] if pip else ["--skip-pip"])],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            try:
                _wait_for(log, proc, "Home Assistant initialized", 1, 300)
                # Both variants run at least `settle` s after start-up (stop handlers in place,
                # start-up tasks done); the GarageCam one also until it classified `frames`.
                time.sleep(settle)
                if with_garagecam:
                    _wait_for(log, proc, FETCHED, frames, 120)
                started = time.perf_counter()
                proc.send_signal(signal.SIGTERM)
                proc.wait(120)
                seconds = time.perf_counter() - started
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        text = log.read_text(errors="replace")
        notes = [line.strip() for line in text.splitlines() if "non-daemonic" in line]
        if proc.returncode != 0:  # killed by the signal: it was not a clean stop
            notes.append(f"exit code {proc.returncode}")
        if with_garagecam and "Setting up garagecam" not in text:
            raise RuntimeError(f"GarageCam was not set up:\n{text[-3000:]}")
        return seconds, "; ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument(
        "--skip-pip",
        action="store_true",
        help="never let Home Assistant pip-install (shared venvs)",
    )
    args = parser.parse_args()
    results: dict[bool, list[float]] = {False: [], True: []}
    for index in range(args.runs):
        for with_garagecam in (False, True):
            seconds, notes = one_run(
                args.python, with_garagecam, args.frames, not args.skip_pip, args.settle
            )
            results[with_garagecam].append(seconds)
            label = "with GarageCam   " if with_garagecam else "without GarageCam"
            print(f"run {index + 1} {label}: stop took {seconds:5.2f} s {notes}", flush=True)
    for with_garagecam, times in results.items():
        label = "with GarageCam   " if with_garagecam else "without GarageCam"
        print(f"{label}: " + " / ".join(f"{t:.1f}" for t in times)
              + f" s (median {statistics.median(times):.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
