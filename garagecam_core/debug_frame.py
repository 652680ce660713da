"""The "what did the model see" picture: frame, region-of-interest box, probabilities, states.

Served as the runner's `debug.jpg` and the Home Assistant `image` entity; cheap enough to
render once per analysed frame (JPEG DCT scaling when the snapshot is wider than needed).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from PIL import ImageDraw, ImageFont

from .preprocess import DEFAULT_LIMITS, REDUCING_GAP, RESAMPLE, ImageLimits, decode
from .roi import Roi

RGBA = tuple[int, int, int, int]

ROI_COLOR: Final[RGBA] = (255, 214, 0, 255)
OUTLINE_COLOR: Final[RGBA] = (0, 0, 0, 255)
PANEL_COLOR: Final[RGBA] = (0, 0, 0, 165)
BAR_BACK_COLOR: Final[RGBA] = (255, 255, 255, 60)
TEXT_COLOR: Final[RGBA] = (245, 245, 245, 255)
STATE_COLORS: Final[Mapping[str, RGBA]] = {
    "ON": (90, 225, 110, 255),
    "OFF": (200, 200, 200, 255),
}
OTHER_STATE_COLOR: Final[RGBA] = (255, 185, 60, 255)  # UNKNOWN, unavailable, ...


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: no font files to ship or find on the host.
    return ImageFont.load_default(size=size)


def _state_text(states: Mapping[str, str] | None, label: str) -> str | None:
    if states is None or label not in states:
        return None
    return str(states[label]).upper()


def render_debug_frame(
    image: bytes,
    *,
    roi: Roi | None,
    probabilities: Mapping[str, float],
    states: Mapping[str, str] | None = None,
    title: str | None = None,
    timestamp: datetime | None = None,
    max_width: int = 1280,
    limits: ImageLimits = DEFAULT_LIMITS,
    quality: int = 85,
) -> bytes:
    """Draw the ROI box and one line per label (probability, state) on the frame; JPEG bytes.

    The frame is downsized to at most `max_width` pixels wide (aspect kept). Labels appear in
    the order of `probabilities`. Raises an `ImageError` subclass for undecodable bytes.
    """
    if max_width < 16:
        raise ValueError(f"max_width must be at least 16 pixels, got {max_width}")
    # Only the width bounds the DCT scaling: the frame must stay at least max_width wide.
    frame = decode(image, limits, target_size=(max_width, 1))
    if frame.width > max_width:
        height = max(1, round(frame.height * max_width / frame.width))
        frame = frame.resize((max_width, height), RESAMPLE, reducing_gap=REDUCING_GAP)
    draw = ImageDraw.Draw(frame, "RGBA")
    scale = max(frame.width, frame.height)
    if roi is not None:
        _draw_roi(draw, roi.to_pixels(frame.width, frame.height), line=max(2, scale // 400))
    _draw_panel(
        draw,
        probabilities=probabilities,
        states=states,
        title=title,
        timestamp=timestamp,
        size=max(12, scale // 45),
    )
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _draw_roi(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], line: int) -> None:
    left, upper, right, lower = box
    # Dark border under the bright one: visible on snow and on asphalt alike.
    draw.rectangle(
        (left, upper, right - 1, lower - 1), outline=OUTLINE_COLOR, width=line + 2 * (line // 2 + 1)
    )
    inset = line // 2 + 1
    draw.rectangle(
        (left + inset, upper + inset, right - 1 - inset, lower - 1 - inset),
        outline=ROI_COLOR,
        width=line,
    )


def _draw_panel(
    draw: ImageDraw.ImageDraw,
    *,
    probabilities: Mapping[str, float],
    states: Mapping[str, str] | None,
    title: str | None,
    timestamp: datetime | None,
    size: int,
) -> None:
    font = _font(size)
    small = _font(max(9, size * 4 // 5))
    pad = max(3, size // 3)
    bar_h = max(2, size // 6)
    rows: list[tuple[str, str | None, float]] = [
        (f"{label}  {probability:6.1%}", _state_text(states, label), probability)
        for label, probability in probabilities.items()
    ]
    header = "  ".join(
        part
        for part in (title, timestamp.strftime("%Y-%m-%d %H:%M:%S") if timestamp else None)
        if part
    )

    def width(text: str, which: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
        return draw.textlength(text, font=which)

    state_w = max((width(state, font) for _, state, _ in rows if state), default=0.0)
    gap = size if state_w else 0
    text_w = max((width(text, font) for text, _, _ in rows), default=0.0)
    panel_w = max(text_w + gap + state_w, width(header, small) if header else 0.0) + 2 * pad
    text_h = font.getbbox("Agjp_%")[3]  # down to the lowest descender
    line_h = text_h + 2 * bar_h + pad
    panel_h = pad + (size + pad if header else 0) + line_h * len(rows)
    draw.rectangle((0, 0, panel_w, panel_h), fill=PANEL_COLOR)
    y = float(pad)
    if header:
        draw.text((pad, y), header, font=small, fill=TEXT_COLOR)
        y += size + pad
    for text, state, probability in rows:
        color = STATE_COLORS.get(state, OTHER_STATE_COLOR) if state else TEXT_COLOR
        draw.text((pad, y), text, font=font, fill=TEXT_COLOR)
        if state:
            draw.text((pad + text_w + gap, y), state, font=font, fill=color)
        bar_y = y + text_h + bar_h // 2
        bar_w = panel_w - 2 * pad
        fraction = min(1.0, max(0.0, probability)) if not math.isnan(probability) else 0.0
        draw.rectangle((pad, bar_y, pad + bar_w, bar_y + bar_h), fill=BAR_BACK_COLOR)
        if fraction > 0:
            draw.rectangle((pad, bar_y, pad + bar_w * fraction, bar_y + bar_h), fill=color)
        y += line_h
