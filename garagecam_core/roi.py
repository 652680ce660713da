"""Region of interest: a crop box given as fractions of the frame."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Roi:
    """Crop box as fractions of the frame: x, y of the top-left corner, width, height."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.w, self.h)
        if not all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in values):
            raise ConfigError(f"region of interest values must be fractions from 0 to 1: {self}")
        if self.w <= 0 or self.h <= 0:
            raise ConfigError(f"region of interest width and height must be > 0: {self}")
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise ConfigError(f"region of interest runs past the frame (x+w or y+h > 1): {self}")

    @classmethod
    def parse(cls, text: str) -> Roi:
        """Parse `x,y,w,h` (fractions), as used on the command line and in config files."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise ConfigError(f"region of interest must be 'x,y,w,h' fractions, got {text!r}")
        try:
            x, y, w, h = (float(p) for p in parts)
        except ValueError as err:
            raise ConfigError(f"region of interest must be four numbers, got {text!r}") from err
        return cls(x, y, w, h)

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Box (left, upper, right, lower) in pixels of a width x height frame, at least 1 px."""
        left = min(round(self.x * width), width - 1)
        upper = min(round(self.y * height), height - 1)
        right = max(left + 1, min(width, round((self.x + self.w) * width)))
        lower = max(upper + 1, min(height, round((self.y + self.h) * height)))
        return left, upper, right, lower

    def as_list(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]

    def __str__(self) -> str:
        return f"{self.x:g},{self.y:g},{self.w:g},{self.h:g}"
