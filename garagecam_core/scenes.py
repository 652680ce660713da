"""Synthetic garage scenes: a demo and test aid, not a substitute for real snapshots.

A camera looks at a garage front: a wall with a door opening, a driveway, sometimes a car.
Labels are `door_open` (the opening shows the dark interior) and `car_present` (a car on the
driveway or inside, possibly partly out of the frame).

What a frame is made of, in two parts:

- the **garage** (`Garage`): wall colour and pattern, door type (sectional panels, roll-up
  slats, one-piece tilt) and colour, trim, the interior's shelves, clutter (bins, bikes,
  bushes, a window, a lamp), the camera's resolution, pose (height and angle: perspective
  keystone, roll, zoom, shift) and lens (barrel distortion of wide-angle lenses);
- the **moment**: door state, car (sedan, SUV/van, hatchback; front, rear or side view;
  colour; position, sometimes cut by the frame edge), people, light (day, sun with cast
  shadows, dusk, a lamp at night, IR night in grey), rain, focus, sensor noise and JPEG
  quality.

By default every frame draws a new garage. `garage=G` fixes the garage to the one of seed
`G` and varies only the moment: the frames of one camera at one new garage, what a user's
own dataset looks like. Every frame is a pure function of `(seed, index, garage)`, so a
dataset is reproducible and its first N frames do not depend on how many are generated.

Scenes are drawn at a reduced scale (the model sees ~160 px anyway) and resized to the
camera resolution before JPEG encoding, which keeps generation at tens of ms per frame.
`scenes_family_b` is a separately written renderer used only to measure generalisation.
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
DOOR_TYPES = ("sectional", "rollup", "tilt")
CAR_SHAPES = ("sedan", "suv", "hatchback")
LIGHTS = ("day", "sun", "dusk", "lamp", "ir")
_DRAW_WIDTH = 800  # scene is drawn at this width, then resized to the camera resolution
_CANVAS_MARGIN = 1.3  # drawn canvas is larger than the frame so viewpoint changes stay filled
#: first entry of the seed sequence of a garage, so garage G never equals frame stream G
_GARAGE_STREAM = 0x6A7A6E

RGB = tuple[int, int, int]
_WALLS: tuple[RGB, ...] = (
    (196, 184, 160), (170, 150, 130), (150, 160, 165), (210, 205, 195), (120, 95, 80),
    (185, 190, 175), (140, 120, 100), (225, 220, 210), (160, 70, 55), (90, 95, 100),
    (235, 225, 190), (110, 130, 150),
)  # fmt: skip
_DOORS: tuple[RGB, ...] = (
    (235, 235, 230), (215, 210, 200), (150, 110, 75), (125, 92, 64), (120, 125, 130),
    (180, 185, 190), (100, 104, 110), (200, 190, 160), (60, 62, 66), (70, 90, 70),
    (140, 40, 35), (40, 60, 100),
)  # fmt: skip
_CARS: tuple[RGB, ...] = (
    (200, 30, 30), (20, 40, 120), (230, 230, 230), (25, 25, 25), (140, 145, 150),
    (60, 110, 60), (220, 190, 40), (90, 60, 40), (170, 170, 180), (40, 80, 140),
    (245, 245, 245), (60, 60, 65), (200, 120, 30), (110, 20, 30),
)  # fmt: skip
_LIGHT_CARS = tuple(c for c in _CARS if sum(c) / 3 > 80)
_CLOTHES: tuple[RGB, ...] = (
    (30, 30, 35), (40, 60, 120), (150, 30, 30), (200, 200, 195), (80, 90, 60), (210, 160, 40),
)  # fmt: skip


@dataclass(frozen=True)
class Scene:
    """One generated frame: JPEG bytes, its labels and what it shows."""

    index: int
    jpeg: bytes
    size: tuple[int, int]
    door_open: bool
    car_present: bool
    #: IR night frame (grey)
    night: bool
    light: str = "day"
    rain: bool = False
    people: int = 0
    door_type: str = "sectional"
    #: the fixed garage's seed, None when every frame draws its own garage
    garage: int | None = None

    @property
    def labels(self) -> dict[str, int]:
        return {"door_open": int(self.door_open), "car_present": int(self.car_present)}


@dataclass(frozen=True)
class Garage:
    """What stays the same in every frame of one camera at one garage."""

    size: tuple[int, int]
    ground: float  # horizon of wall and driveway, fraction of the canvas height
    wall: RGB
    wall_pattern: str  # siding, bricks, plain
    pattern_step: int
    driveway: int  # grey level
    driveway_tint: int
    joints: tuple[float, ...]
    door_type: str
    door: RGB
    door_rows: int
    door_cols: int
    door_windows: bool
    door_cx: float  # fractions of the canvas width
    door_w: float
    door_aspect: float
    trim: RGB
    trim_px: int
    interior: int  # grey level of the dark interior
    shelves: tuple[tuple[float, float, float, float, int], ...]  # x, y, w, h in the opening
    clutter: tuple[tuple[str, float, float, RGB], ...]  # kind, x (canvas), scale, colour
    window: tuple[float, float] | None  # centre x, width (canvas fractions), beside the door
    lamp: float | None  # lamp x on the wall (canvas fraction)
    pitch: float  # keystone of a camera above the door looking down (0 = level)
    yaw: float  # keystone of a camera beside the door (signed)
    roll: float  # degrees
    zoom: float
    shift: tuple[float, float]
    lens: float  # barrel distortion coefficient (0 = rectilinear)
    timestamp: bool


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


def sample_garage(rng: np.random.Generator, sizes: Sequence[tuple[int, int]]) -> Garage:
    """A random garage and camera; the same generator state gives the same garage."""
    door_type = DOOR_TYPES[int(rng.integers(len(DOOR_TYPES)))]
    door_w = rng.uniform(0.3, 0.46)
    door_cx = rng.uniform(0.4, 0.6)
    shelves = tuple(
        (rng.uniform(0.0, 0.85), rng.uniform(0.25, 0.85), rng.uniform(0.08, 0.3),
         rng.uniform(0.06, 0.3), int(rng.integers(10, 60)))
        for _ in range(int(rng.integers(0, 5)))
    )  # fmt: skip
    clutter = []
    for _ in range(int(rng.integers(0, 4))):
        kind = ("bin", "bike", "bush", "shelf")[int(rng.integers(4))]
        side = -1 if rng.random() < 0.5 else 1
        edge = door_cx + side * door_w / 2
        x = edge + side * rng.uniform(0.04, 0.2)
        colour = _jitter(rng, _pick(rng, ((50, 70, 55), (40, 45, 50), (120, 40, 30),
                                          (60, 95, 45), (150, 150, 160))), 20)  # fmt: skip
        clutter.append((kind, float(x), float(rng.uniform(0.8, 1.25)), colour))
    window = None
    if rng.random() < 0.35:  # a house window beside the door: dark glass, not an open door
        side = -1 if rng.random() < 0.5 else 1
        window = (door_cx + side * (door_w / 2 + rng.uniform(0.1, 0.16)), rng.uniform(0.08, 0.14))
    pattern = ("siding", "bricks", "plain")[int(rng.integers(3))]
    high = rng.random() < 0.6  # most garage cameras hang high and look down
    return Garage(
        size=sizes[int(rng.integers(len(sizes)))],
        ground=float(rng.uniform(0.56, 0.72) if high else rng.uniform(0.66, 0.8)),
        wall=_jitter(rng, _pick(rng, _WALLS)),
        wall_pattern=pattern,
        pattern_step=int(rng.integers(8, 22)),
        driveway=int(rng.integers(60, 180)),
        driveway_tint=int(rng.integers(-10, 11)),
        joints=tuple(float(rng.uniform(0.05, 1.0)) for _ in range(int(rng.integers(0, 4)))),
        door_type=door_type,
        door=_jitter(rng, _pick(rng, _DOORS), 12),
        door_rows=int(rng.integers(4, 6)),
        door_cols=int(rng.integers(2, 9)),
        door_windows=bool(rng.random() < 0.3),
        door_cx=float(door_cx),
        door_w=float(door_w),
        door_aspect=float(rng.uniform(0.5, 0.75)),
        trim=_jitter(rng, (230, 228, 220) if rng.random() < 0.6 else (90, 70, 50), 10),
        trim_px=int(rng.integers(2, 9)),
        interior=int(rng.integers(12, 55)),
        shelves=shelves,
        clutter=tuple(clutter),
        window=window,
        lamp=float(door_cx + rng.choice([-1, 1]) * (door_w / 2 + 0.04))
        if rng.random() < 0.5
        else None,
        pitch=float(rng.uniform(0.05, 0.3) if high else rng.uniform(-0.05, 0.1)),
        yaw=float(rng.uniform(-0.25, 0.25)),
        roll=float(rng.uniform(-4.0, 4.0)),
        zoom=float(rng.uniform(1.0, 1.25)),
        shift=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.06, 0.06))),
        lens=float(rng.uniform(0.08, 0.3) if rng.random() < 0.35 else 0.0),
        timestamp=bool(rng.random() < 0.7),
    )


# -- the garage front ----------------------------------------------------------------------


def _draw_wall(draw: ImageDraw.ImageDraw, g: Garage, w: int, ground: int) -> None:
    draw.rectangle((0, 0, w, ground), fill=g.wall)
    step = g.pattern_step
    if g.wall_pattern == "siding":
        line = _shade(g.wall, 0.85)
        for y in range(step // 2, ground, step):
            draw.line((0, y, w, y), fill=line, width=1)
    elif g.wall_pattern == "bricks":
        line = _shade(g.wall, 0.8)
        for row, y in enumerate(range(0, ground, step)):
            draw.line((0, y, w, y), fill=line)
            for x in range((row % 2) * step, w, step * 2):
                draw.line((x, y, x, y + step), fill=line)
    # eaves: the roof edge above the wall
    draw.rectangle((0, 0, w, int(ground * 0.06)), fill=_shade(g.wall, 0.55))


def _draw_ground(
    draw: ImageDraw.ImageDraw, g: Garage, w: int, h: int, ground: int, *, wet: bool
) -> None:
    base, tint = g.driveway * (0.6 if wet else 1.0), g.driveway_tint
    for y in range(ground, h):  # darker toward the wall, like a lit driveway
        f = 0.8 + 0.3 * (y - ground) / max(1, h - ground)
        v = int(np.clip(base * f, 0, 255))
        draw.line((0, y, w, y), fill=(v + tint, v, v - tint))
    joint = (int(base) - 25,) * 3
    for frac in g.joints:
        y = ground + int(frac * (h - ground))
        draw.line((0, y, w, y), fill=(joint[0], joint[1], joint[2]), width=2)


def _draw_closed_door(draw: ImageDraw.ImageDraw, g: Garage, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    door = g.door
    dark, light = _shade(door, 0.75), _shade(door, 1.12)
    draw.rectangle(box, fill=door)
    if g.door_type == "rollup":  # many thin slats, a bottom bar
        step = max(3, (bottom - top) // int(10 + g.door_rows * 3))
        for y in range(top + step, bottom, step):
            draw.line((left, y, right, y), fill=dark, width=1)
            draw.line((left, y + 1, right, y + 1), fill=light, width=1)
        draw.rectangle((left, bottom - 5, right, bottom), fill=_shade(door, 0.6))
        return
    if g.door_type == "tilt":  # one piece: vertical ribs or a plain sheet with a handle
        if g.door_cols > 4:
            for x in np.linspace(left, right, g.door_cols * 3 + 1)[1:-1]:
                draw.line((round(x), top + 3, round(x), bottom - 3), fill=dark, width=1)
        draw.rectangle(
            ((left + right) // 2 - 10, bottom - (bottom - top) // 3 - 3,
             (left + right) // 2 + 10, bottom - (bottom - top) // 3 + 3),
            fill=_shade(door, 0.45),
        )  # fmt: skip
        return
    rows, cols = g.door_rows, g.door_cols
    row_h, col_w = (bottom - top) / rows, (right - left) / cols
    for r in range(rows):
        y0 = top + r * row_h
        draw.line((left, round(y0), right, round(y0)), fill=dark, width=2)
        for c in range(cols):
            x0 = left + c * col_w
            inset = max(1.0, min(col_w, row_h) * 0.12)
            panel = (round(x0 + inset), round(y0 + inset),
                     round(x0 + col_w - inset), round(y0 + row_h - inset))  # fmt: skip
            if g.door_windows and r == 0:
                draw.rectangle(panel, fill=(48, 56, 66), outline=dark)
                continue
            draw.rectangle(panel, outline=dark, width=1)
            draw.line((panel[0], panel[1], panel[2], panel[1]), fill=light)


def _draw_open_door(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, g: Garage, box: tuple[int, int, int, int]
) -> None:
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    lit = rng.random() < 0.12  # the garage's own light is on
    base = g.interior + (int(rng.integers(20, 45)) if lit else 0)
    slope = int(rng.integers(5, 25))
    for y in range(top, bottom):  # interior: dark, a bit lighter toward the floor
        v = int(base + (y - top) / max(1, height) * slope)
        draw.line((left, y, right, y), fill=(v, v, int(v * 1.05)))
    back = base + 10
    draw.rectangle((left + width // 8, top, right - width // 8, bottom - height // 4),
                   fill=(back, back, back))  # fmt: skip
    for sx, sy, bw, bh, c in g.shelves:  # shelves, boxes, tools: fixed for the garage
        x0, y0 = left + sx * width, top + sy * height
        grey = base + c
        draw.rectangle((x0, y0, min(right, x0 + bw * width), min(bottom, y0 + bh * height)),
                       fill=(grey, grey - 4, grey - 8))  # fmt: skip
    if lit:
        cx = (left + right) // 2
        draw.rectangle((cx - 18, top + 6, cx + 18, top + 10), fill=(240, 240, 220))
    # the raised door
    if g.door_type == "sectional":  # panels overhead, seen from below
        depth = int(height * rng.uniform(0.05, 0.2))
        draw.rectangle((left, top, right, top + depth), fill=_shade(g.door, 0.7))
        draw.line((left, top + depth, right, top + depth), fill=_shade(g.door, 0.45), width=2)
    elif g.door_type == "tilt":  # the panel sticks out over the opening, lit from below
        depth = int(height * rng.uniform(0.12, 0.25))
        draw.polygon([(left - 6, top), (right + 6, top), (right + 14, top + depth),
                      (left - 14, top + depth)], fill=_shade(g.door, 0.9))  # fmt: skip
    else:  # roll-up: only the bottom bar shows under the drum box
        draw.rectangle((left, top, right, top + 6), fill=_shade(g.door, 0.6))


def _draw_opening(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, g: Garage, box: tuple[int, int, int, int],
    door_open: bool,
) -> None:  # fmt: skip
    left, top, right, bottom = box
    t = g.trim_px
    draw.rectangle((left - t, top - t, right + t, bottom), fill=g.trim)
    if g.door_type == "rollup":  # the drum's box above the opening
        draw.rectangle((left - t, top - t - 16, right + t, top - t), fill=_shade(g.door, 0.85))
    if door_open:
        _draw_open_door(draw, rng, g, box)
    else:
        _draw_closed_door(draw, g, box)


def _draw_bike(draw: ImageDraw.ImageDraw, x: float, ground: int, s: float, c: RGB) -> None:
    r = 16 * s
    for wx in (x - 22 * s, x + 22 * s):
        draw.ellipse((wx - r, ground - 2 * r, wx + r, ground), outline=(25, 25, 25), width=3)
    hub = ground - r
    pts = [(x - 22 * s, hub), (x - 4 * s, hub - 18 * s), (x + 14 * s, hub - 18 * s),
           (x + 22 * s, hub), (x, hub)]  # fmt: skip
    draw.line([*pts, (x - 22 * s, hub)], fill=c, width=3)
    draw.line((x - 6 * s, hub - 18 * s, x - 8 * s, hub - 26 * s), fill=(20, 20, 20), width=3)


def _draw_clutter(draw: ImageDraw.ImageDraw, g: Garage, w: int, h: int, ground: int) -> None:
    if g.window is not None:
        cx, ww = g.window[0] * w, g.window[1] * w
        top = ground - h * 0.42
        draw.rectangle((cx - ww / 2 - 4, top - 4, cx + ww / 2 + 4, top + ww * 0.8 + 4),
                       fill=g.trim)  # fmt: skip
        draw.rectangle((cx - ww / 2, top, cx + ww / 2, top + ww * 0.8), fill=(55, 65, 75))
        draw.line((cx, top, cx, top + ww * 0.8), fill=g.trim, width=3)
    if g.lamp is not None:
        lx, ly = g.lamp * w, ground - h * 0.38
        draw.rectangle((lx - 5, ly - 10, lx + 5, ly + 6), fill=(40, 40, 40))
        draw.ellipse((lx - 4, ly - 4, lx + 4, ly + 4), fill=(230, 225, 200))
    for kind, xf, s, c in g.clutter:
        x = xf * w
        if kind == "bin":
            draw.rectangle((x, ground - 48 * s, x + 30 * s, ground + 5), fill=c)
            draw.rectangle((x - 2, ground - 54 * s, x + 32 * s, ground - 48 * s),
                           fill=_shade(c, 0.7))  # fmt: skip
        elif kind == "bike":
            _draw_bike(draw, x, ground + 4, s, c)
        elif kind == "bush":
            r = 28 * s
            draw.ellipse(
                (x - r, ground - r, x + r, ground + r / 2), fill=(c[0] // 2, c[1], c[2] // 2)
            )
        else:  # an open shelf against the wall
            draw.rectangle((x, ground - 70 * s, x + 40 * s, ground), outline=(70, 60, 50), width=3)
            for k in (1, 2):
                y = ground - 70 * s * k / 3
                draw.line((x, y, x + 40 * s, y), fill=(70, 60, 50), width=3)
                draw.rectangle((x + 5, y - 12 * s, x + 18 * s, y), fill=c)


# -- cars and people -----------------------------------------------------------------------


def _draw_car_side(
    draw: ImageDraw.ImageDraw, shape: str, *, cx: float, bottom: float, length: float,
    body: RGB, glass: RGB,
) -> None:  # fmt: skip
    tall = {"sedan": 0.32, "hatchback": 0.36, "suv": 0.46}[shape]
    height = length * tall
    x0, x1 = cx - length / 2, cx + length / 2
    y_body = bottom - height * (0.55 if shape != "suv" else 0.5)
    wheel_r = height * (0.22 if shape != "suv" else 0.2)
    draw.rounded_rectangle((x0, y_body, x1, bottom - wheel_r * 0.6), radius=height * 0.12,
                           fill=body)  # fmt: skip
    # cabin: sedan three boxes, hatchback cut off at the rear, SUV/van nearly full length
    front, rear = {"sedan": (0.22, 0.8), "hatchback": (0.22, 0.95), "suv": (0.08, 0.97)}[shape]
    roof_f, roof_r = {"sedan": (0.32, 0.68), "hatchback": (0.35, 0.9), "suv": (0.16, 0.96)}[shape]
    cabin = [(x0 + length * front, y_body), (x0 + length * roof_f, bottom - height),
             (x0 + length * roof_r, bottom - height), (x0 + length * rear, y_body)]  # fmt: skip
    draw.polygon(cabin, fill=body)
    inner = [(x + (cx - x) * 0.08, y + (y_body - y) * 0.15) for x, y in cabin]
    draw.polygon(inner, fill=glass)
    draw.line((cx, bottom - height, cx, y_body), fill=body, width=3)
    for wx in (x0 + length * 0.18, x1 - length * 0.18):
        draw.ellipse((wx - wheel_r, bottom - 2 * wheel_r, wx + wheel_r, bottom), fill=(20, 20, 22))
        hub = wheel_r * 0.45
        draw.ellipse((wx - hub, bottom - wheel_r - hub, wx + hub, bottom - wheel_r + hub),
                     fill=(150, 150, 155))  # fmt: skip


def _draw_car_end(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, shape: str, *, cx: float,
    bottom: float, width: float, body: RGB, glass: RGB,
) -> None:  # fmt: skip
    """Front or rear view."""
    height = width * {"sedan": 0.6, "hatchback": 0.68, "suv": 0.86}[shape] * rng.uniform(0.93, 1.07)
    x0, x1 = cx - width / 2, cx + width / 2
    y_body = bottom - height * (0.55 if shape != "suv" else 0.5)
    wheel_w, wheel_h = width * 0.13, height * 0.18
    for wx in (x0 + width * 0.04, x1 - width * 0.04 - wheel_w):
        draw.rectangle((wx, bottom - wheel_h, wx + wheel_w, bottom), fill=(20, 20, 22))
    draw.rounded_rectangle((x0, y_body, x1, bottom - wheel_h * 0.6), radius=width * 0.06,
                           fill=body)  # fmt: skip
    taper = 0.12 if shape == "suv" else 0.2
    draw.polygon([(x0 + width * 0.06, y_body), (x0 + width * taper, bottom - height),
                  (x1 - width * taper, bottom - height), (x1 - width * 0.06, y_body)],
                 fill=body)  # fmt: skip
    roof, inset = bottom - height * 0.93, width * (taper + 0.03)
    draw.polygon([(x0 + width * 0.11, y_body - 2), (x0 + inset, roof), (x1 - inset, roof),
                  (x1 - width * 0.11, y_body - 2)], fill=glass)  # fmt: skip
    rear = rng.random() < 0.5
    lamp = (200, 20, 20) if rear else (240, 240, 220)
    lamp_y = y_body + height * 0.08
    for lx in (x0 + width * 0.05, x1 - width * 0.2):
        draw.rectangle((lx, lamp_y, lx + width * 0.15, lamp_y + height * 0.08), fill=lamp)
    plate_w, plate_y = width * 0.22, y_body + height * 0.22
    draw.rectangle((cx - plate_w / 2, plate_y, cx + plate_w / 2, plate_y + height * 0.08),
                   fill=(235, 235, 225))  # fmt: skip
    if not rear:
        draw.rectangle((cx - width * 0.18, lamp_y, cx + width * 0.18, lamp_y + height * 0.1),
                       fill=_shade(body, 0.4))  # fmt: skip


_SIDE_HEIGHT_MAX = 0.46  # car height / length, side view (SUV, the tallest shape)
_END_HEIGHT_MAX = 0.86 * 1.07  # car height / width, front or rear view (SUV, +7% jitter)


def _draw_car(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, int, int, int], *,
    canvas: tuple[int, int], door_open: bool,
) -> None:  # fmt: skip
    left, top, right, ground = box
    w, h = canvas
    door_w, door_h = right - left, ground - top
    shape = CAR_SHAPES[int(rng.integers(len(CAR_SHAPES)))]
    side_view = rng.random() < 0.3
    glass = _jitter(rng, (40, 50, 60), 12)
    if door_open and not side_view and rng.random() < 0.4:  # parked inside
        width = door_w * rng.uniform(0.55, 0.75)
        bottom = ground - door_h * rng.uniform(0.0, 0.08)
        cx = (left + right) / 2 + door_w * rng.uniform(-0.15, 0.15)
        body = _jitter(rng, _pick(rng, _LIGHT_CARS), 15)  # a black car in a black garage: a guess
        _draw_car_end(draw, rng, shape, cx=cx, bottom=bottom, width=width, body=body, glass=glass)
        return
    body = _jitter(rng, _pick(rng, _CARS), 15)
    width = door_w * rng.uniform(0.65, 0.95) * (1.5 if side_view else 1.0)
    # The frame's lower edge is at ~0.8-0.9 of the canvas height (zoom, shift, pose).
    bottom = ground + max(0.0, 0.8 * h - ground) * rng.uniform(0.1, 1.0)
    # The upper 40% of the door stays visible above the car (at the car's tallest shape):
    # a door hidden behind a car has no visible state, so it could not be labelled.
    tallest = _SIDE_HEIGHT_MAX if side_view else _END_HEIGHT_MAX
    width = min(width, (bottom - top - 0.4 * door_h) / tallest)
    cx = (left + right) / 2 + door_w * rng.uniform(-0.25, 0.25)
    if rng.random() < 0.2:  # parked to one side: up to ~45% of the car beyond the frame edge
        edge = w * (0.5 + rng.choice([-1.0, 1.0]) * 0.5 / _CANVAS_MARGIN)
        cx = edge + (1 if edge < w / 2 else -1) * width * rng.uniform(0.05, 0.3)
    if side_view:
        _draw_car_side(draw, shape, cx=cx, bottom=bottom, length=width, body=body, glass=glass)
    else:
        _draw_car_end(draw, rng, shape, cx=cx, bottom=bottom, width=width, body=body, glass=glass)


def _draw_person(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, feet: float, tall: float
) -> None:
    shirt, trousers = _pick(rng, _CLOTHES), _pick(rng, _CLOTHES)
    skin = _pick(rng, ((230, 190, 160), (170, 120, 90), (110, 75, 55)))
    head = tall * 0.13
    shoulder = tall * 0.25
    draw.rectangle((x - shoulder * 0.45, feet - tall * 0.48, x - shoulder * 0.05, feet),
                   fill=trousers)  # fmt: skip
    draw.rectangle((x + shoulder * 0.05, feet - tall * 0.48, x + shoulder * 0.45, feet),
                   fill=trousers)  # fmt: skip
    draw.rounded_rectangle((x - shoulder / 2, feet - tall * 0.85, x + shoulder / 2,
                            feet - tall * 0.45), radius=shoulder * 0.2, fill=shirt)  # fmt: skip
    draw.ellipse((x - head / 2, feet - tall, x + head / 2, feet - tall + head), fill=skin)


# -- camera, light, weather ----------------------------------------------------------------


def _perspective_coeffs(
    dst: Sequence[tuple[float, float]], src: Sequence[tuple[float, float]]
) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points `dst` to input points `src`."""
    rows, rhs = [], []
    for (u, v), (x, y) in zip(dst, src, strict=True):
        rows.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        rows.append([0, 0, 0, u, v, 1, -y * u, -y * v])
        rhs += [x, y]
    solution = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in solution)


def _camera(
    rng: np.random.Generator, g: Garage, canvas: Image.Image, w: int, h: int
) -> Image.Image:
    """The garage's camera pose: keystone (height, side angle), roll, zoom, shift."""
    cw, ch = canvas.size
    zoom = g.zoom * rng.uniform(0.98, 1.02)  # a camera on a wall still moves a little
    hw, hh = w / 2 / zoom, h / 2 / zoom
    cx, cy = cw / 2 + g.shift[0] * w, ch / 2 + g.shift[1] * h
    top, yaw = 1.0 + g.pitch, g.yaw
    # frame corners -> canvas: a camera looking down sees a wider top; one to the side sees
    # the far side of the wall smaller (a taller span of the canvas on that side)
    src = [(cx - hw * top, cy - hh * (1 + yaw)), (cx + hw * top, cy - hh * (1 - yaw)),
           (cx + hw, cy + hh * (1 - yaw)), (cx - hw, cy + hh * (1 + yaw))]  # fmt: skip
    angle = math.radians(g.roll + rng.uniform(-0.5, 0.5))
    cos, sin = math.cos(angle), math.sin(angle)
    src = [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos)
           for x, y in src]  # fmt: skip
    coeffs = _perspective_coeffs([(0, 0), (w, 0), (w, h), (0, h)], src)
    return canvas.transform((w, h), Image.Transform.PERSPECTIVE, coeffs,
                            Image.Resampling.BILINEAR)  # fmt: skip


def _barrel(arr: npt.NDArray[np.uint8], k: float) -> npt.NDArray[np.uint8]:
    """Wide-angle lens: straight lines bow outward (nearest-neighbour remap)."""
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - w / 2) / (w / 2), (yy - h / 2) / (w / 2)
    factor = (1 + k * (nx * nx + ny * ny)) / (1 + k * 1.3)  # keep the corners inside
    sx = np.clip(w / 2 + nx * factor * (w / 2), 0, w - 1).astype(np.intp)
    sy = np.clip(h / 2 + ny * factor * (w / 2), 0, h - 1).astype(np.intp)
    out: npt.NDArray[np.uint8] = arr[sy, sx]
    return out


def _sun_shadow(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    """Hard cast shadows (eaves, a tree, the house next door), slightly blue."""
    w, h = img.size
    mask = Image.new("L", (w, h), 0)
    md = ImageDraw.Draw(mask)
    dark = int(rng.integers(80, 150))
    for _ in range(int(rng.integers(1, 3))):
        x0 = int(rng.integers(-w // 4, w))
        top_right = x0 + int(rng.integers(60, w // 2))
        bottom_right = x0 + int(rng.integers(w // 6, w // 2))
        bottom_left = x0 - int(rng.integers(0, w // 4))
        md.polygon([(x0, 0), (top_right, 0), (bottom_right, h), (bottom_left, h)], fill=dark)
    if rng.random() < 0.5:  # the eaves' shadow across the top of the wall
        md.rectangle((0, 0, w, int(h * rng.uniform(0.1, 0.3))), fill=dark)
    shadow = Image.new("RGB", (w, h), (20, 25, 40))
    return Image.composite(shadow, img, mask)


def _rain(rng: np.random.Generator, img: Image.Image) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    slant = rng.uniform(-0.3, 0.3)
    length = rng.uniform(8, 22)
    for _ in range(int(rng.integers(150, 400))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        v = int(rng.integers(150, 230))
        draw.line((x, y, x + slant * length, y + length), fill=(v, v, v + 10), width=1)


def _light(
    rng: np.random.Generator, arr8: npt.NDArray[np.uint8], light: str, g: Garage, *, rain: bool
) -> npt.NDArray[np.uint8]:
    """Exposure and colour of the light, or IR night rendering; plus sensor noise."""
    arr = arr8.astype(np.float32)
    h, w = arr.shape[:2]
    if light in ("ir", "lamp"):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if light == "ir":
        gray = arr @ np.array([0.3, 0.45, 0.25], dtype=np.float32)  # IR reflectance differs
        cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.4, 0.8)
        r2 = ((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2
        falloff = np.clip(1.0 - rng.uniform(1.0, 2.5) * r2, 0.15, 1.0)  # IR LED cone
        gray = gray * falloff * rng.uniform(0.7, 1.3) + rng.uniform(0, 20)
        if rng.random() < 0.3:  # IR glow off a nearby surface
            gx, gy = w * rng.uniform(0, 1), h * rng.uniform(0, 0.3)
            g2 = ((xx - gx) / w) ** 2 + ((yy - gy) / h) ** 2
            gray += rng.uniform(40, 120) * np.exp(-g2 / rng.uniform(0.005, 0.03))
        gray += rng.normal(0.0, rng.uniform(4, 14), gray.shape).astype(np.float32)
        return np.clip(np.repeat(gray[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    if light == "dusk":
        gain = rng.uniform(0.3, 0.55) * np.array([1.05, 0.95, 1.1], dtype=np.float32)
        noise = rng.uniform(4, 10)
    elif light == "lamp":  # colour night: dark, a warm pool of light around the lamp
        lx = (g.lamp if g.lamp is not None else rng.uniform(0.3, 0.7)) * w
        r2 = ((xx - lx) / w) ** 2 + ((yy - h * 0.3) / h) ** 2
        pool = 0.12 + rng.uniform(0.6, 1.0) * np.exp(-r2 / rng.uniform(0.03, 0.1))
        arr = arr * pool[..., None] * np.array([1.1, 0.95, 0.7], dtype=np.float32)
        gain = np.ones(3, dtype=np.float32) * rng.uniform(0.9, 1.3)
        noise = rng.uniform(5, 12)
    else:
        gain = rng.uniform(0.6, 1.3) * rng.uniform(0.9, 1.1, size=3).astype(np.float32)
        noise = rng.uniform(1.5, 6.0)
    contrast = rng.uniform(0.75, 1.2) * (0.8 if rain else 1.0)  # rain: haze, less contrast
    mean = arr.mean()
    arr = ((arr - mean) * contrast + mean) * gain
    arr += rng.normal(0.0, noise, arr.shape).astype(np.float32)
    out: npt.NDArray[np.uint8] = np.clip(arr, 0, 255).astype(np.uint8)
    return out


def _timestamp(img: Image.Image, rng: np.random.Generator) -> None:
    """Camera on-screen date, as most cameras burn into their snapshots."""
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(
            size=max(10, img.height // 30)
        )
    except (OSError, TypeError):  # Pillow without FreeType
        font = ImageFont.load_default()
    day, hour, minute = int(rng.integers(1, 29)), int(rng.integers(0, 24)), int(rng.integers(0, 60))
    text = f"2025-06-{day:02d} {hour:02d}:{minute:02d}:{int(rng.integers(0, 60)):02d}  GARAGE"
    ImageDraw.Draw(img).text((10, 8), text, fill=(255, 255, 255), font=font)


# -- a frame -------------------------------------------------------------------------------


def garage_of(garage: int, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES) -> Garage:
    """The fixed garage number `garage` (the same for every frame stream)."""
    return sample_garage(np.random.default_rng([_GARAGE_STREAM, garage]), sizes)


def _pick_light(rng: np.random.Generator) -> str:
    return str(rng.choice(LIGHTS, p=[0.33, 0.2, 0.1, 0.07, 0.3]))


def generate_scene(
    seed: int,
    index: int,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    door_open: bool | None = None,
    car_present: bool | None = None,
    garage: int | None = None,
) -> Scene:
    """Frame number `index` of the stream `seed`; labels are drawn at random unless given.

    `garage`: keep the garage and camera of that seed (see `garage_of`), vary the moment.
    """
    rng = np.random.default_rng([seed, index])
    door = bool(rng.random() < 0.5) if door_open is None else door_open
    car = bool(rng.random() < 0.5) if car_present is None else car_present
    light = _pick_light(rng)
    rain = bool(rng.random() < 0.15)
    people = int(rng.random() < 0.2) + int(rng.random() < 0.05)
    g = sample_garage(rng, sizes) if garage is None else garage_of(garage, sizes)
    width, height = g.size
    draw_w = min(_DRAW_WIDTH, width)
    draw_h = max(8, round(draw_w * height / width))
    cw, ch = round(draw_w * _CANVAS_MARGIN), round(draw_h * _CANVAS_MARGIN)
    canvas = Image.new("RGB", (cw, ch))
    draw = ImageDraw.Draw(canvas)
    ground = int(ch * g.ground)
    _draw_wall(draw, g, cw, ground)
    _draw_ground(draw, g, cw, ch, ground, wet=rain)
    door_w = cw * g.door_w
    door_h = door_w * g.door_aspect
    box = (round(cw * g.door_cx - door_w / 2), round(ground - door_h),
           round(cw * g.door_cx + door_w / 2), ground)  # fmt: skip
    _draw_opening(draw, rng, g, box, door)
    _draw_clutter(draw, g, cw, ch, ground)
    person_in_front = rng.random() < 0.5
    if not person_in_front:
        for _ in range(people):
            _draw_person(draw, rng, rng.uniform(box[0], box[2]), ground + rng.uniform(0, 20),
                         door_h * rng.uniform(0.75, 0.95))  # fmt: skip
    if car:
        _draw_car(draw, rng, box, canvas=(cw, ch), door_open=door)
    if person_in_front:
        for _ in range(people):
            feet = ground + max(10.0, 0.8 * ch - ground) * rng.uniform(0.2, 0.9)
            _draw_person(draw, rng, rng.uniform(0.15 * cw, 0.85 * cw), feet,
                         door_h * rng.uniform(0.85, 1.1) * (1 + (feet - ground) / ch))  # fmt: skip
    if light == "sun":
        canvas = _sun_shadow(rng, canvas)
    frame = _camera(rng, g, canvas, draw_w, draw_h)
    if rain:
        _rain(rng, frame)
    if rng.random() < 0.25:  # slightly out of focus
        frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    arr = np.asarray(frame)
    if g.lens > 0:
        arr = _barrel(arr, g.lens)
    img = Image.fromarray(_light(rng, arr, light, g, rain=rain))
    if (width, height) != (draw_w, draw_h):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    if g.timestamp:
        _timestamp(img, rng)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=int(rng.integers(55, 96)))
    return Scene(index, buffer.getvalue(), (width, height), door, car, light == "ir", light,
                 rain, people, g.door_type, garage)  # fmt: skip


def iter_scenes(
    seed: int,
    count: int,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    start: int = 0,
    garage: int | None = None,
) -> Iterator[Scene]:
    for index in range(start, start + count):
        yield generate_scene(seed, index, sizes=sizes, garage=garage)


def write_scenes(
    out: Path,
    scenes: Iterator[Scene],
    count: int,
    prefix: str,
    progress: bool = False,
) -> Path:
    """Write scenes as JPEGs plus `labels.csv` and `labels.yaml`; returns the CSV path.

    The layout is the one `garagecam train --data` reads.
    """
    if count < 1:
        raise ConfigError(f"count must be at least 1, got {count}")
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    if progress:
        try:  # tqdm comes with the train/export extras, not with the base package
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            scenes = tqdm(scenes, total=count, desc="scenes", unit="img")
    rows = []
    for scene in scenes:
        name = f"images/{prefix}_{scene.index:05d}.jpg"
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


def write_dataset(
    out: Path,
    seed: int,
    count: int,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    progress: bool = False,
    *,
    garage: int | None = None,
) -> Path:
    """Write `count` scenes of this generator (family A) in the training layout."""
    prefix = f"scene_{seed}" if garage is None else f"scene_g{garage}_{seed}"
    scenes = iter_scenes(seed, max(0, count), sizes, garage=garage)
    return write_scenes(out, scenes, count, prefix, progress)
