"""Encoded test images made on the fly: JPEG/PNG bytes in every mode a camera might send.

Shared by the whole test suite (preprocessing, engines, runner, Home Assistant). Everything is
deterministic and generated in memory: no files, no downloads.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageDraw

Color = tuple[int, int, int]

RED: Color = (220, 30, 30)
BLUE: Color = (30, 40, 220)
GREY: Color = (128, 128, 128)


def encode(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """Encode a PIL image to bytes (`fmt` is a Pillow format name: JPEG, PNG, WEBP, ...)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def solid(width: int, height: int, color: Color = GREY, mode: str = "RGB") -> Image.Image:
    """A single-colour image in `mode` (RGB, L, CMYK, RGBA, P, LA, I;16)."""
    image = Image.new("RGB", (width, height), color)
    if mode == "I;16":
        # 16-bit grey, e.g. a thermal/IR frame: scale 8-bit grey to the full 16-bit range.
        grey = image.convert("L").getpixel((0, 0))
        assert isinstance(grey, int)
        return Image.new("I;16", (width, height), grey * 257)
    return image if mode == "RGB" else image.convert(mode)


def make_jpeg(
    width: int,
    height: int,
    color: Color = GREY,
    mode: str = "RGB",
    quality: int = 90,
) -> bytes:
    """JPEG bytes of a single-colour image; `mode` RGB, L (grayscale/IR) or CMYK."""
    return encode(solid(width, height, color, mode), "JPEG", quality=quality)


def make_png(width: int, height: int, color: Color = GREY, mode: str = "RGB") -> bytes:
    """PNG bytes of a single-colour image; `mode` RGB, RGBA, LA, L, P or I;16."""
    return encode(solid(width, height, color, mode), "PNG")


def split_image(width: int, height: int, left: Color = RED, right: Color = BLUE) -> Image.Image:
    """Left half one colour, right half another (for region-of-interest tests)."""
    image = Image.new("RGB", (width, height), left)
    image.paste(right, (width // 2, 0, width, height))
    return image


def scene(width: int = 640, height: int = 360, door_open: bool = False) -> Image.Image:
    """A garage-like scene with edges, gradients and texture so that resizing is observable.

    Sky gradient, a brick-textured wall, a striped (closed) or dark (open) door, a car-like
    shape and a driveway: roughly what a snapshot camera sees, at any resolution.
    """
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # sky to ground gradient
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)], fill=(int(90 + 100 * t), int(140 + 60 * t), int(210 - 90 * t))
        )
    wall = (int(width * 0.1), int(height * 0.2), int(width * 0.9), int(height * 0.8))
    draw.rectangle(wall, fill=(170, 110, 80))
    brick_h = max(2, height // 40)
    brick_w = max(4, width // 25)
    for row, y in enumerate(range(wall[1], wall[3], brick_h)):
        draw.line([(wall[0], y), (wall[2], y)], fill=(90, 60, 50))
        offset = (brick_w // 2) * (row % 2)
        for x in range(wall[0] + offset, wall[2], brick_w):
            draw.line([(x, y), (x, min(wall[3], y + brick_h))], fill=(90, 60, 50))
    door = (int(width * 0.3), int(height * 0.35), int(width * 0.7), int(height * 0.8))
    if door_open:
        draw.rectangle(door, fill=(25, 25, 30))
    else:
        draw.rectangle(door, fill=(200, 200, 195))
        slat = max(2, height // 30)
        for y in range(door[1], door[3], slat):
            draw.line([(door[0], y), (door[2], y)], fill=(120, 120, 120), width=max(1, slat // 4))
    draw.rectangle((0, int(height * 0.8), width, height), fill=(95, 95, 100))
    car = (int(width * 0.05), int(height * 0.62), int(width * 0.28), int(height * 0.9))
    draw.rounded_rectangle(car, radius=max(1, height // 30), fill=(30, 60, 160))
    wheel = max(2, height // 18)
    for cx in (car[0] + (car[2] - car[0]) // 4, car[2] - (car[2] - car[0]) // 4):
        draw.ellipse((cx - wheel, car[3] - wheel, cx + wheel, car[3] + wheel), fill=(15, 15, 15))
    return image


def scene_jpeg(width: int = 640, height: int = 360, quality: int = 90, **kwargs: Any) -> bytes:
    return encode(scene(width, height, **kwargs), "JPEG", quality=quality)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first `keep` fraction of `data`: a download that was cut off."""
    return data[: max(1, int(len(data) * keep))]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb's header).

    Only the header is valid; the data would fail to decode, so a test passing proves that the
    size check happens before decoding.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame size in a baseline JPEG's SOF0 header (the pixel data stays small)."""
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "not a baseline JPEG"
    # SOF0: marker(2) length(2) precision(1) height(2) width(2)
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]
