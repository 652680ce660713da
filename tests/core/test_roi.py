"""Region of interest parsing and pixel mapping."""

from __future__ import annotations

import pytest

from garagecam_core.errors import ConfigError
from garagecam_core.roi import Roi


def test_parse_and_format() -> None:
    roi = Roi.parse("0.25, 0.5,0.5,0.5")
    assert roi == Roi(0.25, 0.5, 0.5, 0.5)
    assert str(roi) == "0.25,0.5,0.5,0.5"
    assert roi.as_list() == [0.25, 0.5, 0.5, 0.5]


def test_to_pixels() -> None:
    assert Roi(0.5, 0.25, 0.5, 0.5).to_pixels(2560, 1440) == (1280, 360, 2560, 1080)
    # A sliver still maps to at least one pixel.
    assert Roi(0.999, 0.999, 0.001, 0.001).to_pixels(100, 100) == (99, 99, 100, 100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,0,1", "must be 'x,y,w,h'"),
        ("a,b,c,d", "four numbers"),
        ("0.5,0,0.6,1", "runs past the frame"),
        ("0,0,0,1", "width and height must be > 0"),
        ("-0.1,0,0.5,0.5", "fractions from 0 to 1"),
    ],
)
def test_bad_roi(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Roi.parse(text)
