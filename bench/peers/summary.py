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


def _row(result: dict[str, Any], case: str, runtime: str, threads: int) -> dict[str, Any] | None:
    return next(
        (r for r in result["rows"]
         if r["case"] == case and r["runtime"] == runtime and r["threads"] == threads),
        None,
    )  # fmt: skip


def main(paths: list[str]) -> int:
    results = [json.loads(Path(p).read_text()) for p in paths]
    threads = results[0]["threads"]
    print("Time / LiteRT's, full demo network, one column per run (median of per-round ratios):\n")
    print("| Runtime | Threads | " + " | ".join(f"run {i + 1}" for i in range(len(results))) + " |")
    print("|---|---|" + "---|" * len(results))
    for runtime in RUNTIMES:
        for count in threads:
            cells = []
            for result in results:
                row = _row(result, "full", runtime, count)
                cells.append("–" if not row or row.get("time_vs_litert") is None
                             else f"{row['time_vs_litert']:.2f}x")  # fmt: skip
            if any(c != "–" for c in cells):
                print(f"| {runtime} | {count} | " + " | ".join(cells) + " |")
    print("\nCost per call (call-floor network), median ms per run:\n")
    print("| Runtime | Threads | " + " | ".join(f"run {i + 1}" for i in range(len(results))) + " |")
    print("|---|---|" + "---|" * len(results))
    for runtime in (
        "litert",
        "executorch-binding",
        "executorch-binding-native",
        "garagecam-engine",
    ):
        for count in threads:
            rows = [_row(result, "call_floor", runtime, count) for result in results]
            if any(rows):
                cells = [f"{r['inference']['median']:.4f}" if r else "–" for r in rows]
                print(f"| {runtime} | {count} | " + " | ".join(cells) + " |")
    print("\nMedian ms per call (run 1); stages are differences of successive prefixes:\n")
    print("| Part | Threads | ExecuTorch (binding) | LiteRT | ExecuTorch / LiteRT |")
    print("|---|---|---|---|---|")
    first = results[0]
    prefixes = sorted(c for c in {r["case"] for r in first["rows"]} if c.startswith("features_"))
    cases = prefixes
    for count in threads:
        previous = {"et": 0.0, "lite": 0.0}
        for case in cases:
            et = _row(first, case, "executorch-binding", count)
            lite = _row(first, case, "litert", count)
            if not et or not lite:
                continue
            a, b = et["inference"]["median"], lite["inference"]["median"]
            label = case
            if case.startswith("features_"):
                label = f"{case} (adds {a - previous['et']:.3f} / {b - previous['lite']:.3f} ms)"
                previous = {"et": a, "lite": b}
            print(f"| {label} | {count} | {a:.3f} | {b:.3f} | {et['time_vs_litert']:.2f}x |")
    loads = ", ".join(" / ".join(f"{v:.2f}" for v in r["load"]) for r in results)
    print(f"\nLoad averages (1/5/15 min) at the end of each run: {loads}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
