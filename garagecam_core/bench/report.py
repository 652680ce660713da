"""Bench results as JSON (everything), a Markdown table (docs/benchmarks.md) and a PNG chart."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .machine import cpu_features
from .peers.report import draw_peers, peers_markdown

_STAGES = ("decode", "preprocess", "inference", "debounce", "call_overhead", "end_to_end")
_MET = {True: "✅ met", False: "❌ not met", None: "reported"}


def _verdict(goal: dict[str, Any]) -> str:
    if goal["measured"] is None:
        return "not measured"
    return _MET[goal["met"]]


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _ms(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "–"
    return f"{summary['median']:.2f} / {summary['p90']:.2f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _size(row: dict[str, Any]) -> str:
    """The frame's name (several frames may share a size), else its size."""
    return str(row.get("image") or f"{row['size'][0]}x{row['size'][1]}")


def _load(values: list[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "n/a"


def machine_line(machine: dict[str, Any]) -> str:
    """CPU, its SIMD features (what decides int8 vs fp32 and runtime against runtime) and the
    load average around the run: printed with every result."""
    features = machine.get("cpu_features") or cpu_features(machine.get("cpu_flags", []))
    return (
        f"CPU: {machine['cpu_model']}, {machine['usable_cpus']} cores, {machine['machine']}; "
        f"{features}. Load average (1/5/15 min) at the start: "
        f"{_load(machine.get('load_average_start'))}, at the end: "
        f"{_load(machine.get('load_average_end'))}."
    )


def _image_facts(result: dict[str, Any]) -> str:
    images = result.get("images") or []
    return "; ".join(
        f"{i['name']}: {i['size'][0]}x{i['size'][1]}, {i['bytes'] / 1024:,.0f} KiB"
        + (f", JPEG quality ~{i['quality']}" if i.get("quality") else "")
        for i in images
    )


def to_markdown(result: dict[str, Any]) -> str:
    model, machine = result["model"], result["machine"]
    versions = machine["versions"]
    out = [
        f"Model `{model['name']}` ({model['weights']}), input {model['input_size'][1]}x"
        f"{model['input_size'][0]}; Python "
        f"{machine['python']}, torch {versions.get('torch')}, executorch "
        f"{versions.get('executorch')}, onnxruntime {versions.get('onnxruntime') or 'absent'}. "
        f"Times in ms, median / p90 over {result['config']['runs']} runs after "
        f"{result['config']['warmup']} warm-up runs.",
        "",
        machine_line(machine),
        "",
        f"Frames: {_image_facts(result) or 'n/a'}.",
        "",
        "**Pipeline per stage** (bytes in, debounced states out):",
        "",
    ]
    out += _table(
        ["Image", "Engine", "Threads", *(s.replace("_", " ") for s in _STAGES)],
        (
            [_size(r), r["engine"], str(r["threads"]), *(_ms(r["stages"].get(s)) for s in _STAGES)]
            for r in result.get("pipeline", [])
        ),
    )
    out += ["**Naive pipeline** (full decode, resize, PyTorch eager):", ""]
    out += _table(
        ["Image", "Threads", "decode + resize", "inference", "end to end"],
        (
            [_size(r), str(r["threads"])]
            + [_ms(r["stages"].get(s)) for s in ("decode_preprocess", "inference", "end_to_end")]
            for r in result.get("naive", [])
        ),
    )
    out += ["**Runtimes side by side** (same network, weights, input and threads):", ""]
    out += _table(
        ["Runtime", "Threads", "Inference", "vs eager", "Max abs diff (tolerance)", "Status"],
        (_runtime_row(r, result) for r in result.get("runtimes", [])),
    )
    binding = result.get("binding") or {}
    out += ["**garagecam-runtime binding vs official ExecuTorch runtime** (1 thread):", ""]
    out += _table(
        ["Program", "Runtime", "Inference", "Bit-identical", "Status"],
        (
            [r["program"], r["runtime"], _ms(r.get("inference")),
             {True: "yes", False: "NO", None: "n/a"}[r.get("bit_identical")],
             r["status"] if r["status"] == "ok" else f"skipped: {r['reason']}"]
            for r in binding.get("inference", [])
        ),
    )  # fmt: skip
    out += ["**Fresh process per runtime** (best of 2):", ""]
    out += _table(
        ["Runtime", "Process to first result", "Import + load", "RSS", "torch imported"],
        (
            [r["runtime"], f"{_num(r.get('process_to_first_result_s'))} s",
             f"{_num(r.get('import_and_load_s'))} s", f"{_num(r.get('rss_mb'), 1)} MB",
             str(r.get("torch_imported", r.get("reason")))]
            for r in binding.get("cold_start", [])
        ),
    )  # fmt: skip
    out += peers_markdown(result)
    out += ["**Model, memory, capacity:**", ""]
    out += _table(["Figure", "Value"], _facts_rows(result))
    out += ["**Goals** (ratios from this one run):", ""]
    out += _table(
        ["Goal", "Target", "Measured", "Result"],
        (
            [g["goal"], g["target"], f"{_num(g['measured'])} {g['unit']}", _verdict(g)]
            for g in result.get("goals", [])
        ),
    )
    return "\n".join(out)


def _runtime_row(row: dict[str, Any], result: dict[str, Any]) -> list[str]:
    if row["status"] != "ok":
        return [
            row["runtime"],
            str(row["threads"]),
            "–",
            "–",
            "–",
            f"{row['status']}: {row['reason']}",
        ]
    eager = next(
        (
            r for r in result.get("runtimes", [])
            if r["runtime"] == "pytorch-eager" and r["threads"] == row["threads"]
            and r["status"] == "ok"
        ),
        None,
    )  # fmt: skip
    speedup = eager["inference"]["median"] / row["inference"]["median"] if eager else None
    diff = f"{row['max_abs_diff']:.2g} ({row['tolerance']:g})"
    status = "ok" if row["agrees"] else "DISAGREES"
    return [
        row["runtime"], str(row["threads"]), _ms(row["inference"]),
        f"{_num(speedup)}x" if speedup else "–", diff, status,
    ]  # fmt: skip


def _facts_rows(result: dict[str, Any]) -> list[list[str]]:
    model, rows = result["model"], []
    if model.get("params") is not None:
        rows.append(["Parameters", f"{model['params']:,}"])
    if model.get("macs") is not None:
        rows.append(["MACs per frame", f"{model['macs'] / 1e6:,.1f} M"])
    pte = model.get("pte", {})
    rows.append(
        [f"`{Path(pte.get('path', '?')).name}` size", f"{pte.get('size_bytes', 0) / 1024:,.1f} KiB"]
    )
    if "delegate_calls" in pte:
        rows.append(
            ["XNNPACK delegate calls / ops left to portable kernels",
             f"{pte['delegate_calls']} / {pte['portable_kernel_calls']}"]
        )  # fmt: skip
    for key, title in (("fp32_export", "fp32"), ("int8_export", "int8")):
        export = model.get(key)
        if export:
            rows.append(
                [f"{title} export: size, ops delegated to XNNPACK / total",
                 f"{export['size_bytes'] / 1024:,.1f} KiB, {export['delegated_ops']} / "
                 f"{export['total_ops']}"]
            )  # fmt: skip
    int8 = result.get("int8") or {}
    if int8.get("accuracy_fp32") is not None:
        rows.append(
            [f"Accuracy on {int8['scenes']} generated scenes, fp32 / int8",
             f"{int8['accuracy_fp32']:.1f} % / {int8['accuracy_int8']:.1f} %"]
        )  # fmt: skip
    memory = result.get("memory") or {}
    if memory.get("worker_rss_mb") is not None:
        rows.append(
            [f"Worker RSS while classifying, after {memory.get('frames_classified', 0):,} frames "
             f"({memory['threads']} thread(s))", f"{memory['worker_rss_mb']:.1f} MB"]
        )  # fmt: skip
        if memory.get("worker_rss_loaded_mb") is not None:
            rows.append(
                ["Worker RSS right after loading, before any frame",
                 f"{memory['worker_rss_loaded_mb']:.1f} MB"]
            )  # fmt: skip
        rows.append(["Worker peak RSS", f"{_num(memory.get('worker_peak_rss_mb'), 1)} MB"])
        rows.append(
            [f"Worker RSS growth over {memory['iterations']:,} classifications",
             f"{memory['growth_mb']:+.2f} MB"]
        )  # fmt: skip
    for cap in result.get("capacity", []):
        rows.append(
            [f"Capacity, {cap['engine']} engine, {cap['image']}, 1 thread",
             f"{cap['classifications_per_s_per_core']:.1f} classifications/s per core = "
             f"{cap['cameras_at_10s_per_core']:,.0f} cameras at a 10 s interval per core"]
        )  # fmt: skip
    return rows


def write_markdown(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_markdown(result) + "\n", encoding="utf-8")


def write_plot(result: dict[str, Any], path: Path) -> None:
    """Four panels: inference per runtime and thread count; end to end, ours vs naive;
    inference relative to the engine; memory and import time in fresh processes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    (left, right), (peer_times, peer_memory) = axes
    runtimes = [r for r in result.get("runtimes", []) if r["status"] == "ok"]
    names = list(dict.fromkeys(r["runtime"] for r in runtimes))
    threads = sorted({r["threads"] for r in runtimes})
    width = 0.8 / max(1, len(threads))
    for index, count in enumerate(threads):
        values = [
            next((r["inference"]["median"] for r in runtimes
                  if r["runtime"] == name and r["threads"] == count), 0.0)
            for name in names
        ]  # fmt: skip
        positions = [i + index * width for i in range(len(names))]
        left.bar(positions, values, width, label=f"{count} thread{'s' if count > 1 else ''}")
    left.set_xticks([i + width * (len(threads) - 1) / 2 for i in range(len(names))])
    left.set_xticklabels([n.replace("executorch-", "ET ") for n in names], rotation=20, ha="right")
    left.set_ylabel("inference, median ms (lower is better)")
    left.set_title("Same network, weights and input")
    left.legend()

    labels, ours, naive = [], [], []
    for row in result.get("naive", []):
        local = next(
            (p for p in result.get("pipeline", [])
             if p["size"] == row["size"] and p["threads"] == row["threads"]
             and p["engine"] == "in-process"),
            None,
        )  # fmt: skip
        if local:
            labels.append(f"{_size(row)}\n{row['threads']} thr")
            ours.append(local["stages"]["end_to_end"]["median"])
            naive.append(row["stages"]["end_to_end"]["median"])
    positions = list(range(len(labels)))
    right.bar([p - 0.2 for p in positions], naive, 0.4, label="naive (full decode + eager)")
    right.bar([p + 0.2 for p in positions], ours, 0.4, label="GarageCam (in-process engine)")
    right.set_xticks(positions)
    right.set_xticklabels(labels)
    right.set_ylabel("end to end, median ms (lower is better)")
    right.set_title("Snapshot bytes to debounced states")
    right.legend()
    draw_peers(peer_times, peer_memory, result)
    fig.suptitle(f"garagecam bench: {result['model']['name']} on {result['machine']['cpu_model']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
