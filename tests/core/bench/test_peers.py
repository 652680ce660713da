"""The peer runtimes in `garagecam bench` (LiteRT, ncnn): conversion from the same module,
outputs against eager, fresh-process probes, turns, goals and the report.

The conversion tests run for real where the optional packages are installed (the peers
venv, see docs/benchmarks-peers.md) and check the skip reason where they are not (the
default venvs): each asserts one of the two, never neither. No timing asserts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from garagecam_core.bench.goals import EAGER, ET_FP32
from garagecam_core.bench.module import SourceModule, resolve_module
from garagecam_core.bench.naive import eager_probabilities
from garagecam_core.bench.peers import LITERT, NCNN, litert, ncnn
from garagecam_core.bench.peers.common import ConversionError, captured_output
from garagecam_core.bench.peers.footprint import PIPELINE, measure_footprints
from garagecam_core.bench.peers.goals import peer_goals
from garagecam_core.bench.peers.report import draw_peers, peers_markdown
from garagecam_core.bench.runtimes import (
    TOLERANCES,
    Candidate,
    measure_runtimes,
    paired_ratio,
    split_runs,
)
from garagecam_core.preprocess import prepare
from tests.conftest import tiny_metadata
from tests.images import encode, scene

HAS_LITERT = all(importlib.util.find_spec(n) for n in ("litert_torch", "ai_edge_litert"))
HAS_NCNN = all(importlib.util.find_spec(n) for n in ("ncnn", "pnnx"))
# the bench's bar for fp32 runtimes: they sum in other orders (the tiny net's random weights
# give activations in the tens, so ~5e-5 is seen), nothing more
FP32_TOLERANCE = TOLERANCES[ET_FP32]


@pytest.fixture(scope="module")
def source() -> SourceModule:
    module = resolve_module(tiny_metadata(), "tests.tiny_model:build", False, Path())
    assert module is not None
    return module


@pytest.fixture(scope="module")
def eager(source: SourceModule) -> Any:
    return source.probabilities_module(tiny_metadata())


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return encode(scene(320, 240, door_open=True), "JPEG", quality=90)


@pytest.fixture(scope="module")
def tensor(jpeg: bytes) -> npt.NDArray[np.float32]:
    """A real preprocessed frame, in the memory layout preprocessing gives the model."""
    return prepare(jpeg, tiny_metadata()).tensor


@pytest.fixture(scope="module")
def converted(
    eager: Any, tensor: npt.NDArray[np.float32], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Candidate, Any]]:
    out = tmp_path_factory.mktemp("peers")
    return {LITERT: litert.candidate(eager, tensor, out), NCNN: ncnn.candidate(eager, tensor, out)}


@pytest.mark.slow
@pytest.mark.parametrize("peer", [
    (LITERT, HAS_LITERT, "litert-torch ai-edge-litert"), (NCNN, HAS_NCNN, "ncnn pnnx"),
])  # fmt: skip
def test_peer_converts_and_agrees_with_eager_or_says_why_not(
    peer: tuple[str, bool, str],
    converted: dict[str, tuple[Candidate, Any]],
    eager: Any,
    tensor: npt.NDArray[np.float32],
) -> None:
    name, installed, packages = peer
    candidate, files = converted[name]
    assert candidate.name == name
    if not installed:
        # default venv: a clean, explained skip, not a failure and not a fake column
        assert candidate.open is None and files is None
        assert candidate.skip_reason is not None
        assert candidate.skip_reason.startswith("not installed: ")
        assert f"pip install {packages}" in candidate.skip_reason
        return
    assert candidate.open is not None, candidate.skip_reason
    reference = eager_probabilities(eager, np.ascontiguousarray(tensor))
    for threads in (1, 2):
        with candidate.open(threads) as run:
            first, second = run(), run()
    assert first.shape == reference.shape == (2,)
    assert np.max(np.abs(first - reference)) <= FP32_TOLERANCE
    assert np.array_equal(first, second)  # repeated calls: same input, same answer
    if name == LITERT:
        from garagecam_core.bench.peers.programs import LiteRTProgram

        program = LiteRTProgram(files, threads=1)  # takes NHWC: an NCHW array is refused
        with pytest.raises(ValueError, match="Dimension mismatch"):
            program.run(np.ascontiguousarray(tensor))


@pytest.mark.slow
def test_fresh_process_probes(
    converted: dict[str, tuple[Candidate, Any]],
    eager: Any,
    jpeg: bytes,
    tiny_model_path: Path,
    tmp_path: Path,
) -> None:
    programs: dict[str, list[Path]] = {"garagecam-engine": [tiny_model_path]}
    if HAS_LITERT:
        programs["litert"] = [converted[LITERT][1]]
    if HAS_NCNN:
        programs["ncnn"] = list(converted[NCNN][1])
    programs["onnxruntime"] = [tmp_path / "missing.onnx"]  # a failing probe is reported
    tensor = prepare(jpeg, tiny_metadata()).tensor
    reference = eager_probabilities(eager, np.ascontiguousarray(tensor))
    ticks: list[int] = []
    rows = measure_footprints(
        programs, tensor, reference, threads=1, repeats=1, workdir=tmp_path,
        tick=lambda: ticks.append(1), frame=(jpeg, tiny_metadata().to_json()),
    )  # fmt: skip
    by_name = {row["runtime"]: row for row in rows}
    # every runtime bare, then again in a process that also preprocesses the frame
    assert list(by_name) == [*programs, *(name + PIPELINE for name in programs)]
    assert len(ticks) == 2 * len(programs)
    for name in ("onnxruntime", "onnxruntime" + PIPELINE):
        failed = by_name.pop(name)
        assert failed["status"] == "failed" and "exit code" in failed["reason"]
    for row in by_name.values():
        assert row["status"] == "ok", row
        assert row["rss_mb"] > 0 and row["peak_rss_mb"] >= row["rss_mb"]
        assert row["import_ms"] >= 0 and row["load_ms"] > 0
        # the frame-made input is the fixture's tensor: same answer as eager on it
        assert row["max_abs_diff"] <= FP32_TOLERANCE, row


def _fake(name: str, value: float, log: list[str]) -> Candidate:
    """A runtime stand-in that records each call (the turn order is what is checked)."""

    @contextmanager
    def open_(threads: int) -> Iterator[Callable[[], npt.NDArray[np.float32]]]:
        def run() -> npt.NDArray[np.float32]:
            log.append(name)
            return np.array([value, 1.0 - value], dtype=np.float32)

        yield run

    return Candidate(name, open_)


def test_runtimes_take_turns_and_rows_keep_per_round_medians() -> None:
    log: list[str] = []
    candidates = [
        _fake("b", 0.5, log), _fake(EAGER, 0.5, log), _fake("c", 0.9, log),
        Candidate("skipped-one", None, "not installed: nothing"),
    ]  # fmt: skip
    ticks: list[int] = []
    rows = measure_runtimes(candidates, [1, 2], runs=7, warmup=1, tick=lambda: ticks.append(1),
                            rounds=3)  # fmt: skip
    assert split_runs(7, 3) == [3, 2, 2] and split_runs(2, 5) == [1, 1]
    # per thread count: eager first, the order rotating each round; then one check call each
    turns = [name for index, name in enumerate(log) if index == 0 or log[index - 1] != name]
    assert turns[:3] == [EAGER, "b", "c"] and turns[3:6] == ["b", "c", EAGER]
    assert turns[6:9] == ["c", EAGER, "b"]
    assert len(ticks) == 2 * 4 * (7 + 1 * 3)  # skipped runtimes tick too: the bar stays true
    assert [(r["runtime"], r["threads"]) for r in rows] == [
        (EAGER, 1), (EAGER, 2), ("b", 1), ("b", 2), ("c", 1), ("c", 2),
        ("skipped-one", 1), ("skipped-one", 2),
    ]  # fmt: skip
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(len(r["round_medians"]) == 3 and r["inference"]["n"] == 7 for r in ok)
    assert {r["runtime"]: r["agrees"] for r in ok} == {EAGER: True, "b": True, "c": False}
    assert rows[-1] == {"runtime": "skipped-one", "threads": 2, "status": "skipped",
                        "reason": "not installed: nothing"}  # fmt: skip


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    a = {"round_medians": [1.0, 2.0, 9.0]}
    b = {"round_medians": [2.0, 2.0, 3.0]}
    assert paired_ratio(a, b) == 1.0  # ratios 0.5, 1.0, 3.0
    assert paired_ratio(a, {"round_medians": [1.0]}) is None  # rounds must pair up
    assert paired_ratio(a, {}) is None


def _result() -> dict[str, Any]:
    def runtime(name: str, threads: int, rounds: list[float]) -> dict[str, Any]:
        summary = {"median": rounds[1], "p90": max(rounds)}
        return {"runtime": name, "threads": threads, "status": "ok", "round_medians": rounds,
                "inference": summary, "max_abs_diff": 1e-7}  # fmt: skip

    def flow(name: str, threads: int, rounds: list[float]) -> dict[str, Any]:
        summary = {"median": rounds[1], "p90": 9.0}
        return {"pipeline": name, "threads": threads, "size": [2560, 1440],
                "round_medians": rounds, "end_to_end": summary}  # fmt: skip

    def probe(name: str, rss: float) -> dict[str, Any]:
        return {"runtime": name, "status": "ok", "processes": 3, "import_ms": 5.0,
                "load_ms": 2.0, "first_run_ms": 1.0, "rss_mb": rss, "peak_rss_mb": rss,
                "max_abs_diff": 0.0}  # fmt: skip

    return {
        "runtimes": [
            runtime(EAGER, 1, [3.0, 3.0, 3.0]),
            runtime(ET_FP32, 1, [0.5, 0.6, 0.5]),
            runtime(LITERT, 1, [0.4, 0.5, 0.5]),
            runtime(NCNN, 1, [0.5, 0.5, 0.5]),
            runtime(ET_FP32, 2, [0.4, 0.4, 0.4]),
            runtime(LITERT, 2, [0.5, 0.5, 0.5]),
            {"runtime": NCNN, "threads": 2, "status": "skipped", "reason": "not installed: ncnn"},
        ],
        "peers": {
            "footprint": [
                probe("garagecam-engine", 800.0),
                probe("litert", 50.0),
                probe("ncnn", 40.0),
                probe("ncnn+preprocess", 48.0),
                {"runtime": "onnxruntime", "status": "failed", "reason": "boom"},
            ],
            "end_to_end": [
                flow("garagecam-in-process", 1, [5.0, 5.2, 5.1]),
                flow("garagecam-worker", 1, [5.5, 5.5, 5.5]),
                flow("litert-pipeline", 1, [5.0, 5.0, 5.0]),
            ],
        },
        "memory": {"worker_rss_mb": 60.0},
    }


def test_peer_goals_from_figures() -> None:
    goals = {g["id"]: g for g in peer_goals(_result())}
    assert goals["engine_vs_litert_1"]["measured"] == 1.2  # rounds 1.25, 1.2, 1.0
    assert goals["engine_vs_litert_1"]["met"] is False
    assert goals["engine_vs_litert_2"]["measured"] == 0.8 and goals["engine_vs_litert_2"]["met"]
    assert goals["engine_vs_ncnn_1"]["met"] is None  # reported, not judged
    assert goals["engine_vs_ncnn_2"]["measured"] is None  # ncnn skipped: not measured
    assert goals["end_to_end_vs_litert_1"]["measured"] == pytest.approx(1.02)
    assert goals["end_to_end_vs_litert_1"]["met"] is False
    assert goals["end_to_end_vs_litert_2"]["measured"] is None
    assert goals["worker_rss_vs_best_peer"]["measured"] == 1.5  # 60 MB / ncnn's 40 MB
    assert goals["engine_process_rss_vs_best_peer"]["measured"] == 20.0
    assert goals["worker_rss_vs_best_peer_pipeline"]["measured"] == 1.25  # 60 / 48 MB
    assert goals["worker_rss_vs_best_peer_pipeline"]["met"] is None
    assert peer_goals({})[0]["measured"] is None  # no figures: nothing claimed


def test_peers_report_tables_and_chart(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = peers_markdown(_result())
    text = "\n".join(lines)
    assert "| litert | 1 | 0.500 | 0.83x | 1e-07 | 50 MB | 8 ms |" in text
    assert "| onnxruntime | – | – | – | – | – | – | – | failed: boom |" in text
    assert "| garagecam-in-process | 2560x1440 | 1 | 5.20 / 9.00 | 1.02x |" in text
    assert all(line.endswith("|") for line in lines if line.startswith("|"))
    assert peers_markdown({}) == []
    fig, (times, memory) = plt.subplots(1, 2)
    draw_peers(times, memory, _result())
    fig.savefig(tmp_path / "peers.png")
    plt.close(fig)
    with Image.open(tmp_path / "peers.png") as chart:
        assert chart.format == "PNG"


def test_converter_output_is_captured_and_quoted_on_failure() -> None:
    import os

    with pytest.raises(ConversionError, match=r"demo conversion failed: bad graph; output: .*"
                       r"step 1 \| step 2"):  # fmt: skip
        with captured_output("demo conversion"):
            os.write(1, b"step 1\n")
            os.write(2, b"step 2\n")
            raise ValueError("bad graph")
    with captured_output("quiet"):
        os.write(1, b"this goes to the capture file, not the terminal\n")
