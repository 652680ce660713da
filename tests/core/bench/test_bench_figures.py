"""The bench's inputs and how its figures are labelled: pinned frames, CPU features, the
load average, the worker's working RSS. No timing asserts."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from PIL import Image

from garagecam_core.bench import memory
from garagecam_core.bench.goals import evaluate_goals
from garagecam_core.bench.machine import cpu_features, machine_info, parse_cpuinfo
from garagecam_core.bench.report import machine_line
from garagecam_core.bench.snapshots import (
    DAY_QUALITY,
    Snapshot,
    generated_snapshots,
    goal_snapshot,
    image_facts,
    jpeg_quality,
)
from garagecam_core.engine.base import Classification, Timings

X86 = """processor\t: 0
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx_vnni amx_int8
"""
ARM = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp
CPU part\t: 0xd0b
"""
OLD_EPYC = "model name\t: AMD EPYC 7B13\nflags\t\t: sse2 avx avx2 fma\n"


def _jpeg(quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.mark.parametrize("quality", [55, 85, 94])
def test_jpeg_quality_is_read_from_the_tables(quality: int) -> None:
    assert jpeg_quality(_jpeg(quality)) == quality


def test_jpeg_quality_of_a_png_is_unknown() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    assert jpeg_quality(buffer.getvalue()) is None


def test_generated_frames_are_pinned_daylight_and_one_ir_night() -> None:
    frames = generated_snapshots()
    assert [f.name for f in frames] == [
        "day-1920x1080.jpg", "day-2560x1440.jpg", "night-ir-2560x1440.jpg",
    ]  # fmt: skip
    for frame in frames[:2]:
        assert jpeg_quality(frame.data) == DAY_QUALITY
        with Image.open(io.BytesIO(frame.data)) as image:
            assert image.size == frame.size and image.mode == "RGB"
    with Image.open(io.BytesIO(frames[2].data)) as night:
        # the IR frame is grey: the generator repeats one channel three times
        red, green, blue = night.convert("RGB").resize((32, 18)).split()
        assert red.tobytes() == green.tobytes() == blue.tobytes()


def test_goals_are_judged_on_the_first_2560x1440_frame() -> None:
    frames = [
        Snapshot("a.jpg", b"", (1920, 1080)), Snapshot("day.jpg", b"", (2560, 1440)),
        Snapshot("night.jpg", b"", (2560, 1440)),
    ]  # fmt: skip
    assert goal_snapshot(frames).name == "day.jpg"
    assert goal_snapshot(frames[:1]).name == "a.jpg"


def test_image_facts_give_bytes_and_quality() -> None:
    facts = image_facts([Snapshot("x.jpg", _jpeg(85), (64, 48))])
    assert facts == [{"name": "x.jpg", "size": [64, 48], "bytes": len(_jpeg(85)), "quality": 85}]


@pytest.mark.parametrize(
    ("text", "model", "features"),
    [
        (X86, "Intel(R) Xeon(R) Processor",
         "AVX2 yes, FMA yes, AVX-512 yes, VNNI yes, AMX-INT8 yes"),
        (OLD_EPYC, "AMD EPYC 7B13", "AVX2 yes, FMA yes, AVX-512 no, VNNI no, AMX-INT8 no"),
        (ARM, "aarch64", "NEON yes, dotprod yes, i8mm no, SVE no"),
    ],
)  # fmt: skip
def test_cpu_features_are_named(text: str, model: str, features: str) -> None:
    found_model, flags = parse_cpuinfo(text, "aarch64")
    assert found_model == model
    assert cpu_features(flags) == features


def test_machine_line_has_features_and_load_average() -> None:
    machine = {
        "cpu_model": "Intel(R) Xeon(R) Processor", "usable_cpus": 2, "machine": "x86_64",
        "cpu_flags": ["avx2", "fma", "avx512f", "avx512_vnni"],
        "load_average_start": [1.5, 1.0, 0.5], "load_average_end": [2.25, 1.25, 0.75],
    }  # fmt: skip
    line = machine_line(machine)
    assert "AVX-512 yes, VNNI yes, AMX-INT8 no" in line
    assert "1.50 / 1.00 / 0.50" in line and "2.25 / 1.25 / 0.75" in line


def test_machine_info_records_the_load_average() -> None:
    info = machine_info()
    assert info["load_average_start"] == pytest.approx(list(os.getloadavg()), abs=5.0)
    assert info["cpu_features"] == cpu_features(info["cpu_flags"])


def test_int8_goal_names_the_dot_product_instructions() -> None:
    def goal(flags: list[str]) -> str:
        result: dict[str, Any] = {"machine": {"cpu_flags": flags}}
        return str(next(g["goal"] for g in evaluate_goals(result) if g["id"] == "int8_speed"))

    assert "int8 dot products: avx512_vnni" in goal(["avx2", "avx512_vnni"])
    assert "no VNNI/dotprod" in goal(["avx2", "fma"])
    assert "int8 dot products: asimddp" in goal(["asimd", "asimddp"])


def _stage(median: float) -> dict[str, float]:
    return {"median": median}


def test_night_frame_ratio_is_reported_beside_the_judged_day_frame() -> None:
    def row(image: str, engine: str, end: float) -> dict[str, Any]:
        return {"image": image, "size": [2560, 1440], "engine": engine, "threads": 1,
                "stages": {"end_to_end": _stage(end), "call_overhead": _stage(0.0)}}  # fmt: skip

    result = {
        "pipeline": [row("day.jpg", "in-process", 5.0), row("night.jpg", "in-process", 10.0)],
        "naive": [row("day.jpg", "naive", 50.0), row("night.jpg", "naive", 40.0)],
    }
    goals = {g["id"]: g for g in evaluate_goals(result)}
    assert goals["end_to_end_vs_naive"]["measured"] == 10.0
    assert goals["end_to_end_vs_naive"]["met"] is True
    assert "day.jpg" in goals["end_to_end_vs_naive"]["goal"]
    night = goals["end_to_end_vs_naive_night"]
    assert night["measured"] == 4.0 and night["met"] is None


class _GrowingEngine:
    """Allocates 24 MB on its first frame, like a runtime's arena and decode buffers."""

    def __init__(self) -> None:
        self.kept: list[bytearray] = []

    def classify(self, image: bytes) -> Classification:
        if not self.kept:
            self.kept.append(bytearray(os.urandom(24 * 1024 * 1024)))
        return Classification({"x": 0.5}, Timings(0.0, 0.0, 0.0, 0.0), (1, 1))


def test_worker_rss_is_the_working_figure_after_frames() -> None:
    pid = os.getpid()
    loaded = memory.rss_mb(pid)
    figures = memory.measure_growth(
        _GrowingEngine(), pid, Snapshot("x.jpg", b"", (1, 1)), 3,  # type: ignore[arg-type]
        tick=lambda: None, loaded_mb=loaded, threads=1,
    )  # fmt: skip
    assert figures["worker_rss_loaded_mb"] == round(loaded, 2)
    assert figures["worker_rss_mb"] == figures["rss_end_mb"]
    assert figures["worker_rss_mb"] >= loaded + 20.0
