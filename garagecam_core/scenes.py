"""Synthetic garage scenes: a demo and test aid, not a substitute for real snapshots.

A camera looks at a garage front: a wall with a door opening, a driveway, sometimes a car.
Labels are `door_open` (dark interior visible, door rolled up) and `car_present`. Frames vary
in lighting (day, IR night), colours, geometry, viewpoint (shift, zoom, rotation), camera
noise and JPEG quality. Every frame is a pure function of `(seed, index)`, so a dataset is
reproducible and its first N frames do not depend on how many are generated.

Scenes are drawn at a reduced scale (the model sees ~160 px anyway) and resized to the
camera resolution before JPEG encoding, which keeps generation at tens of ms per frame.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .errors import ConfigError

LABELS = ("door_open", "car_present")
DEVICE_CLASSES = {"door_open": "garage_door", "car_present": "occupancy"}
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (2560, 1440))
_DRAW_WIDTH = 800  # scene is drawn at this width, then resized to the camera resolution
_CANVAS_MARGIN = 1.25  # drawn canvas is larger than the frame so viewpoint changes stay filled

RGB = tuple[int, int, int]
_WALLS: tuple[RGB, ...] = (
    (196, 184, 160), (170, 150, 130), (150, 160, 165), (210, 205, 195), (120, 95, 80),
    (185, 190, 175), (140, 120, 100), (225, 220, 210),
)  # fmt: skip
_DOORS: tuple[RGB, ...] = (
    (235, 235, 230), (215, 210, 200), (150, 110, 75), (125, 92, 64), (120, 125, 130),
    (180, 185, 190), (100, 104, 110), (200, 190, 160),
)  # fmt: skip
_CARS: tuple[RGB, ...] = (
    (200, 30, 30), (20, 40, 120), (230, 230, 230), (25, 25, 25), (140, 145, 150),
    (60, 110, 60), (220, 190, 40), (90, 60, 40), (170, 170, 180), (40, 80, 140),
)  # fmt: skip
_LIGHT_CARS = tuple(c for c in _CARS if sum(c) / 3 > 80)


@dataclass(frozen=True)
class Scene:
    """One generated frame: JPEG bytes and its labels."""

    index: int
    jpeg: bytes
    size: tuple[int, int]
    door_open: bool
    car_present: bool
    night: bool

    @property
    def labels(self) -> dict[str, int]:
        return {"door_open": int(self.door_open), "car_present": int(self.car_present)}


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """Parse `1920x1080,2560x1440` into ((1920, 1080), (2560, 1440))."""
    sizes = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        width, sep, height = item.lower().partition("x")
        if not sep or not width.isdigit() or not height.isdigit():
            raise ConfigError(f"cannot read size {item!r}: use WIDTHxHEIGHT, e.g. 1920x1080")
        w, h = int(width), int(height)
        if not (64 <= w <= 8192 and 64 <= h <= 8192):
            raise ConfigError(f"size {item!r} must be from 64x64 to 8192x8192")
        sizes.append((w, h))
    if not sizes:
        raise ConfigError("no sizes given")
    return tuple(sizes)


def _jitter(rng: np.random.Generator, color: RGB, amount: int = 18) -> RGB:
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)
    return (r, g, b)


def _shade(color: RGB, factor: float) -> RGB:
    r, g, b = (int(np.clip(c * factor, 0, 255)) for c in color)
    return (r, g, b)


def _pick(rng: np.random.Generator, palette: Sequence[RGB]) -> RGB:
    return palette[int(rng.integers(len(palette)))]


def _draw_wall(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, ground: int) -> RGB:
    wall = _jitter(rng, _pick(rng, _WALLS))
    draw.rectangle((0, 0, w, ground), fill=wall)
    if rng.random() < 0.6:  # siding lines
        step = int(rng.integers(8, 16))
        line = _shade(wall, 0.85)
        for y in range(int(rng.integers(0, step)), ground, step):
            draw.line((0, y, w, y), fill=line, width=1)
    else:  # bricks or blocks
        step = int(rng.integers(12, 22))
        line = _shade(wall, 0.8)
        for row, y in enumerate(range(0, ground, step)):
            draw.line((0, y, w, y), fill=line)
            offset = (row % 2) * step
            for x in range(offset, w, step * 2):
                draw.line((x, y, x, y + step), fill=line)
    return wall


def _draw_ground(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, ground: int
) -> None:
    base = int(rng.integers(70, 170))
    tint = int(rng.integers(-8, 9))
    for y in range(ground, h):  # darker toward the horizon line, like a lit driveway
        f = 0.8 + 0.3 * (y - ground) / max(1, h - ground)
        v = int(np.clip(base * f, 0, 255))
        draw.line((0, y, w, y), fill=(v + tint, v, v - tint))
    if rng.random() < 0.5:  # expansion joints of a concrete driveway
        joint = (base - 25, base - 25, base - 25)
        for _ in range(int(rng.integers(1, 4))):
            y = int(rng.integers(ground + 5, h))
            draw.line((0, y, w, y), fill=joint, width=2)


def _draw_closed_door(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, int, int, int]
) -> None:
    left, top, right, bottom = box
    door = _jitter(rng, _pick(rng, _DOORS), 12)
    draw.rectangle(box, fill=door)
    rows = int(rng.integers(4, 6))
    cols = int(rng.integers(3, 9))
    row_h = (bottom - top) / rows
    col_w = (right - left) / cols
    windows = rng.random() < 0.35
    dark, light = _shade(door, 0.78), _shade(door, 1.12)
    for r in range(rows):
        y0 = top + r * row_h
        draw.line((left, round(y0), right, round(y0)), fill=dark, width=2)
        for c in range(cols):
            x0 = left + c * col_w
            inset = max(2.0, col_w * 0.12)
            panel = (
                round(x0 + inset),
                round(y0 + inset),
                round(x0 + col_w - inset),
                round(y0 + row_h - inset),
            )
            if windows and r == 0:
                glass = _jitter(rng, (45, 55, 65), 10)
                draw.rectangle(panel, fill=glass, outline=dark)
                continue
            if rng.random() < 0.85:
                draw.rectangle(panel, outline=dark, width=1)
                draw.line((panel[0], panel[1], panel[2], panel[1]), fill=light)
    if rng.random() < 0.5:  # handle
        cx = (left + right) // 2
        draw.rectangle((cx - 6, bottom - 14, cx + 6, bottom - 10), fill=_shade(door, 0.5))


def _draw_open_door(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, int, int, int]
) -> None:
    left, top, right, bottom = box
    height = bottom - top
    base = int(rng.integers(10, 50))
    for y in range(top, bottom):  # interior: dark, a bit lighter toward the floor
        v = int(base + (y - top) / max(1, height) * rng.integers(5, 25))
        draw.line((left, y, right, y), fill=(v, v, int(v * 1.05)))
    back_wall = (left + (right - left) // 8, top, right - (right - left) // 8, bottom - height // 4)
    v = base + int(rng.integers(5, 25))
    draw.rectangle(back_wall, fill=(v, v, v))
    for _ in range(int(rng.integers(0, 4))):  # shelves, boxes, tools
        x0 = int(rng.integers(left, right - 10))
        y0 = int(rng.integers(top + height // 4, bottom - 8))
        bw, bh = int(rng.integers(10, 50)), int(rng.integers(6, 35))
        c = int(base + rng.integers(10, 60))
        draw.rectangle((x0, y0, min(right, x0 + bw), min(bottom, y0 + bh)), fill=(c, c - 5, c - 10))
    if rng.random() < 0.4:  # ceiling light
        cx = int(rng.integers(left + 20, right - 20))
        draw.rectangle((cx - 15, top + 4, cx + 15, top + 8), fill=(230, 230, 210))
    rolled = int(height * rng.uniform(0.0, 0.3))  # the raised door, seen edge-on at the top
    if rolled > 2:
        door = _jitter(rng, _pick(rng, _DOORS), 12)
        draw.rectangle((left, top, right, top + rolled), fill=door)
        draw.line((left, top + rolled, right, top + rolled), fill=_shade(door, 0.6), width=2)


def _draw_car(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    *,
    cx: float,
    bottom: float,
    width: float,
    side_view: bool,
    palette: Sequence[RGB],
) -> None:
    body = _jitter(rng, _pick(rng, palette), 15)
    glass = _jitter(rng, (40, 50, 60), 12)
    tyre = (20, 20, 22)
    if side_view:
        length, height = width, width * rng.uniform(0.28, 0.36)
        x0, x1 = cx - length / 2, cx + length / 2
        y_body = bottom - height * 0.55
        wheel_r = height * 0.22
        draw.rounded_rectangle(
            (x0, y_body, x1, bottom - wheel_r * 0.6), radius=height * 0.12, fill=body
        )
        cabin = [
            (x0 + length * 0.22, y_body),
            (x0 + length * 0.32, bottom - height),
            (x0 + length * 0.68, bottom - height),
            (x0 + length * 0.8, y_body),
        ]
        draw.polygon(cabin, fill=body)
        inner = [(x + (cx - x) * 0.1, y + (y_body - y) * 0.15) for x, y in cabin]
        draw.polygon(inner, fill=glass)
        draw.line((cx, bottom - height, cx, y_body), fill=body, width=3)
        for wx in (x0 + length * 0.2, x1 - length * 0.2):
            draw.ellipse((wx - wheel_r, bottom - 2 * wheel_r, wx + wheel_r, bottom), fill=tyre)
            hub = wheel_r * 0.45
            draw.ellipse(
                (wx - hub, bottom - wheel_r - hub, wx + hub, bottom - wheel_r + hub),
                fill=(150, 150, 155),
            )
        return
    # front or rear view
    height = width * rng.uniform(0.55, 0.7)
    x0, x1 = cx - width / 2, cx + width / 2
    y_body = bottom - height * 0.55
    wheel_w, wheel_h = width * 0.13, height * 0.18
    for wx in (x0 + width * 0.04, x1 - width * 0.04 - wheel_w):
        draw.rectangle((wx, bottom - wheel_h, wx + wheel_w, bottom), fill=tyre)
    draw.rounded_rectangle((x0, y_body, x1, bottom - wheel_h * 0.6), radius=width * 0.06, fill=body)
    draw.polygon(
        [
            (x0 + width * 0.08, y_body),
            (x0 + width * 0.2, bottom - height),
            (x1 - width * 0.2, bottom - height),
            (x1 - width * 0.08, y_body),
        ],
        fill=body,
    )
    draw.polygon(
        [
            (x0 + width * 0.13, y_body - 2),
            (x0 + width * 0.23, bottom - height * 0.93),
            (x1 - width * 0.23, bottom - height * 0.93),
            (x1 - width * 0.13, y_body - 2),
        ],
        fill=glass,
    )
    rear = rng.random() < 0.5
    lamp = (200, 20, 20) if rear else (240, 240, 220)
    lamp_y = y_body + height * 0.08
    for lx in (x0 + width * 0.05, x1 - width * 0.2):
        draw.rectangle((lx, lamp_y, lx + width * 0.15, lamp_y + height * 0.08), fill=lamp)
    plate_w = width * 0.22
    plate_y = y_body + height * 0.22
    draw.rectangle(
        (cx - plate_w / 2, plate_y, cx + plate_w / 2, plate_y + height * 0.08),
        fill=(235, 235, 225),
    )
    if not rear:
        draw.rectangle(
            (cx - width * 0.18, lamp_y, cx + width * 0.18, lamp_y + height * 0.1),
            fill=_shade(body, 0.4),
        )


def _draw_clutter(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    w: int,
    ground: int,
    door_box: tuple[int, ...],
) -> None:
    left, _, right, _ = door_box
    for _ in range(int(rng.integers(0, 3))):
        if rng.random() < 0.5:  # a bin beside the door
            x = (
                int(rng.integers(0, max(1, left - 30)))
                if rng.random() < 0.5
                else int(rng.integers(min(right + 5, w - 31), w - 30))
            )
            c = _jitter(rng, (50, 70, 55), 25)
            draw.rectangle((x, ground - 45, x + 28, ground + 5), fill=c)
            draw.rectangle((x - 2, ground - 50, x + 30, ground - 45), fill=_shade(c, 0.7))
        else:  # a bush
            x = int(rng.integers(0, w))
            r = int(rng.integers(15, 40))
            c = _jitter(rng, (50, 95, 45), 20)
            draw.ellipse((x - r, ground - r, x + r, ground + r // 2), fill=c)


def _draw_scene(
    rng: np.random.Generator, w: int, h: int, door_open: bool, car_present: bool
) -> Image.Image:
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    ground = int(h * rng.uniform(0.68, 0.8))
    _draw_wall(draw, rng, w, ground)
    _draw_ground(draw, rng, w, h, ground)
    door_w = w * rng.uniform(0.34, 0.5)
    door_h = door_w * rng.uniform(0.5, 0.68)
    cx = w * rng.uniform(0.42, 0.58)
    box = (round(cx - door_w / 2), round(ground - door_h), round(cx + door_w / 2), ground)
    trim = _jitter(rng, (230, 228, 220) if rng.random() < 0.6 else (90, 70, 50), 10)
    t = int(rng.integers(3, 8))
    draw.rectangle((box[0] - t, box[1] - t, box[2] + t, box[3]), fill=trim)
    if door_open:
        _draw_open_door(draw, rng, box)
    else:
        _draw_closed_door(draw, rng, box)
    _draw_clutter(draw, rng, w, ground, box)
    if car_present:
        side_view = rng.random() < 0.3
        if door_open and not side_view and rng.random() < 0.4:  # parked inside
            width = door_w * rng.uniform(0.55, 0.75)
            bottom = ground - door_h * rng.uniform(0.0, 0.08)
            palette = _LIGHT_CARS  # a black car in a black garage is a guess, not a label
        else:  # on the driveway, nearer the camera, its wheels inside the frame
            width = door_w * rng.uniform(0.65, 0.9) * (1.5 if side_view else 1.0)
            # The frame's lower edge is at ~0.83-0.9 of the canvas height (zoom, shift).
            bottom = ground + max(0.0, 0.82 * h - ground) * rng.uniform(0.1, 1.0)
            palette = _CARS
        car_cx = cx + door_w * rng.uniform(-0.2, 0.2)
        _draw_car(
            draw, rng, cx=car_cx, bottom=bottom, width=width, side_view=side_view, palette=palette
        )
    if rng.random() < 0.4:  # a cast shadow across part of the scene
        shadow = Image.new("L", (w, h), 0)
        sd = ImageDraw.Draw(shadow)
        x0 = int(rng.integers(-w // 4, w))
        sd.polygon(
            [(x0, 0), (x0 + int(rng.integers(50, w // 2)), 0), (x0 + w // 3, h), (x0 - w // 6, h)],
            fill=int(rng.integers(40, 110)),
        )
        img = Image.composite(Image.new("RGB", (w, h)), img, shadow)
    return img


def _viewpoint(rng: np.random.Generator, canvas: Image.Image, w: int, h: int) -> Image.Image:
    """Slight camera pose change: shift, zoom and roll around the canvas centre."""
    zoom = rng.uniform(1.0, 1.2)
    angle = math.radians(rng.uniform(-3.0, 3.0))
    cw, ch = canvas.size
    sx, sy = rng.uniform(-0.05, 0.05) * w, rng.uniform(-0.05, 0.05) * h
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    # output (u, v) -> canvas (a u + b v + c, d u + e v + f), rotating about the frame centre
    a, b, d, e = cos, -sin, sin, cos
    c = cw / 2 + sx - a * w / 2 - b * h / 2
    f = ch / 2 + sy - d * w / 2 - e * h / 2
    return canvas.transform(
        (w, h), Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR
    )


def _light(rng: np.random.Generator, img: Image.Image, night: bool) -> npt.NDArray[np.uint8]:
    """Apply day lighting or IR night rendering plus sensor noise; returns uint8 HxWx3."""
    arr = np.asarray(img, dtype=np.float32)
    h, w = arr.shape[:2]
    if night:
        gray = arr @ np.array([0.3, 0.45, 0.25], dtype=np.float32)  # IR reflectance differs
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.4, 0.8)
        r2 = ((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2
        falloff = np.clip(1.0 - rng.uniform(1.0, 2.5) * r2, 0.15, 1.0)  # IR LED cone
        gray = gray * falloff * rng.uniform(0.7, 1.3) + rng.uniform(0, 20)
        if rng.random() < 0.3:  # IR glow off a nearby surface
            gx, gy = w * rng.uniform(0, 1), h * rng.uniform(0, 0.3)
            g2 = ((xx - gx) / w) ** 2 + ((yy - gy) / h) ** 2
            gray += rng.uniform(40, 120) * np.exp(-g2 / rng.uniform(0.005, 0.03))
        gray += rng.normal(0.0, rng.uniform(4, 14), gray.shape).astype(np.float32)
        arr = np.repeat(gray[..., None], 3, axis=2)
    else:
        gain = rng.uniform(0.55, 1.3) * rng.uniform(0.9, 1.1, size=3).astype(np.float32)
        contrast = rng.uniform(0.75, 1.2)
        mean = arr.mean()
        arr = (arr - mean) * contrast + mean
        arr = arr * gain
        arr += rng.normal(0.0, rng.uniform(1.5, 6.0), arr.shape).astype(np.float32)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _timestamp(img: Image.Image, rng: np.random.Generator) -> None:
    """Camera on-screen date, as most cameras burn into their snapshots."""
    if rng.random() < 0.3:
        return
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(
            size=max(10, img.height // 30)
        )
    except (OSError, TypeError):  # Pillow without FreeType
        font = ImageFont.load_default()
    day, hour, minute = int(rng.integers(1, 29)), int(rng.integers(0, 24)), int(rng.integers(0, 60))
    text = f"2025-06-{day:02d} {hour:02d}:{minute:02d}:{int(rng.integers(0, 60)):02d}  GARAGE"
    ImageDraw.Draw(img).text((10, 8), text, fill=(255, 255, 255), font=font)


def generate_scene(
    seed: int,
    index: int,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    door_open: bool | None = None,
    car_present: bool | None = None,
) -> Scene:
    """Frame number `index` of the stream `seed`; labels are drawn at random unless given."""
    rng = np.random.default_rng([seed, index])
    door = bool(rng.random() < 0.5) if door_open is None else door_open
    car = bool(rng.random() < 0.5) if car_present is None else car_present
    night = bool(rng.random() < 0.35)
    width, height = sizes[int(rng.integers(len(sizes)))]
    draw_w = min(_DRAW_WIDTH, width)
    draw_h = max(8, round(draw_w * height / width))
    canvas = _draw_scene(
        rng, round(draw_w * _CANVAS_MARGIN), round(draw_h * _CANVAS_MARGIN), door, car
    )
    frame = _viewpoint(rng, canvas, draw_w, draw_h)
    if rng.random() < 0.3:  # slightly out of focus
        frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    img = Image.fromarray(_light(rng, frame, night))
    if (width, height) != (draw_w, draw_h):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    _timestamp(img, rng)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=int(rng.integers(55, 96)))
    return Scene(index, buffer.getvalue(), (width, height), door, car, night)


def iter_scenes(
    seed: int, count: int, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, start: int = 0
) -> Iterator[Scene]:
    for index in range(start, start + count):
        yield generate_scene(seed, index, sizes=sizes)


def write_dataset(
    out: Path,
    seed: int,
    count: int,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    progress: bool = False,
) -> Path:
    """Write `count` scenes as JPEGs plus `labels.csv` and `labels.yaml`; returns the CSV path.

    The layout is the one `garagecam train --data` reads.
    """
    if count < 1:
        raise ConfigError(f"count must be at least 1, got {count}")
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    scenes: Iterator[Scene] = iter_scenes(seed, count, sizes)
    if progress:
        try:  # tqdm comes with the train/export extras, not with the base package
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            scenes = tqdm(scenes, total=count, desc="scenes", unit="img")
    rows = []
    for scene in scenes:
        name = f"images/scene_{seed}_{scene.index:05d}.jpg"
        (out / name).write_bytes(scene.jpeg)
        rows.append((name, int(scene.door_open), int(scene.car_present)))
    csv_path = out / "labels.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", *LABELS))
        writer.writerows(rows)
    yaml_lines = [f"{label}:\n  device_class: {DEVICE_CLASSES[label]}\n" for label in LABELS]
    (out / "labels.yaml").write_text("".join(yaml_lines))
    return csv_path
