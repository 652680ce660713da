"""The frames the bench measures: given files, or generated camera JPEGs.

The generated frames are pinned: daylight frames re-encoded at JPEG quality 85 (a usual
camera snapshot setting) and one IR night frame as the generator draws it (sensor noise,
high quality: ~760 KB at 2560x1440). Decoding time follows the compressed size (entropy
decoding cannot be skipped by DCT scaling), so the frame must not change when the scene
generator's random draws do: before, the bench took whatever frame 0 of its seed was, which
a generator change turned from a 147 KB daylight frame into that night frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import ImageError, InvalidImageError

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (2560, 1440))
#: the night frame's size (the goal frame's: the same pipeline, a heavier JPEG)
NIGHT_SIZE = (2560, 1440)
# Separate from any training seed, so accuracy is measured on frames the model never saw.
BENCH_SEED = 60_606
DAY_QUALITY = 85
_SEARCH = 64  # frames of the bench seed searched for a daylight / an IR night draw


@dataclass(frozen=True)
class Snapshot:
    name: str
    data: bytes
    size: tuple[int, int]


def _first(size: tuple[int, int], light: str, rain: bool | None) -> bytes:
    """The first door-open, car-present frame of the bench seed lit by `light`."""
    from ..scenes import generate_scene

    for index in range(_SEARCH):
        scene = generate_scene(BENCH_SEED, index, sizes=(size,), door_open=True, car_present=True)
        if scene.light == light and (rain is None or scene.rain == rain):
            return scene.jpeg
    raise RuntimeError(f"no {light} frame among the first {_SEARCH} of the bench seed")


def _reencode(jpeg: bytes, quality: int) -> bytes:
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as image:
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def generated_snapshots(
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES, night: bool = True
) -> list[Snapshot]:
    """A daylight frame (quality 85) per camera resolution, then the IR night frame."""
    snapshots = []
    for width, height in sizes:
        data = _reencode(_first((width, height), "day", rain=False), DAY_QUALITY)
        snapshots.append(Snapshot(f"day-{width}x{height}.jpg", data, (width, height)))
    if night:
        name = f"night-ir-{NIGHT_SIZE[0]}x{NIGHT_SIZE[1]}.jpg"
        snapshots.append(Snapshot(name, _first(NIGHT_SIZE, "ir", rain=None), NIGHT_SIZE))
    return snapshots


def goal_snapshot(snapshots: list[Snapshot]) -> Snapshot:
    """The frame the goals are judged on: the first 2560x1440 one, else the largest."""
    goal = next((s for s in snapshots if s.size == (2560, 1440)), None)
    return goal or max(snapshots, key=lambda s: s.size[0] * s.size[1])


def jpeg_quality(data: bytes) -> int | None:
    """Estimated JPEG quality (IJG scale) from the luminance table; None if not a JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            tables = getattr(image, "quantization", None)
    except (OSError, ValueError):
        return None
    if not tables or 0 not in tables:
        return None
    # IJG: table = base * scale / 100, scale = 5000 / q (q < 50) or 200 - 2 q
    scale = 100.0 * sum(tables[0]) / sum(_IJG_LUMA)
    quality = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2.0
    return int(max(1, min(100, round(quality))))


def image_facts(snapshots: list[Snapshot]) -> list[dict[str, object]]:
    """Name, size, bytes and JPEG quality of each frame, for the results."""
    return [
        {
            "name": s.name,
            "size": list(s.size),
            "bytes": len(s.data),
            "quality": jpeg_quality(s.data),
        }
        for s in snapshots
    ]


_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
    56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
    104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def load_snapshots(paths: list[Path]) -> list[Snapshot]:
    snapshots = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ImageError(f"cannot read image {path}: {err.strerror or err}") from err
        try:
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
        except (OSError, ValueError) as err:
            raise InvalidImageError(f"{path} is not an image Pillow can open: {err}") from err
        snapshots.append(Snapshot(path.name, data, size))
    return snapshots
