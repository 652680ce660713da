"""Bounded soak: cameras keep their pace while the HTTP API is flooded; memory stays bounded.

Starts `garagecam run` as a subprocess (worker engine, default demo model unless --model)
with N cameras served by local fake camera servers (loopback only), then:

1. quiet:  D seconds of camera polling alone (the reference pace);
2. flood:  D seconds more while K clients POST heavy images to /v1/classify back to back;
3. burst:  48 concurrent maximum-size (19 MB) POSTs.

Reports frames kept per camera against the configured pace (D / interval) in each phase,
p50/p99 latency of the API requests, 503 `busy` answers, and the runner process's RSS
(idle, peak during the flood, peak during the burst). Everything is bounded: phases last
D seconds, the burst is 48 requests; the whole run takes about 2 x D + 30 s.

    .venv/bin/python bench/soak.py [--cameras 3] [--interval 1] [--duration 20]
        [--clients 8] [--json out.json] [--markdown out.md]

`--code DIR` runs the runner subprocess from another checkout (a baseline); `--in-process`
only runs the runner and the flood in this process, from the checkout on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "soak-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_SIZE = 19_000_000
BURST = 48


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jpeg(size: tuple[int, int], seed: int) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((seed * 50 % 255, 90, 160), (0, 0, size[0] // 3, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def heavy_png() -> bytes:
    """A large RGBA PNG: small on the wire, slow to decode (no DCT scaling for PNG)."""
    image = Image.radial_gradient("L").resize((3000, 2000)).convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


async def camera_servers(count: int) -> tuple[list[web.AppRunner], list[str]]:
    runners, urls = [], []
    for index in range(count):
        frame = jpeg((1920, 1080), index)

        async def image(_request: web.Request, frame: bytes = frame) -> web.Response:
            return web.Response(body=frame, content_type="image/jpeg")

        app = web.Application()
        app.router.add_get("/image.jpg", image)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}/image.jpg")
    return runners, urls


def frames_total(metrics: str) -> dict[str, float]:
    pattern = re.compile(r'^garagecam_frames_total\{camera="([^"]+)"\} (\S+)$', re.MULTILINE)
    return {camera: float(value) for camera, value in pattern.findall(metrics)}


@dataclass
class Phase:
    seconds: float
    frames: dict[str, float]
    expected_per_camera: float
    pace_percent: dict[str, float] = field(default_factory=dict)
    api_ok: int = 0
    api_busy: int = 0
    api_other: int = 0
    api_p50_ms: float | None = None
    api_p99_ms: float | None = None
    rss_peak_mb: float | None = None


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def rss(self) -> float:
        assert self.proc is not None
        return float(psutil.Process(self.proc.pid).memory_info().rss) / 1e6

    async def metrics(self, session: aiohttp.ClientSession) -> dict[str, float]:
        async with session.get(f"{self.url}/metrics", headers=AUTH) as response:
            return frames_total(await response.text())

    def start(self, urls: list[str], workdir: Path) -> None:
        cameras = [
            {
                "id": f"cam{i}",
                "snapshot": {"url": url, "timeout": 10},
                "interval": self.args.interval,
            }
            for i, url in enumerate(urls)
        ]
        config: dict[str, Any] = {
            "http": {"port": self.port, "token": TOKEN},
            "cameras": cameras,
        }
        if self.args.model:
            config["models"] = {"soak": {"path": str(self.args.model)}}
            for camera in cameras:
                camera["model"] = "soak"
        path = workdir / "garagecam.yaml"
        path.write_text(json.dumps(config))
        self.log = (workdir / "runner.log").open("wb")
        env = {**os.environ, "PYTHONPATH": str(self.args.code), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "garagecam_core", "run", "--config", str(path)],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )

    async def wait_ready(self, session: aiohttp.ClientSession, cameras: int) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                frames = await self.metrics(session)
                if len(frames) == cameras and all(v >= 2 for v in frames.values()):
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError("the runner did not start; see runner.log")

    async def phase(
        self, session: aiohttp.ClientSession, flood: bytes | None, clients: int
    ) -> Phase:
        seconds = self.args.duration
        latencies: list[float] = []
        counts = {"ok": 0, "busy": 0, "other": 0}
        peak = self.rss()
        stop = asyncio.Event()

        async def client() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with session.post(
                    f"{self.url}/v1/classify", data=flood, headers=AUTH
                ) as response:
                    await response.read()
                    status = response.status
                if status == 200:
                    counts["ok"] += 1
                    latencies.append((time.perf_counter() - started) * 1000.0)
                elif status == 503:
                    counts["busy"] += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                else:
                    counts["other"] += 1

        before = await self.metrics(session)
        tasks = [asyncio.create_task(client()) for _ in range(clients if flood else 0)]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak = max(peak, self.rss())
            await asyncio.sleep(0.05)
        after = await self.metrics(session)
        stop.set()
        await asyncio.gather(*tasks)
        expected = seconds / self.args.interval
        frames = {camera: after[camera] - before.get(camera, 0.0) for camera in after}
        result = Phase(seconds, frames, expected, rss_peak_mb=round(peak, 1))
        result.pace_percent = {c: round(100.0 * n / expected, 1) for c, n in frames.items()}
        result.api_ok, result.api_busy, result.api_other = (
            counts["ok"],
            counts["busy"],
            counts["other"],
        )
        if latencies:
            ordered = sorted(latencies)
            result.api_p50_ms = round(statistics.median(ordered), 1)
            result.api_p99_ms = round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)
        return result

    async def burst(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        frame = jpeg((640, 360), 7)
        body = frame + os.urandom(MAX_SIZE - len(frame))
        peak = self.rss()
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, self.rss())
                await asyncio.sleep(0.01)

        async def post() -> int:
            async with session.post(f"{self.url}/v1/classify", data=body, headers=AUTH) as r:
                await r.read()
                return r.status

        sampler = asyncio.create_task(sample())
        statuses = await asyncio.gather(*(post() for _ in range(BURST)))
        done.set()
        await sampler
        counts: dict[str, int] = {}
        for status in statuses:
            counts[str(status)] = counts.get(str(status), 0) + 1
        return {
            "requests": BURST,
            "body_bytes": MAX_SIZE,
            "answers": counts,
            "rss_peak_mb": round(peak, 1),
        }


async def engine_comparison(model: Path | None, clients: int, frames: int) -> dict[str, Any]:
    """The same flood straight at one worker engine, first first-come-first-served (what the
    runner did before the gate), then through the runner's priority gate: how long a camera
    frame waits while `clients` heavy requests keep the engine busy."""
    sys.path.insert(0, str(ROOT))
    from garagecam_core import demo_model_path
    from garagecam_core.engine.base import ExecutorEngine
    from garagecam_core.engine.worker import WorkerEngine
    from garagecam_core.runner.priority import Priority, PriorityGate

    png, frame = heavy_png(), jpeg((1920, 1080), 3)
    engine = ExecutorEngine(WorkerEngine(model or demo_model_path()))
    gate = PriorityGate(engine)
    results: dict[str, Any] = {}
    try:
        await engine.classify(frame)
        modes = {
            "fifo": (engine, engine),
            "gate": (gate.view(Priority.CAMERA), gate.view(Priority.API)),
        }
        for mode, (camera, api) in modes.items():
            stop = asyncio.Event()

            async def flood(api: Any = api, stop: asyncio.Event = stop) -> None:
                while not stop.is_set():
                    await api.classify(png)

            tasks = [asyncio.create_task(flood()) for _ in range(clients)]
            await asyncio.sleep(1.0)
            waits = []
            for _ in range(frames):
                started = time.perf_counter()
                await camera.classify(frame)
                waits.append((time.perf_counter() - started) * 1000.0)
            stop.set()
            await asyncio.gather(*tasks)
            results[mode] = {
                "camera_frame_ms_p50": round(statistics.median(waits), 1),
                "camera_frame_ms_max": round(max(waits), 1),
            }
    finally:
        await engine.close()
    return results


async def in_process(args: argparse.Namespace) -> dict[str, Any]:
    """The runner and the flood in one process and one event loop (whichever
    `garagecam_core` PYTHONPATH selects, so a baseline checkout can be measured alike):
    camera frames during D seconds of `--clients` back-to-back PNG requests."""
    from garagecam_core.runner.app import Runner
    from garagecam_core.runner.config import parse_config

    servers, urls = await camera_servers(args.cameras)
    port = free_port()
    cameras = [
        {"id": f"cam{i}", "snapshot": {"url": url}, "interval": args.interval}
        for i, url in enumerate(urls)
    ]
    runner = Runner(parse_config({"http": {"port": port}, "cameras": cameras}))
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    png = heavy_png()
    try:
        await asyncio.sleep(3.0)
        before = {c: runner.metrics.frames.value(c) for c in runner.cameras}
        started = time.monotonic()
        deadline = started + args.duration
        ok = 0

        async def client(session: aiohttp.ClientSession) -> None:
            nonlocal ok
            while time.monotonic() < deadline:
                url = f"http://127.0.0.1:{port}/v1/classify"
                async with session.post(url, data=png) as response:
                    await response.read()
                    ok += response.status == 200

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(client(session) for _ in range(args.clients)))
        frames = {c: runner.metrics.frames.value(c) - before[c] for c in runner.cameras}
        seconds = time.monotonic() - started  # until the last API answer, past the deadline
    finally:
        stop.set()
        await task
        await runner.stop()
        for server in servers:
            await server.cleanup()
    expected = seconds / args.interval
    import garagecam_core

    return {
        "code": str(Path(garagecam_core.__file__).parents[1]),
        "seconds": round(seconds, 1),
        "api_clients": args.clients,
        "api_ok": ok,
        "frames": frames,
        "pace_percent": {c: round(100.0 * n / expected, 1) for c, n in frames.items()},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    servers, urls = await camera_servers(args.cameras)
    soak = Soak(args)
    flood_image = heavy_png()
    try:
        with tempfile.TemporaryDirectory(prefix="garagecam-soak-") as tmp:
            soak.start(urls, Path(tmp))
            timeout = aiohttp.ClientTimeout(total=120)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                await soak.wait_ready(session, args.cameras)
                for _ in range(3):  # the API path warmed up too
                    async with session.post(
                        f"{soak.url}/v1/classify", data=jpeg((640, 360), 1), headers=AUTH
                    ) as response:
                        await response.read()
                await asyncio.sleep(1.0)
                idle = round(soak.rss(), 1)
                quiet = await soak.phase(session, None, 0)
                flood = await soak.phase(session, flood_image, args.clients)
                burst = None if args.no_burst else await soak.burst(session)
    finally:
        if soak.proc is not None:
            soak.proc.terminate()
            soak.proc.wait(timeout=60)
        for server in servers:
            await server.cleanup()
    comparison = await engine_comparison(args.model, args.clients, frames=5)
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "engine_fifo_vs_gate": comparison,
        "cameras": args.cameras,
        "interval_s": args.interval,
        "phase_s": args.duration,
        "api_clients": args.clients,
        "flood_image": f"PNG RGBA 3000x2000, {len(flood_image)} bytes",
        "rss_idle_mb": idle,
        "quiet": asdict(quiet),
        "flood": asdict(flood),
        "code": str(args.code),
        "burst": burst,
        "burst_rss_ratio": round(burst["rss_peak_mb"] / idle, 2) if burst else None,
        "flood_min_pace_percent": min(flood.pace_percent.values()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def markdown(result: dict[str, Any]) -> str:
    quiet, flood, burst = result["quiet"], result["flood"], result["burst"]
    lines = [
        f"Soak: {result['cameras']} cameras every {result['interval_s']} s, "
        f"{result['phase_s']} s per phase, {result['api_clients']} API clients posting "
        f"{result['flood_image']}.",
        "",
        "| phase | frames per camera (pace %) | API ok / busy / other | API p50 / p99 ms "
        "| runner RSS peak MB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, phase in (("quiet", quiet), ("flood", flood)):
        frames = ", ".join(
            f"{c}: {n:.0f} ({phase['pace_percent'][c]} %)"
            for c, n in sorted(phase["frames"].items())
        )
        lines.append(
            f"| {name} | {frames} | {phase['api_ok']} / {phase['api_busy']} / "
            f"{phase['api_other']} | {phase['api_p50_ms']} / {phase['api_p99_ms']} | "
            f"{phase['rss_peak_mb']} |"
        )
    comparison = result["engine_fifo_vs_gate"]
    lines += [
        "",
        f"One worker engine, {result['api_clients']} clients flooding it: a camera frame "
        f"waits p50 {comparison['fifo']['camera_frame_ms_p50']} ms (max "
        f"{comparison['fifo']['camera_frame_ms_max']} ms) first-come-first-served, p50 "
        f"{comparison['gate']['camera_frame_ms_p50']} ms (max "
        f"{comparison['gate']['camera_frame_ms_max']} ms) through the priority gate.",
    ]
    lines += ["", f"Runner RSS idle {result['rss_idle_mb']} MB."]
    if burst:
        lines[-1] += (
            f" {burst['requests']} concurrent {burst['body_bytes']}-byte POSTs: peak "
            f"{burst['rss_peak_mb']} MB ({result['burst_rss_ratio']}x idle), answers "
            f"{burst['answers']}."
        )
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="camera interval, s")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--model", help=".pte to serve (default: the demo model)")
    parser.add_argument(
        "--code", help="run the runner from this checkout instead (e.g. a baseline), same bench"
    )
    parser.add_argument("--no-burst", action="store_true", help="skip the 48 x 19 MB burst")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="only: runner and flood in this process (the checkout on PYTHONPATH)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    args.code = Path(args.code).resolve() if args.code else ROOT
    args.model = Path(args.model).resolve() if args.model else None
    if not (1 <= args.cameras <= 16 and 0 < args.duration <= 600 and 1 <= args.clients <= 64):
        parser.error("bounded on purpose: 1-16 cameras, phases up to 600 s, 1-64 clients")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.in_process:
        print(json.dumps(asyncio.run(in_process(arguments)), indent=2))
        sys.exit(0)
    outcome = asyncio.run(main(arguments))
    text = markdown(outcome)
    print(json.dumps(outcome, indent=2))
    print(text)
    if arguments.json:
        arguments.json.write_text(json.dumps(outcome, indent=2) + "\n")
    if arguments.markdown:
        arguments.markdown.write_text(text)
