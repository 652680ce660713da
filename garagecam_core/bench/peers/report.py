"""The peers' tables and chart panels in the bench report."""

from __future__ import annotations

from typing import Any

from ..goals import EAGER, ET_FP32
from ..runtimes import paired_ratio
from .footprint import PIPELINE


def _row(rows: list[dict[str, Any]], key: str, name: str, threads: int) -> dict[str, Any] | None:
    return next(
        (r for r in rows if r.get(key) == name and r.get("threads") == threads
         and r.get("status", "ok") == "ok"),
        None,
    )  # fmt: skip


def cold_start_ms(probe: dict[str, Any]) -> float:
    """Import, load and first run: a new process's wait for its first answer."""
    return float(probe["import_ms"] + probe["load_ms"] + probe["first_run_ms"])


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]


def runtime_ratio_rows(result: dict[str, Any]) -> list[list[str]]:
    """Each measured runtime's time relative to the GarageCam engine's, per thread count."""
    runtimes = result.get("runtimes", [])
    footprint = {r["runtime"]: r for r in (result.get("peers") or {}).get("footprint", [])}
    probe_of = {ET_FP32: "garagecam-engine", "litert": "litert", "ncnn": "ncnn",
                "onnxruntime": "onnxruntime"}  # fmt: skip
    out = []
    for row in runtimes:
        if row["status"] != "ok":
            continue
        engine = _row(runtimes, "runtime", ET_FP32, row["threads"])
        ratio = paired_ratio(row, engine) if engine else None
        probe = footprint.get(probe_of.get(row["runtime"], ""), {})
        rss = f"{probe['rss_mb']:.0f} MB" if probe.get("status") == "ok" else "–"
        start = f"{cold_start_ms(probe):,.0f} ms" if probe.get("status") == "ok" else "–"
        out.append([row["runtime"], str(row["threads"]), f"{row['inference']['median']:.3f}",
                    _x(ratio), f"{row['max_abs_diff']:.2g}", rss, start])  # fmt: skip
    return out


def peers_markdown(result: dict[str, Any]) -> list[str]:
    peers = result.get("peers")
    if not peers:
        return []
    out = [
        "**Runtimes vs the GarageCam engine** (time / the engine's, median of per-round "
        "ratios; memory and cold start in fresh processes at 1 thread):",
        "",
    ]
    out += _table(
        ["Runtime", "Threads", "Inference ms", "time / engine's", "Max abs diff vs eager",
         "RSS after 20 frames", "cold start"],
        runtime_ratio_rows(result),
    )  # fmt: skip
    footprint = peers.get("footprint", [])
    out += ["**Fresh processes** (import the runtime, load the model, run once; medians):", ""]
    out += _table(
        ["Runtime", "Processes", "import ms", "load ms", "first run ms", "cold start ms", "RSS MB",
         "peak RSS MB", "Max abs diff vs eager"],
        [
            [r["runtime"], str(r["processes"]), f"{r['import_ms']:,.1f}", f"{r['load_ms']:,.1f}",
             f"{r['first_run_ms']:,.1f}", f"{cold_start_ms(r):,.0f}", f"{r['rss_mb']:.1f}",
             f"{r['peak_rss_mb']:.1f}",
             f"{r.get('max_abs_diff', float('nan')):.2g}"]
            if r["status"] == "ok" else [r["runtime"], "–", "–", "–", "–", "–", "–", "–",
                                         f"failed: {r['reason']}"]
            for r in footprint
        ],
    )  # fmt: skip
    flows = peers.get("end_to_end", [])
    if flows:
        out += ["**End to end vs a LiteRT pipeline** (same JPEG bytes, same preprocessing, "
                "debounced states out; median / p90 ms):", ""]  # fmt: skip
        rows = []
        for flow in flows:
            litert = _row(flows, "pipeline", "litert-pipeline", flow["threads"])
            ratio = paired_ratio(flow, litert) if litert else None
            e2e = flow["end_to_end"]
            rows.append([flow["pipeline"], f"{flow['size'][0]}x{flow['size'][1]}",
                         str(flow["threads"]), f"{e2e['median']:.2f} / {e2e['p90']:.2f}",
                         _x(ratio)])  # fmt: skip
        out += _table(["Pipeline", "Image", "Threads", "end to end", "time / LiteRT's"], rows)
    elif peers.get("end_to_end_skipped"):
        out += [f"End to end vs LiteRT: not measured ({peers['end_to_end_skipped']}).", ""]
    return out


def draw_peers(inference: Any, memory: Any, result: dict[str, Any]) -> None:
    """Two chart panels: time relative to the engine per runtime; RSS and import time."""
    # eager (5-30x) would flatten the others' bars: it has its own in the first panel
    runtimes = [r for r in result.get("runtimes", []) if r["status"] == "ok"
                and r["runtime"] != EAGER]  # fmt: skip
    names = list(dict.fromkeys(r["runtime"] for r in runtimes))
    threads = sorted({r["threads"] for r in runtimes})
    width = 0.8 / max(1, len(threads))
    for index, count in enumerate(threads):
        engine = _row(runtimes, "runtime", ET_FP32, count)
        values = []
        for name in names:
            row = _row(runtimes, "runtime", name, count)
            values.append((paired_ratio(row, engine) if row and engine else None) or 0.0)
        inference.bar([i + index * width for i in range(len(names))], values, width,
                      label=f"{count} thread{'s' if count > 1 else ''}")  # fmt: skip
    inference.axhline(1.0, color="black", linewidth=0.8)
    inference.set_xticks([i + width * (len(threads) - 1) / 2 for i in range(len(names))])
    inference.set_xticklabels([n.replace("executorch-", "ET ") for n in names], rotation=20,
                              ha="right")  # fmt: skip
    inference.set_ylabel("inference time / GarageCam engine's")
    inference.set_title("Paired per-round ratios (lower is faster)")
    inference.legend()

    probes = {r["runtime"]: r for r in (result.get("peers") or {}).get("footprint", [])
              if r["status"] == "ok"}  # fmt: skip
    kinds = [k for k in probes if not k.endswith(PIPELINE)]
    for offset, suffix, label in ((-0.2, "", "runtime alone"),
                                  (0.2, PIPELINE, "+ preprocessing a frame")):  # fmt: skip
        rows = [probes.get(kind + suffix) for kind in kinds]
        bars = memory.bar([i + offset for i in range(len(kinds))],
                          [r["rss_mb"] if r else 0.0 for r in rows], 0.4, label=label)  # fmt: skip
        for bar, row in zip(bars, rows, strict=True):
            if row:
                memory.annotate(f"{row['rss_mb']:.0f}\n{cold_start_ms(row):.0f} ms",
                                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", fontsize=7)  # fmt: skip
    values = [r["rss_mb"] for r in probes.values()]
    if values and max(values) > 10 * min(values):
        memory.set_yscale("log")  # the official runtime's ~800 MB next to ~40 MB ones
    memory.set_xticks(list(range(len(kinds))))
    memory.set_xticklabels(kinds, rotation=20, ha="right")
    memory.set_ylabel("RSS with the model loaded, MB")
    memory.set_title("Fresh processes: RSS (MB) and cold start (ms)")
    memory.legend(loc="upper left", fontsize=8)
