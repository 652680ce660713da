"""Draw the add-on's icon.png (128x128) and logo.png (250x100) with Pillow.

    .venv/bin/python scripts/make_addon_images.py    # writes addon/icon.png, addon/logo.png

A garage (roof, door panels) with a camera's lens in the gable; drawn at 4x and reduced, so
the edges are smooth. Deterministic: the same files every run.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ADDON = Path(__file__).resolve().parents[1] / "addon"
BLUE = (3, 169, 244)  # Home Assistant's primary blue
DARK = (28, 48, 66)
DOOR = (236, 241, 245)
SCALE = 4


def _garage(draw: ImageDraw.ImageDraw, left: int, top: int, size: int) -> None:
    """The garage drawn in the square (left, top, size) at the current scale."""
    s = size / 100
    x = lambda v: left + v * s  # noqa: E731 (local coordinate helpers)
    y = lambda v: top + v * s  # noqa: E731
    draw.polygon([(x(50), y(6)), (x(96), y(40)), (x(4), y(40))], fill=BLUE)  # roof
    draw.rectangle([x(12), y(38), x(88), y(94)], fill=BLUE)  # walls
    draw.rectangle([x(22), y(50), x(78), y(94)], fill=DOOR)  # door opening
    for row in range(4):  # door panels
        top_ = 53 + row * 10
        draw.rectangle([x(25), y(top_), x(75), y(top_ + 7)], fill=DARK)
    draw.ellipse([x(41), y(18), x(59), y(36)], fill=DOOR)  # camera lens in the gable
    draw.ellipse([x(46), y(23), x(54), y(31)], fill=DARK)


def icon() -> Image.Image:
    big = Image.new("RGBA", (128 * SCALE, 128 * SCALE), (0, 0, 0, 0))
    _garage(ImageDraw.Draw(big), 4 * SCALE, 4 * SCALE, 120 * SCALE)
    return big.resize((128, 128), Image.Resampling.LANCZOS)


def logo() -> Image.Image:
    big = Image.new("RGBA", (250 * SCALE, 100 * SCALE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    _garage(draw, 4 * SCALE, 6 * SCALE, 88 * SCALE)
    font = ImageFont.load_default(size=29 * SCALE)
    draw.text((98 * SCALE, 50 * SCALE), "GarageCam", font=font, fill=DARK, anchor="lm")
    return big.resize((250, 100), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    icon().save(ADDON / "icon.png", optimize=True)
    logo().save(ADDON / "logo.png", optimize=True)
    print(f"wrote {ADDON / 'icon.png'} and {ADDON / 'logo.png'}")
