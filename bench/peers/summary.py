"""Tables for docs/benchmarks-peers.md from the committed gap runs (gap-N.json).

python bench/peers/summary.py bench/results/peers/gap-*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RUNTIMES = (
    "executorch-binding", "executorch-binding-native", "garagecam-engine", "ncnn",
    "executorch-binding-nchw-program", "executorch-binding-nhwc-program-nchw-memory",
    "executorch-binding-int8",
)  # fmt: skip
Result = dict[str, Any]


def _row(result: Result, case: str, runtime: str, threads: int) -> dict[str, Any] | None:
    return next(
        (r for r in result["rows"]
         if r["case"] == case and r["runtime"] == runtime and r["threads"] == threads),
        None,
    )  # fmt: skip


def _header(first: str, results: list[Result], extra: str = "") -> None:
    runs = " | ".join(f"run {i + 1}" for i in range(len(results)))
    print(f"| {first} | Threads | {runs} |{extra}")
    print("|---|---|" + "---|" * (len(results) + (1 if extra else 0)))


def _ratio(row: dict[str, Any] | None) -> str:
    return "–" if not row or row.get("time_vs_litert") is None else f"{row['time_vs_litert']:.2f}x"


def ratios(results: list[Result]) -> None:
    print("Time / LiteRT's, full demo network, one column per run (median of per-round ratios):\n")
    _header("Runtime", results)
    for runtime in RUNTIMES:
        for count in results[0]["threads"]:
            cells = [_ratio(_row(result, "full", runtime, count)) for result in results]
            if any(c != "–" for c in cells):
                print(f"| {runtime} | {count} | " + " | ".join(cells) + " |")


def call_costs(results: list[Result]) -> None:
    print("\nCost per call (call-floor network), median ms per run:\n")
    _header("Runtime", results)
    for runtime in (
        "litert",
        "executorch-binding",
        "executorch-binding-native",
        "garagecam-engine",
    ):
        for count in results[0]["threads"]:
            rows = [_row(result, "call_floor", runtime, count) for result in results]
            if any(rows):
                cells = [f"{r['inference']['median']:.4f}" if r else "–" for r in rows]
                print(f"| {runtime} | {count} | " + " | ".join(cells) + " |")


def stages(first: Result) -> None:
    print("\nMedian ms per call (run 1); stages are differences of successive prefixes:\n")
    print("| Part | Threads | ExecuTorch (binding) | LiteRT | ExecuTorch / LiteRT |")
    print("|---|---|---|---|---|")
    prefixes = sorted(c for c in {r["case"] for r in first["rows"]} if c.startswith("features_"))
    for count in first["threads"]:
        before = (0.0, 0.0)
        for case in prefixes:
            et, lite = (
                _row(first, case, "executorch-binding", count),
                _row(first, case, "litert", count),
            )
            if not et or not lite:
                continue
            a, b = et["inference"]["median"], lite["inference"]["median"]
            label = f"{case} (adds {a - before[0]:.3f} / {b - before[1]:.3f} ms)"
            before = (a, b)
            print(f"| {label} | {count} | {a:.3f} | {b:.3f} | {_ratio(et)} |")


def stems(results: list[Result]) -> None:
    first = results[0]
    names = sorted(c for c in {r["case"] for r in first["rows"]} if c.startswith("stem_"))
    if not names:
        return
    print("\nOther stems (the demo network otherwise): ExecuTorch (binding) / LiteRT per run, and")
    print("the medians of run 1 (ms, ExecuTorch / LiteRT):\n")
    _header("Network", results, " ms, run 1 |")
    for case in ["full", *names]:
        for count in first["threads"]:
            rows = [_row(result, case, "executorch-binding", count) for result in results]
            lite = _row(first, case, "litert", count)
            ms = f"{rows[0]['inference']['median']:.3f} / {lite['inference']['median']:.3f}" if (
                rows[0] and lite) else "–"  # fmt: skip
            label = "demo (stem: depthwise 3x3 on RGB, then 1x1)" if case == "full" else case
            print(f"| {label} | {count} | " + " | ".join(map(_ratio, rows)) + f" | {ms} |")


def main(paths: list[str]) -> int:
    results = [json.loads(Path(p).read_text()) for p in paths]
    ratios(results)
    call_costs(results)
    stages(results[0])
    stems(results)
    loads = ", ".join(" / ".join(f"{v:.2f}" for v in r["load"]) for r in results)
    print(f"\nLoad averages (1/5/15 min) at the end of each run: {loads}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
