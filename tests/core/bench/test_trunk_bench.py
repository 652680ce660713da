"""`garagecam bench --trunk`: ratios, goals and the report from fixed figures; the trunk's
fresh-process probe on the shipped trunk. No timing asserts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from garagecam_core.bench.trunk import (
    LITERT,
    NCNN,
    TRUNK,
    TrunkBenchConfig,
    run_trunk_bench,
    trunk_goals,
    trunk_markdown,
    trunk_ratios,
)
from garagecam_core.heads.trunk import SHIPPED_TRUNK

ROOT = Path(__file__).resolve().parents[3]


def _row(runtime: str, threads: int, rounds: list[float], status: str = "ok") -> dict[str, Any]:
    return {
        "runtime": runtime, "threads": threads, "status": status, "reason": None,
        "round_medians": rounds, "agrees": True, "max_abs_diff": 1e-6,
        "inference": {"median": float(np.median(rounds)), "p90": max(rounds)},
    }  # fmt: skip


ROWS = [
    _row(TRUNK, 1, [10.0, 12.0, 11.0]),
    _row(LITERT, 1, [8.0, 12.0, 10.0]),  # ratios 1.25, 1.0, 1.1 -> median 1.1
    _row(NCNN, 1, [20.0, 24.0, 22.0]),  # 0.5 each
    _row(TRUNK, 2, [6.0, 6.0, 6.0]),
    _row(LITERT, 2, [6.0, 6.0, 6.0]),
    {"runtime": NCNN, "threads": 2, "status": "skipped", "reason": "not installed: ncnn"},
]


def test_ratios_are_paired_per_round_and_thread_count() -> None:
    ratios = {
        (r["runtime"], r["threads"]): r["trunk_time_over_runtime"] for r in trunk_ratios(ROWS)
    }
    assert ratios == {(LITERT, 1): 1.1, (NCNN, 1): 0.5, (LITERT, 2): 1.0}


def _result() -> dict[str, Any]:
    footprint = [
        {"runtime": TRUNK + "+preprocess", "status": "ok", "rss_mb": 60.0, "processes": 3,
         "import_ms": 20.0, "load_ms": 30.0, "first_run_ms": 12.0,
         "process_to_first_result_ms": 400.0},
        {"runtime": LITERT + "+preprocess", "status": "ok", "rss_mb": 50.0, "processes": 3,
         "import_ms": 6.0, "load_ms": 20.0, "first_run_ms": 10.0,
         "process_to_first_result_ms": 300.0},
        {"runtime": NCNN, "status": "failed", "reason": "exit code 1"},
    ]  # fmt: skip
    result: dict[str, Any] = {
        "ratios": trunk_ratios(ROWS), "footprint": footprint, "runtimes": ROWS,
        "trunk": {"path": "trunk-lite0.pte", "name": "efficientnet-lite0-224", "bytes": 13 << 20,
                  "input": [224, 224], "embedding_size": 1280, "weights": "Apache-2.0"},
        "frame_bytes": 114_152, "tolerance": 0.001,
        "config": {"runs": 200, "warmup": 3, "threads": [1, 2], "footprint_processes": 3},
        "machine": {"cpu_model": "Intel(R) Xeon(R) Processor", "usable_cpus": 2,
                    "machine": "x86_64", "cpu_flags": ["avx2", "avx512f", "avx512_vnni"],
                    "load_average_start": [3.0, 2.0, 1.0], "load_average_end": [4.0, 3.0, 2.0]},
    }  # fmt: skip
    result["goals"] = trunk_goals(result)
    return result


def test_only_litert_is_judged_and_rss_is_reported() -> None:
    goals = {g["id"]: g for g in _result()["goals"]}
    assert goals["trunk_vs_litert_1"]["met"] is False
    assert goals["trunk_vs_litert_2"]["met"] is True
    assert goals["trunk_vs_ncnn_1"]["target"] == "reported"
    assert goals["trunk_vs_ncnn_1"]["met"] is None
    assert goals["trunk_rss_vs_best_peer"]["measured"] == 1.2


def test_markdown_has_features_load_and_every_row() -> None:
    text = trunk_markdown(_result())
    assert "AVX-512 yes, VNNI yes" in text and "3.00 / 2.00 / 1.00" in text
    assert "| litert | 1 | 10.00 / 12.00 | 1.10x |" in text
    assert "| garagecam-trunk | 1 | 11.00 / 12.00 | 1.00x (itself) |" in text
    assert "skipped: not installed: ncnn" in text
    assert "| garagecam-trunk+preprocess | 3 | 20.0 | 30.0 | 12.0 | 400 | 60.0 |" in text
    assert "failed: exit code 1" in text
    assert "❌" in text and "✅" in text


def test_trunk_probe_runs_frames_in_a_fresh_process(tmp_path: Path) -> None:
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros((1, 3, 224, 224), np.float32))
    done = subprocess.run(
        [sys.executable, "-m", "garagecam_core.bench.peers.probe", TRUNK, "1", str(npy),
         str(SHIPPED_TRUNK)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(figures["output"]) == 1280
    assert figures["rss_mb"] > 0 and figures["first_result_at"] > 0


@pytest.mark.slow  # runs the trunk in every runtime
@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None,
    reason="needs the network the trunk was exported from (the Python 3.13 venv runs it)",
)
def test_trunk_bench_runs_end_to_end() -> None:
    config = TrunkBenchConfig(threads=[1], runs=2, warmup=0, footprint_processes=1,
                              worker_frames=2)  # fmt: skip
    result = run_trunk_bench(config)
    rows = {r["runtime"]: r for r in result["runtimes"]}
    assert rows[TRUNK]["status"] == "ok" and rows[TRUNK]["agrees"], rows[TRUNK]
    for row in rows.values():  # every runtime that ran agrees with eager's features
        assert row["status"] == "skipped" or row["agrees"], row
    probes = {r["runtime"]: r for r in result["footprint"]}
    assert probes[TRUNK]["status"] == "ok" and probes[TRUNK + "+preprocess"]["rss_mb"] > 0
    product = result["product"]
    assert product["worker_rss_mb"] > 0 and product["cold_start"]["status"] == "ok"
    assert "Trunk time per frame" in trunk_markdown(result) or not result["ratios"]
