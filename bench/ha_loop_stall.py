"""Longest event-loop stall while Home Assistant's GarageCam entry classifies (local mode).

Runs the integration's own engine set-up (`custom_components.garagecam.inference`:
WorkerEngine in a child process behind ExecutorEngine) on an asyncio loop, with a 1 ms
ticker measuring how late the loop wakes up while classifications run. For comparison it
does the same with ExecutorEngine(LocalEngine) in a thread of this process, once with the
garagecam-runtime binding (releases the GIL during inference) and once with executorch's
official runtime (holds the GIL during execute()), when each is installed.

    .venv/bin/python bench/ha_loop_stall.py [--model PATH] [--frames 50] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from custom_components.garagecam.inference import _start_worker
from garagecam_core import demo_model_path
from garagecam_core.engine import AsyncEngine, ExecutorEngine
from garagecam_core.errors import RuntimeMissingError


async def _ticker(stalls: list[float], stop: asyncio.Event) -> None:
    interval = 0.001
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(interval)
        stalls.append((time.perf_counter() - before - interval) * 1000.0)


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


async def measure(
    engine: AsyncEngine | None, image: bytes, frames: int, seconds: float = 1.0
) -> tuple[float, float, float, float]:
    """(longest, p99, median stall, median classification ms). Without an engine: the
    ticker alone for `seconds`, the noise floor of this machine (scheduling, other load)."""
    if engine is not None:
        await engine.classify(image)  # warm-up (first execute allocates)
    stalls: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(stalls, stop))
    latencies = [0.0]
    if engine is None:
        await asyncio.sleep(seconds)
    else:
        latencies.clear()
        for _ in range(frames):
            start = time.perf_counter()
            await engine.classify(image)
            latencies.append((time.perf_counter() - start) * 1000.0)
    stop.set()
    await ticker
    return max(stalls), _p99(stalls), statistics.median(stalls), statistics.median(latencies)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=demo_model_path())
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buffer, "JPEG", quality=85)
    image = buffer.getvalue()

    from garagecam_core.engine.local import LocalEngine

    loop = asyncio.get_running_loop()
    paths = (
        ("worker process (integration, local mode)", lambda: _start_worker(args.model)),
        (
            "in-process thread, binding",
            lambda: ExecutorEngine(LocalEngine(args.model, runtime="binding")),
        ),
        (
            "in-process thread, official runtime",
            lambda: ExecutorEngine(LocalEngine(args.model, runtime="official")),
        ),
    )
    seconds = 1.0
    for label, start in paths:
        try:
            engine = await loop.run_in_executor(None, start)
        except RuntimeMissingError as err:
            print(f"{label + ':':42s} skipped ({err})")
            continue
        try:
            started = time.perf_counter()
            worst, p99, median, latency = await measure(engine, image, args.frames)
            seconds = max(seconds, time.perf_counter() - started)
        finally:
            await engine.close()
        print(
            f"{label + ':':42s} longest loop stall {worst:.2f} ms, p99 {p99:.2f} ms, median "
            f"{median:.3f} ms, classification {latency:.1f} ms median, {args.frames} frames"
        )
    worst, p99, median, _ = await measure(None, image, 0, seconds)
    print(
        f"{'idle loop (noise floor, no inference):':42s} longest loop stall {worst:.2f} ms, "
        f"p99 {p99:.2f} ms, median {median:.3f} ms, over {seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
