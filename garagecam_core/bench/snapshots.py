"""The frames the bench measures: given files, or generated 1920x1080 and 2560x1440 JPEGs."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import ImageError, InvalidImageError

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (2560, 1440))
# Separate from any training seed, so accuracy is measured on frames the model never saw.
BENCH_SEED = 60_606


@dataclass(frozen=True)
class Snapshot:
    name: str
    data: bytes
    size: tuple[int, int]


def generated_snapshots(sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES) -> list[Snapshot]:
    """One generated garage frame (door open, car present) per camera resolution."""
    from ..scenes import generate_scene

    snapshots = []
    for width, height in sizes:
        scene = generate_scene(
            BENCH_SEED, 0, sizes=((width, height),), door_open=True, car_present=True
        )
        snapshots.append(Snapshot(f"generated-{width}x{height}.jpg", scene.jpeg, scene.size))
    return snapshots


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
