"""Draw docs/images/architecture.png, the data-flow picture of the README and the manual.

Run from the repository root after changing a stage: `.venv/bin/python docs/architecture.py`
(needs matplotlib, part of the `train` and `bench` extras). The PNG is committed: the README
shows it by its absolute URL, so it renders on PyPI and in HACS. Three columns, not one long
row, so that the text stays readable at the ~800 px those pages give an image.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parent / "images" / "architecture.png"

# name: (column, row, lines). The stages of the design in data-flow order, no back-edges;
# the second row runs right to left so that each arrow joins neighbours.
BOXES = {
    "Snapshot source": (0, 0, ["Home Assistant camera", "HTTP snapshot URL", "ONVIF camera, file"]),
    "Preprocess": (
        1,
        0,
        ["JPEG decode (DCT scaling)", "region of interest crop", "resize, normalise"],
    ),
    "Engine": (2, 0, ["ExecuTorch .pte: worker", "process, in-process or", "remote runner (HTTP)"]),
    "Debouncer": (2, 1, ["hysteresis (ON / OFF", "thresholds), confirm", "frames, UNKNOWN start"]),
    "Sinks": (1, 1, ["Home Assistant entities", "MQTT discovery + states", "HTTP API, metrics"]),
    "Read by": (0, 1, ["Home Assistant", "HomeKit bridges over MQTT", "(Homebridge, Scrypted)"]),
}
EDGES = [
    ("Snapshot source", "Preprocess", "image bytes"),
    ("Preprocess", "Engine", "tensor"),
    ("Engine", "Debouncer", "probabilities"),
    ("Debouncer", "Sinks", "ON / OFF"),
    ("Sinks", "Read by", ""),
]
BOX_W, BOX_H, GAP_X, GAP_Y = 2.75, 1.55, 1.1, 0.75
ACCENT, INK, MUTED = "#3f51b5", "#1a1a1a", "#555555"


def corner(name: str) -> tuple[float, float]:
    column, row, _ = BOXES[name]
    return column * (BOX_W + GAP_X), (1 - row) * (BOX_H + GAP_Y)


def draw(out: Path = OUT) -> None:
    width = 3 * BOX_W + 2 * GAP_X
    height = 2 * BOX_H + GAP_Y
    fig = plt.figure(figsize=(width + 0.3, height + 0.3), dpi=120)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.15, width + 0.15)
    ax.set_ylim(-0.15, height + 0.15)
    ax.axis("off")
    for name, (_, _, lines) in BOXES.items():
        x, y = corner(name)
        consumer = name == "Read by"  # outside GarageCam: drawn dashed
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                BOX_W,
                BOX_H,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor="white" if consumer else "#e8eaf6",
                edgecolor=MUTED if consumer else ACCENT,
                linestyle="--" if consumer else "-",
                linewidth=1.8,
            )
        )
        ax.text(
            x + BOX_W / 2,
            y + BOX_H - 0.3,
            name,
            ha="center",
            va="center",
            fontsize=15,
            fontweight="bold",
            color=MUTED if consumer else ACCENT,
        )
        for index, line in enumerate(lines):
            ax.text(
                x + BOX_W / 2,
                y + BOX_H - 0.68 - index * 0.3,
                line,
                ha="center",
                va="center",
                fontsize=11.5,
                color=INK,
            )
    for source, target, label in EDGES:
        (x0, y0), (x1, y1) = corner(source), corner(target)
        if y0 == y1:  # same row: from one side to the other
            left_to_right = x1 > x0
            start = (x0 + (BOX_W if left_to_right else 0), y0 + BOX_H / 2)
            end = (x1 + (0 if left_to_right else BOX_W), y1 + BOX_H / 2)
            label_at, align = ((start[0] + end[0]) / 2, start[1] + 0.12), "center"
        else:  # down to the next row
            start, end = (x0 + BOX_W / 2, y0), (x1 + BOX_W / 2, y1 + BOX_H)
            label_at, align = (start[0] + 0.12, (start[1] + end[1]) / 2), "left"
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=18,
                color=ACCENT,
                linewidth=1.8,
                shrinkA=3,
                shrinkB=3,
            )
        )
        ax.text(*label_at, label, ha=align, va="bottom", fontsize=10.5, color=MUTED)
    out.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" text chunk: the same drawing gives the same bytes on every matplotlib.
    fig.savefig(out, facecolor="white", metadata={"Software": None})
    plt.close(fig)


if __name__ == "__main__":
    draw()
    print(f"wrote {OUT}")
