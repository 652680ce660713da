"""Family B: a second, separately written garage renderer, used only to measure how well a
model trained on `scenes` (family A) generalises. Nothing trains on it.

What differs from family A, on purpose:

- drawing: a 3D scene ray-cast per pixel with numpy (a facade plane with an opening, an
  interior box behind it, a ground plane, cars and people as boxes turned about the vertical
  axis), not 2D shapes on a flat elevation warped by a keystone; true perspective from a
  pinhole camera placed in 3D (position, target, field of view); hidden surfaces by depth;
- shading: Lambert shading by a sun direction plus sky ambient, hard shadows cast by cars
  and people (shadow rays), IR night as a camera-mounted point light falling off with
  distance squared; family A paints flat colours and darkens whole regions;
- textures and shapes: procedural stucco or vertical boards, door leaves that are flush,
  vertically grooved or two-leaf carriage doors with cross braces; boxy cars (compact,
  estate, van) from continuous random sizes and HSV colours, not family A's palettes;
- image: rendered at 384x216 without anti-aliasing and upscaled bicubically, so edges are
  soft-jagged where family A's are crisp; no timestamp overlay; no lens distortion.

Labels mean the same: `door_open` (the opening shows the interior), `car_present` (a car in
the frame). Every frame is a pure function of `(seed, index, garage)`.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from .scenes import DEFAULT_SIZES, Scene, write_scenes

Array = npt.NDArray[np.float64]
_RENDER = (384, 216)
_GARAGE_STREAM_B = 0xB0B
# material ids
_WALL, _GROUND, _DOOR, _INSIDE, _BODY, _GLASS, _TYRE, _PERSON, _BIN = range(1, 10)


@dataclass(frozen=True)
class _Box:
    """An axis-aligned box in its own frame, turned by `yaw` about the vertical axis."""

    centre: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float
    material: int
    colour: tuple[float, float, float]


@dataclass(frozen=True)
class GarageB:
    size: tuple[int, int]
    camera: tuple[float, float, float]
    target: tuple[float, float, float]
    fov: float  # horizontal, degrees
    door_half_w: float
    door_h: float
    door_style: str  # flush, grooved, carriage
    door_colour: tuple[float, float, float]
    wall_style: str  # stucco, boards
    wall_colour: tuple[float, float, float]
    ground_colour: tuple[float, float, float]
    bins: tuple[tuple[float, float], ...]  # x, z of wheelie bins beside the door


def _hsv(
    rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]
) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*s), rng.uniform(*v))
    return (r, g, b)


def sample_garage_b(rng: np.random.Generator, sizes: Sequence[tuple[int, int]]) -> GarageB:
    half_w = rng.uniform(1.2, 1.7)
    side = rng.uniform(-3.0, 3.0)
    return GarageB(
        size=sizes[int(rng.integers(len(sizes)))],
        camera=(side, rng.uniform(3.0, 5.5), rng.uniform(9.0, 13.0)),
        target=(side * rng.uniform(0.0, 0.4), rng.uniform(0.6, 1.4), 0.0),
        fov=rng.uniform(40.0, 65.0),
        door_half_w=half_w,
        door_h=rng.uniform(2.0, 2.4),
        door_style=("flush", "grooved", "carriage")[int(rng.integers(3))],
        door_colour=_hsv(rng, (0.0, 0.5), (0.25, 0.95)),
        wall_style=("stucco", "boards")[int(rng.integers(2))],
        wall_colour=_hsv(rng, (0.05, 0.45), (0.35, 0.9)),
        ground_colour=_hsv(rng, (0.0, 0.15), (0.25, 0.6)),
        bins=tuple((float(rng.choice([-1, 1]) * (half_w + rng.uniform(0.5, 2.0))),
                    float(rng.uniform(0.3, 1.5))) for _ in range(int(rng.integers(0, 3)))),
    )  # fmt: skip


def _rays(g: GarageB, w: int, h: int) -> tuple[Array, Array]:
    eye, target = np.array(g.camera), np.array(g.target)
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    scale = math.tan(math.radians(g.fov) / 2)
    xs = (np.arange(w) + 0.5) / w * 2 - 1
    ys = 1 - (np.arange(h) + 0.5) / h * 2
    px, py = np.meshgrid(xs * scale, ys * scale * h / w)
    d = forward + px[..., None] * right + py[..., None] * up
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return eye, d.reshape(-1, 3)


def _hit_box(o: Array, d: Array, box: _Box, inside: bool = False) -> tuple[Array, Array]:
    """Distance to the box along each ray (inf on a miss) and the surface normal."""
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    rot = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])  # world -> box frame
    lo = (o - np.array(box.centre)) @ rot.T
    ld = d @ rot.T
    safe = np.where(np.abs(ld) < 1e-9, 1e-9, ld)
    half = np.array(box.half)
    t1, t2 = (-half - lo) / safe, (half - lo) / safe
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_in, t_out = near.max(axis=1), far.min(axis=1)
    hit = t_out >= np.maximum(t_in, 1e-6)
    if inside:  # seen from within (the garage's interior): the exit face
        t = np.where(hit, t_out, np.inf)
        axis = far.argmin(axis=1)
        sign = -np.sign(np.take_along_axis(ld, axis[:, None], 1)[:, 0])
    else:
        t = np.where(hit & (t_in > 1e-6), t_in, np.inf)
        axis = near.argmax(axis=1)
        sign = -np.sign(np.take_along_axis(ld, axis[:, None], 1)[:, 0])
    normal = np.zeros_like(d)
    normal[np.arange(len(d)), axis] = sign
    return t, normal @ rot  # back to world


def _car(rng: np.random.Generator, x: float, z: float) -> list[_Box]:
    kind = ("compact", "estate", "van")[int(rng.integers(3))]
    length, width, body_h = {
        "compact": (3.8, 1.7, 0.7), "estate": (4.7, 1.8, 0.75), "van": (4.9, 1.95, 1.2),
    }[kind]  # fmt: skip
    length *= rng.uniform(0.92, 1.08)
    yaw = float(rng.choice([0.0, math.pi / 2]) + rng.uniform(-0.35, 0.35))
    colour = _hsv(rng, (0.0, 0.8), (0.1, 0.95))
    c, s = math.cos(yaw), math.sin(yaw)

    def at(u: float, y: float, v: float) -> tuple[float, float, float]:  # car frame -> world
        return (x + u * c + v * s, y, z - u * s + v * c)

    cabin_len = {"compact": 0.5, "estate": 0.62, "van": 0.72}[kind] * length
    cabin_h = {"compact": 0.55, "estate": 0.55, "van": 0.55}[kind]
    boxes = [
        _Box(at(0, 0.35 + body_h / 2, 0), (width / 2, body_h / 2, length / 2), yaw, _BODY, colour),
        _Box(at(0, 0.35 + body_h + cabin_h / 2, -length * 0.08),
             (width * 0.45, cabin_h / 2, cabin_len / 2), yaw, _GLASS, (0.08, 0.1, 0.12)),
    ]  # fmt: skip
    for du in (-1, 1):
        for dv in (-1, 1):
            boxes.append(_Box(at(du * width * 0.45, 0.33, dv * length * 0.33),
                              (0.12, 0.33, 0.33), yaw, _TYRE, (0.03, 0.03, 0.03)))  # fmt: skip
    return boxes


def _person(rng: np.random.Generator, x: float, z: float) -> list[_Box]:
    tall = rng.uniform(1.55, 1.9)
    shirt = _hsv(rng, (0.0, 0.8), (0.15, 0.9))
    skin = (0.8, 0.62, 0.5) if rng.random() < 0.5 else (0.45, 0.3, 0.22)
    return [
        _Box((x, tall * 0.27, z), (0.16, tall * 0.27, 0.12), 0.0, _PERSON, (0.15, 0.15, 0.2)),
        _Box((x, tall * 0.7, z), (0.22, tall * 0.17, 0.13), 0.0, _PERSON, shirt),
        _Box((x, tall * 0.93, z), (0.1, tall * 0.06, 0.1), 0.0, _PERSON, skin),
    ]


def _texture(material: npt.NDArray[np.int64], p: Array, g: GarageB, rng_phase: float) -> Array:
    """Per-pixel brightness factor of the procedural textures."""
    f = np.ones(len(p))
    wall = material == _WALL
    if g.wall_style == "boards":
        f[wall] = 0.85 + 0.15 * (np.abs(np.sin(p[wall, 0] * math.pi / 0.2)) > 0.15)
    else:
        q = p[wall]
        f[wall] = 0.9 + 0.1 * np.sin(q[:, 0] * 37.0 + rng_phase) * np.sin(q[:, 1] * 41.0)
    ground = material == _GROUND
    q = p[ground]
    f[ground] = 0.92 + 0.08 * np.sin(q[:, 0] * 23.0) * np.sin(q[:, 2] * 29.0 + rng_phase)
    door = material == _DOOR
    q = p[door]
    if g.door_style == "grooved":
        f[door] = 0.8 + 0.2 * (np.abs(np.sin(q[:, 0] * math.pi / 0.12)) > 0.2)
    elif g.door_style == "carriage":
        u = (q[:, 0] + g.door_half_w) % g.door_half_w / g.door_half_w  # each leaf 0..1
        v = q[:, 1] / g.door_h
        brace = (np.abs(u - v) < 0.03) | (np.abs(u - (1 - v)) < 0.03)
        frame = (u < 0.05) | (u > 0.95) | (v < 0.05) | (v > 0.95)
        f[door] = np.where(brace | frame, 0.7, 1.0)
    return f


@dataclass
class _Hits:
    """Nearest surface along each ray: distance, material, normal, colour."""

    best: Array
    material: npt.NDArray[np.int64]
    normal: Array
    albedo: Array

    def take(self, t: Array, nrm: Array, mat: int, colour: tuple[float, float, float]) -> None:
        closer = t < self.best
        self.best[closer] = t[closer]
        self.material[closer] = mat
        self.albedo[closer] = colour
        self.normal[closer] = nrm[closer]


def _render(
    rng: np.random.Generator, g: GarageB, *, door_open: bool, car: bool, people: int,
    night: bool,
) -> npt.NDArray[np.uint8]:  # fmt: skip
    w, h = _RENDER
    eye, d = _rays(g, w, h)
    n = len(d)
    o = np.broadcast_to(eye, (n, 3))
    hits = _Hits(np.full(n, np.inf), np.zeros(n, dtype=np.int64), np.zeros((n, 3)),
                 np.zeros((n, 3)))  # fmt: skip
    take = hits.take

    # the facade z = 0 with the door opening
    with np.errstate(divide="ignore", invalid="ignore"):
        t_wall = np.where(d[:, 2] < 0, -eye[2] / d[:, 2], np.inf)
        t_ground = np.where(d[:, 1] < 0, -eye[1] / d[:, 1], np.inf)
    p_wall = eye + d * np.where(np.isfinite(t_wall), t_wall, 0)[:, None]
    in_opening = (np.abs(p_wall[:, 0]) < g.door_half_w) & (p_wall[:, 1] < g.door_h)
    take(
        np.where(in_opening, np.inf, t_wall), np.tile([0.0, 0.0, 1.0], (n, 1)), _WALL, g.wall_colour
    )
    p_ground = eye + d * np.where(np.isfinite(t_ground), t_ground, 0)[:, None]
    take(np.where(p_ground[:, 2] >= 0, t_ground, np.inf), np.tile([0.0, 1.0, 0.0], (n, 1)),
         _GROUND, g.ground_colour)  # fmt: skip
    through = in_opening & np.isfinite(t_wall)
    if door_open:
        room = _Box(
            (0.0, 1.4, -3.0), (g.door_half_w + 0.6, 1.4, 3.0), 0.0, _INSIDE, (0.4, 0.38, 0.36)
        )
        t_in, n_in = _hit_box(o, d, room, inside=True)
        take(np.where(through, t_in, np.inf), n_in, _INSIDE, room.colour)
        # the raised door overhead, just inside the opening
        t_top, n_top = _hit_box(
            o,
            d,
            _Box(
                (0.0, g.door_h + 0.02, -1.2), (g.door_half_w, 0.02, 1.2), 0.0, _DOOR, g.door_colour
            ),
        )
        take(np.where(through, t_top, np.inf), n_top, _DOOR, g.door_colour)
    else:
        t_door = np.where(
            d[:, 2] < 0, (-0.08 - eye[2]) / np.where(d[:, 2] < 0, d[:, 2], -1), np.inf
        )
        take(
            np.where(through, t_door, np.inf),
            np.tile([0.0, 0.0, 1.0], (n, 1)),
            _DOOR,
            g.door_colour,
        )
    boxes: list[_Box] = [_Box((x, 0.55, z), (0.3, 0.55, 0.35), 0.0, _BIN, (0.15, 0.3, 0.15))
                         for x, z in g.bins]  # fmt: skip
    if car:
        if door_open and rng.random() < 0.35:  # parked inside
            boxes += _car(rng, rng.uniform(-0.3, 0.3), -2.6)
        else:
            boxes += _car(rng, rng.uniform(-2.5, 2.5), rng.uniform(1.6, 3.5))
    for _ in range(people):
        boxes += _person(rng, rng.uniform(-2.5, 2.5), rng.uniform(0.5, 5.0))
    for box in boxes:
        t_box, n_box = _hit_box(o, d, box)
        take(t_box, n_box, box.material, box.colour)

    return _shade_b(rng, hits, (eye, d), g, boxes=boxes, night=night)


def _shade_b(
    rng: np.random.Generator, hits: _Hits, rays: tuple[Array, Array], g: GarageB, *,
    boxes: Sequence[_Box], night: bool,
) -> npt.NDArray[np.uint8]:  # fmt: skip
    """Light the surfaces: sun, sky and cast shadows by day, the camera's IR lamp at night."""
    eye, d = rays
    w, h = _RENDER
    n = len(d)
    best, material, normal, albedo = hits.best, hits.material, hits.normal, hits.albedo
    hit = np.isfinite(best)
    p = eye + d * np.where(hit, best, 0)[:, None]
    albedo *= _texture(material, p, g, float(rng.uniform(0, 6.28)))[:, None]
    if night:  # IR: a point light at the camera, grey, falling off with distance squared
        grey = albedo @ np.array([0.35, 0.4, 0.25])
        cos = np.clip(-(normal * d).sum(axis=1), 0, 1)
        power = rng.uniform(70, 180)
        value = grey * cos * power / np.maximum(best, 1.0) ** 2
        value = np.where(material == _INSIDE, value * 0.5, value)
        rgb = np.repeat(value[:, None], 3, axis=1) + rng.normal(0, 0.03, (n, 1))
    else:
        elevation, azimuth = math.radians(rng.uniform(15, 70)), rng.uniform(-1.2, 1.2)
        sun = np.array([math.sin(azimuth) * math.cos(elevation), math.sin(elevation),
                        math.cos(azimuth) * math.cos(elevation)])  # fmt: skip
        overcast = rng.random() < 0.35
        lit = np.ones(n)
        if not overcast:  # hard shadows cast by the boxes (cars, people, bins)
            origin = p + normal * 1e-3
            for box in boxes:
                t_s, _ = _hit_box(origin, np.broadcast_to(sun, (n, 3)), box)
                lit[np.isfinite(t_s)] = 0.0
        diffuse = np.clip(normal @ sun, 0, 1) * lit * (0.25 if overcast else 0.8)
        ambient = rng.uniform(0.35, 0.6)
        light = ambient + diffuse
        light = np.where(material == _INSIDE, light * rng.uniform(0.2, 0.5), light)
        rgb = albedo * light[:, None] * rng.uniform(0.85, 1.2)
        rgb += rng.normal(0, 0.015, rgb.shape)
    rgb = np.where(hit[:, None], rgb, 0.6)
    image: npt.NDArray[np.uint8] = np.clip(rgb * 255, 0, 255).astype(np.uint8).reshape(h, w, 3)
    return image


def garage_b_of(garage: int, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES) -> GarageB:
    return sample_garage_b(np.random.default_rng([_GARAGE_STREAM_B, garage]), sizes)


def generate_scene_b(
    seed: int,
    index: int,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    door_open: bool | None = None,
    car_present: bool | None = None,
    garage: int | None = None,
) -> Scene:
    """Frame `index` of family B's stream `seed` (same contract as `scenes.generate_scene`)."""
    rng = np.random.default_rng([_GARAGE_STREAM_B, seed, index])
    door = bool(rng.random() < 0.5) if door_open is None else door_open
    car = bool(rng.random() < 0.5) if car_present is None else car_present
    night = bool(rng.random() < 0.3)
    people = int(rng.random() < 0.2)
    g = sample_garage_b(rng, sizes) if garage is None else garage_b_of(garage, sizes)
    pixels = _render(rng, g, door_open=door, car=car, people=people, night=night)
    img = Image.fromarray(pixels).resize(g.size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=int(rng.integers(60, 95)))
    return Scene(index, buffer.getvalue(), g.size, door, car, night, "ir" if night else "day",
                 False, people, g.door_style, garage)  # fmt: skip


def iter_scenes_b(
    seed: int,
    count: int,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    start: int = 0,
    garage: int | None = None,
) -> Iterator[Scene]:
    for index in range(start, start + count):
        yield generate_scene_b(seed, index, sizes=sizes, garage=garage)


def write_dataset_b(
    out: Path,
    seed: int,
    count: int,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    progress: bool = False,
    *,
    garage: int | None = None,
) -> Path:
    """Write `count` family-B scenes in the training layout (for evaluation, not training)."""
    prefix = f"family_b_{seed}" if garage is None else f"family_b_g{garage}_{seed}"
    return write_scenes(out, iter_scenes_b(seed, max(0, count), sizes, garage=garage), count,
                        prefix, progress)  # fmt: skip
