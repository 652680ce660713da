"""The debug frame: a JPEG of the analysed frame with the ROI box and probabilities drawn on it."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from garagecam_core.debug_frame import ROI_COLOR, render_debug_frame
from garagecam_core.errors import InvalidImageError, TruncatedImageError
from garagecam_core.roi import Roi
from tests.images import make_jpeg, make_png, scene_jpeg, truncated

PROBABILITIES = {"door_open": 0.873, "car_present": 0.198}
STATES = {"door_open": "on", "car_present": "unknown"}


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


def test_small_frame_keeps_its_size() -> None:
    out = render_debug_frame(
        scene_jpeg(640, 360), roi=None, probabilities=PROBABILITIES, states=STATES
    )
    assert open_jpeg(out).size == (640, 360)


@pytest.mark.parametrize(("max_width", "expected"), [(1280, (1280, 720)), (320, (320, 180))])
def test_large_frame_is_downsized_to_max_width(max_width: int, expected: tuple[int, int]) -> None:
    out = render_debug_frame(
        scene_jpeg(2560, 1440), roi=Roi(0.25, 0.3, 0.5, 0.5), probabilities=PROBABILITIES,
        max_width=max_width,
    )  # fmt: skip
    assert open_jpeg(out).size == expected


def test_roi_box_is_drawn_where_the_roi_is() -> None:
    source = make_png(400, 300, (40, 40, 40))
    roi = Roi(0.5, 0.5, 0.25, 0.25)  # pixels (200, 150) to (300, 225)
    frame = np.asarray(open_jpeg(render_debug_frame(source, roi=roi, probabilities={})), int)
    plain = np.asarray(open_jpeg(render_debug_frame(source, roi=None, probabilities={})), int)
    # Inside the box's yellow line (a few pixels in from the edge) the frame turned yellow...
    red, green, blue = frame[160:215, 203].T  # JPEG chroma subsampling blurs colours a bit
    assert red.min() > ROI_COLOR[0] - 40
    assert green.min() > ROI_COLOR[1] - 40
    assert blue.max() < ROI_COLOR[2] + 90
    assert np.abs(plain[160:215, 203] - (40, 40, 40)).max() < 8
    # ...while the middle of the ROI and the rest of the frame are untouched.
    np.testing.assert_allclose(frame[185, 250], (40, 40, 40), atol=8)
    np.testing.assert_allclose(frame[280, 380], (40, 40, 40), atol=8)


def test_probabilities_panel_is_drawn_top_left() -> None:
    source = make_jpeg(640, 360, (40, 40, 40))
    with_panel = np.asarray(
        open_jpeg(render_debug_frame(source, roi=None, probabilities=PROBABILITIES)), int
    )
    empty = np.asarray(open_jpeg(render_debug_frame(source, roi=None, probabilities={})), int)
    # Text pixels are bright on the dark panel; the frame's far corner stays as it was.
    assert with_panel[:40, :150].max() > 200
    assert empty[:40, :150].max() < 60
    np.testing.assert_allclose(with_panel[340:, 600:], empty[340:, 600:], atol=6)


def test_states_title_and_timestamp_widen_the_panel() -> None:
    source = make_jpeg(640, 360, (40, 40, 40))

    def panel_width(**kwargs: object) -> int:
        frame = np.asarray(
            open_jpeg(render_debug_frame(source, roi=None, probabilities=PROBABILITIES, **kwargs)),
            int,
        )  # type: ignore[arg-type]
        row = frame[1, :, :].sum(axis=1)  # the panel darkens the frame's top rows (above text)
        return int(np.nonzero(row < 80)[0].max())

    bare = panel_width()
    with_states = panel_width(states=STATES)
    with_title = panel_width(
        states=STATES, title="Garage camera, north side", timestamp=datetime(2026, 2, 18, 6, 1, 42)
    )
    assert bare < with_states < with_title


def test_bad_bytes_raise_image_errors() -> None:
    with pytest.raises(InvalidImageError):
        render_debug_frame(b"<html>", roi=None, probabilities={})
    with pytest.raises(TruncatedImageError):
        render_debug_frame(truncated(scene_jpeg(640, 360)), roi=None, probabilities={})
    with pytest.raises(ValueError, match="max_width must be at least 16"):
        render_debug_frame(make_jpeg(32, 32), roi=None, probabilities={}, max_width=0)
