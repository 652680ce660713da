"""`garagecam bench` on the tiny test model: it runs and writes well-formed JSON, Markdown
and PNG. No timing asserts: only structure, agreement of outputs and the error paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from garagecam_core.bench import runtimes
from garagecam_core.bench.goals import EAGER, ET_FP32, ET_INT8, ORT, evaluate_goals
from garagecam_core.bench.model_facts import count_params_and_macs
from garagecam_core.bench.peers import LITERT, NCNN
from garagecam_core.bench.stats import summarize
from garagecam_core.cli import main
from garagecam_core.errors import GarageCamError

TINY_FACTORY = "tests.tiny_model:build"
# Every count as small as the bench allows: this checks the tool, not the machine.
TINY_RUN = ["--quick", "--runs", "2", "--warmup", "0", "--rss-iterations", "3",
            "--accuracy-scenes", "2", "--no-progress"]  # fmt: skip
GOAL_IDS = {
    "end_to_end_vs_naive", "preprocess_vs_full_decode", "executorch_vs_eager",
    "executorch_vs_onnxruntime", "int8_size", "int8_accuracy", "int8_speed", "worker_overhead",
    "worker_rss", "cold_start", "binding_vs_official_fp32", "binding_bit_identical_fp32",
    "binding_vs_official_int8", "binding_bit_identical_int8",
    # the peers' goals (tests/core/bench/test_peers.py), at the one thread count of --quick
    "engine_vs_litert_1", "engine_vs_ncnn_1", "end_to_end_vs_litert_1",
    "worker_end_to_end_vs_litert_1", "worker_rss_vs_best_peer", "engine_process_rss_vs_best_peer",
    "worker_rss_vs_best_peer_pipeline",
    # the generated IR night frame, reported beside the judged daylight 2560x1440 frame
    "end_to_end_vs_naive_night-ir-2560x1440",
}  # fmt: skip
PEER_GOALS = {g for g in GOAL_IDS if "litert" in g or "ncnn" in g or "peer" in g}
STAGES = {
    "decode", "preprocess", "decode_preprocess", "inference", "debounce", "call_overhead",
    "end_to_end",
}  # fmt: skip


def _check_summary(summary: dict[str, Any], runs: int) -> None:
    assert summary["n"] == runs
    assert 0 <= summary["min"] <= summary["median"] <= summary["p90"] <= summary["max"]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Path:
    out = tmp_path_factory.mktemp("bench")
    code = main(
        ["bench", "--model", str(tiny_model_path), "--module", TINY_FACTORY, *TINY_RUN,
         "--json", str(out / "bench.json"), "--markdown", str(out / "bench.md"),
         "--plot", str(out / "bench.png")]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.mark.slow
def test_json_has_every_figure(full_run: Path) -> None:
    result = json.loads((full_run / "bench.json").read_text())
    assert result["command"].startswith("garagecam bench --model ")
    assert result["machine"]["logical_cpus"] >= 1
    assert result["machine"]["versions"]["executorch"]
    model = result["model"]
    assert model["labels"] == ["door_open", "car_present"]
    assert model["params"] > 0 and model["macs"] > 0
    assert model["pte"]["size_bytes"] > 0
    assert model["fp32_export"]["delegated_ops"] > 0
    assert model["int8_export"]["size_bytes"] < model["fp32_export"]["size_bytes"]

    sizes = {(1920, 1080), (2560, 1440)}
    pipeline = result["pipeline"]
    assert {(tuple(r["size"]), r["engine"]) for r in pipeline} == {
        (size, engine) for size in sizes for engine in ("in-process", "worker")
    }
    for row in pipeline:
        assert set(row["stages"]) == STAGES
        for summary in row["stages"].values():
            _check_summary(summary, runs=2)
    assert {tuple(r["size"]) for r in result["naive"]} == sizes

    by_name = {r["runtime"]: r for r in result["runtimes"]}
    assert set(by_name) == {EAGER, ET_FP32, ET_INT8, ORT, LITERT, NCNN}
    for name in (EAGER, ET_FP32, ET_INT8):
        assert by_name[name]["status"] == "ok", by_name[name]
    # ONNX Runtime is installed in the 3.13 venv only, LiteRT and ncnn in the peers venv
    # only: elsewhere each must be a clean skip.
    for name in (ORT, LITERT, NCNN):
        assert by_name[name]["status"] in ("ok", "skipped")
    for row in result["runtimes"]:
        if row["status"] == "ok":
            assert row["agrees"], row  # outputs checked against eager, not assumed
            assert row["max_abs_diff"] <= row["tolerance"]
            assert len(row["probabilities"]) == 2

    assert result["int8"]["scenes"] == 2
    assert 0 <= result["int8"]["accuracy_int8"] <= 100
    assert result["int8"]["size_ratio"] > 1
    memory = result["memory"]
    assert memory["iterations"] == 3 and memory["worker_rss_mb"] > 0
    assert {c["engine"] for c in result["capacity"]} == {"in-process", "worker"}
    binding = result["binding"]
    assert {(r["program"], r["runtime"]) for r in binding["inference"]} == {
        (program, runtime) for program in ("fp32", "int8") for runtime in ("binding", "official")
    }
    for row in binding["inference"]:
        assert row["status"] == "ok" and row["bit_identical"] is True, row
        _check_summary(row["inference"], runs=2)
    cold = {r["runtime"]: r for r in binding["cold_start"]}
    assert cold["binding"]["status"] == cold["official"]["status"] == "ok"
    assert cold["binding"]["torch_imported"] is False
    assert cold["official"]["torch_imported"] is True
    assert cold["binding"]["rss_mb"] > 0
    assert {g["id"] for g in result["goals"]} == GOAL_IDS
    measured = {g["id"] for g in result["goals"] if g["measured"] is not None}
    assert measured >= GOAL_IDS - PEER_GOALS - (
        {"executorch_vs_onnxruntime"} if by_name[ORT]["status"] != "ok" else set()
    )
    probes = {r["runtime"]: r["status"] for r in result["peers"]["footprint"]}
    assert probes["garagecam-engine"] == "ok"
    if by_name[LITERT]["status"] == "ok":
        assert measured >= PEER_GOALS - {"engine_vs_ncnn_1"}
        assert {f["pipeline"] for f in result["peers"]["end_to_end"]} == {
            "garagecam-in-process", "garagecam-worker", "litert-pipeline"
        }  # fmt: skip


@pytest.mark.slow
def test_markdown_and_png(full_run: Path) -> None:
    markdown = (full_run / "bench.md").read_text()
    for heading in ("**Pipeline per stage**", "**Naive pipeline**", "**Runtimes side by side**",
                    "**garagecam-runtime binding vs official", "**Fresh process per runtime**",
                    "**Goals**"):  # fmt: skip
        assert heading in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert all(line.endswith("|") for line in table_rows)
    assert "| executorch-xnnpack-fp32 | 1 |" in markdown
    with Image.open(full_run / "bench.png") as chart:
        assert chart.format == "PNG"
        assert chart.size[0] > 400 and chart.size[1] > 200


@pytest.mark.slow
def test_pte_without_module_compares_executorch_only(tiny_model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", str(tiny_model_path), *TINY_RUN, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    status = {r["runtime"]: r["status"] for r in result["runtimes"]}
    assert status == {
        EAGER: "skipped", ORT: "skipped", ET_INT8: "skipped", ET_FP32: "ok",
        LITERT: "skipped", NCNN: "skipped",
    }  # fmt: skip
    assert "peers" not in result  # nothing to convert without the module
    assert all("--module" in r["reason"] for r in result["runtimes"] if r["status"] == "skipped")
    assert result["naive"] == [] and result["int8"] is None
    assert result["model"]["params"] is None
    # the binding comparison runs on the given .pte alone
    assert {r["program"] for r in result["binding"]["inference"]} == {"fp32"}
    assert all(r["bit_identical"] for r in result["binding"]["inference"])


def test_missing_onnxruntime_is_reported_as_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = runtimes.importlib.util.find_spec
    monkeypatch.setattr(
        runtimes.importlib.util, "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )  # fmt: skip
    candidate = runtimes.onnxruntime_candidate(object(), None, tmp_path)  # type: ignore[arg-type]
    assert candidate.open is None
    assert candidate.skip_reason is not None
    assert candidate.skip_reason.startswith("not installed: onnxruntime")
    rows = runtimes.measure_runtimes([candidate], [1, 2], runs=1, warmup=0, tick=lambda: None)
    assert [(r["status"], r["threads"]) for r in rows] == [("skipped", 1), ("skipped", 2)]


def test_bad_options_are_user_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_path: Path
) -> None:
    assert main(["bench", "--runs", "0", "--no-progress"]) == 1
    assert "--runs must be at least 1" in capsys.readouterr().err
    missing = tmp_path / "nope.jpg"
    model = str(tiny_model_path)
    assert main(["bench", "--model", model, "--image", str(missing), "--no-progress"]) == 1
    assert f"cannot read image {missing}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--threads", "0"])


def test_summary_median_and_p90() -> None:
    summary = summarize([float(v) for v in range(1, 11)])
    assert (summary.median, summary.p90, summary.min, summary.max) == (5.5, 9.0, 1.0, 10.0)
    assert summarize([3.0]).p90 == 3.0
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


def test_macs_counted_on_conv_and_linear() -> None:
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),  # out 8x16x16
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 16 * 16, 2),
    )
    params, macs = count_params_and_macs(net, torch.zeros(1, 3, 32, 32))
    assert params == 3 * 8 * 9 + 8 * 16 * 16 * 2 + 2
    assert macs == 8 * 16 * 16 * 3 * 9 + 2 * 8 * 16 * 16


def test_goals_from_figures() -> None:
    def stages(end_to_end: float, prep: float, call: float = 0.1) -> dict[str, Any]:
        return {
            "end_to_end": {"median": end_to_end},
            "decode_preprocess": {"median": prep},
            "call_overhead": {"median": call},
        }

    def runtime(name: str, ms: float) -> dict[str, Any]:
        return {"runtime": name, "threads": 1, "status": "ok", "inference": {"median": ms}}

    size = [2560, 1440]
    result = {
        "pipeline": [
            {"size": size, "threads": 1, "engine": "in-process", "stages": stages(10.0, 6.0)},
            {"size": size, "threads": 1, "engine": "worker", "stages": stages(9.9, 6.0, 0.5)},
        ],
        "naive": [{"size": size, "threads": 1, "stages": stages(60.0, 15.0)}],
        "runtimes": [
            runtime(EAGER, 12.0),
            runtime(ET_FP32, 3.0),
            runtime(ORT, 4.0),
            runtime(ET_INT8, 3.0),
            runtime(ET_FP32, 2.0) | {"threads": 2},
            runtime(ORT, 1.9) | {"threads": 2},
        ],
        "int8": {"size_ratio": 3.6, "accuracy_delta_points": 1.5},
        "memory": {"worker_rss_mb": 500.0},
        "binding": {
            "inference": [
                {
                    "program": "fp32",
                    "runtime": "binding",
                    "status": "ok",
                    "inference": {"median": 0.9},
                    "bit_identical": True,
                },
                {
                    "program": "fp32",
                    "runtime": "official",
                    "status": "ok",
                    "inference": {"median": 1.0},
                    "bit_identical": True,
                },
            ],
            "cold_start": [
                {"runtime": "binding", "status": "ok", "process_to_first_result_s": 0.6},
            ],
        },
    }
    goals = {g["id"]: g for g in evaluate_goals(result)}
    assert goals["end_to_end_vs_naive"]["measured"] == 6.0 and goals["end_to_end_vs_naive"]["met"]
    assert goals["preprocess_vs_full_decode"]["measured"] == 2.5
    assert goals["executorch_vs_eager"]["met"]
    assert goals["executorch_vs_onnxruntime"]["measured"] == 0.75
    assert goals["executorch_vs_onnxruntime"]["met"]
    # other thread counts: the ratio is reported, not judged
    two = goals["executorch_vs_onnxruntime_2_threads"]
    assert two["measured"] == pytest.approx(2.0 / 1.9, abs=1e-3) and two["met"] is None
    assert goals["int8_size"]["met"] and goals["int8_accuracy"]["met"] is False
    assert goals["int8_speed"]["met"] is None and goals["int8_speed"]["measured"] == 1.0
    assert goals["worker_overhead"]["measured"] == pytest.approx(0.4)
    assert goals["worker_rss"]["measured"] == 500.0 and goals["worker_rss"]["met"] is False
    assert goals["cold_start"]["measured"] == 0.6 and goals["cold_start"]["met"]
    assert goals["binding_vs_official_fp32"]["measured"] == 0.9
    assert goals["binding_vs_official_fp32"]["met"]
    assert goals["binding_bit_identical_fp32"]["met"] is True
    assert "binding_vs_official_int8" not in goals  # no int8 program measured


def test_module_factory_errors_are_user_errors() -> None:
    from garagecam_core.bench.module import resolve_module
    from tests.conftest import tiny_metadata

    with pytest.raises(GarageCamError, match=r"package\.module:factory"):
        resolve_module(tiny_metadata(), "no_colon", is_demo=False, models_dir=Path())
