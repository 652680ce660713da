"""Draw docs/images/architecture.png, the data-flow picture of the README and the manual.

Run from the repository root after changing a stage: `.venv/bin/python docs/architecture.py`
(needs matplotlib, part of the `train` and `bench` extras). The PNG is committed: the README
shows it by its absolute URL, so it renders on PyPI and in HACS.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parent / "images" / "architecture.png"

# (title, lines) per stage, left to right: the layers of the design, no back-edges.
STAGES = [
    ("Snapshot source", ["Home Assistant camera", "HTTP snapshot URL", "ONVIF camera", "file"]),
    ("Preprocess", ["JPEG decode with", "DCT scaling", "region of interest", "resize, normalise"]),
    ("Engine", ["ExecuTorch .pte", "worker process,", "in-process, or remote", "runner over HTTP"]),
    ("Debouncer", ["hysteresis", "(ON / OFF thresholds)", "confirm frames", "UNKNOWN at start"]),
    ("Sinks", ["Home Assistant", "binary sensors", "MQTT discovery + states", "HTTP API, metrics"]),
]
EDGES = ["image bytes", "tensor", "probabilities", "ON / OFF"]
CONSUMERS = "HomeKit bridges (Homebridge, Scrypted), Home Assistant's MQTT integration"

BOX_W, BOX_H, GAP = 2.3, 2.0, 0.75
ACCENT, INK, MUTED = "#3f51b5", "#1a1a1a", "#555555"


def draw(out: Path = OUT) -> None:
    width = len(STAGES) * BOX_W + (len(STAGES) - 1) * GAP
    fig = plt.figure(figsize=(width + 0.4, BOX_H + 1.3), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-1.0, BOX_H + 0.3)
    ax.axis("off")
    for index, (title, lines) in enumerate(STAGES):
        x = index * (BOX_W + GAP)
        ax.add_patch(
            FancyBboxPatch(
                (x, 0),
                BOX_W,
                BOX_H,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor="#e8eaf6",
                edgecolor=ACCENT,
                linewidth=1.6,
            )
        )
        ax.text(
            x + BOX_W / 2,
            BOX_H - 0.3,
            title,
            ha="center",
            va="center",
            fontsize=12.5,
            fontweight="bold",
            color=ACCENT,
        )
        for row, line in enumerate(lines):
            ax.text(
                x + BOX_W / 2,
                BOX_H - 0.72 - row * 0.33,
                line,
                ha="center",
                va="center",
                fontsize=9.5,
                color=INK,
            )
        if index < len(EDGES):
            start, end = x + BOX_W + 0.04, x + BOX_W + GAP - 0.04
            ax.add_patch(
                FancyArrowPatch(
                    (start, BOX_H / 2),
                    (end, BOX_H / 2),
                    arrowstyle="-|>",
                    mutation_scale=16,
                    color=ACCENT,
                    linewidth=1.6,
                )
            )
            ax.text(
                (start + end) / 2,
                BOX_H / 2 + 0.2,
                EDGES[index],
                ha="center",
                va="bottom",
                fontsize=8,
                color=MUTED,
                rotation=90,
            )
    sinks_x = (len(STAGES) - 1) * (BOX_W + GAP) + BOX_W / 2
    ax.add_patch(
        FancyArrowPatch(
            (sinks_x, -0.05),
            (sinks_x, -0.45),
            arrowstyle="-|>",
            mutation_scale=14,
            color=ACCENT,
            linewidth=1.4,
        )
    )
    ax.text(
        width,
        -0.72,
        f"MQTT is read by {CONSUMERS}",
        ha="right",
        va="center",
        fontsize=9.5,
        color=MUTED,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" text chunk: the same drawing gives the same bytes on every matplotlib.
    fig.savefig(out, facecolor="white", metadata={"Software": None})
    plt.close(fig)


if __name__ == "__main__":
    draw()
    print(f"wrote {OUT}")
