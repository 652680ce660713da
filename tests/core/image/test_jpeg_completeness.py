"""A JPEG is complete when its decode is (issue 21, items 2 and 3): scan data cut short is
refused whatever marker follows it, progressive files included, and marker floods are
refused before Pillow parses them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from garagecam_core import preprocess
from garagecam_core.errors import InvalidImageError, TruncatedImageError
from garagecam_core.preprocess import decode
from tests.images import scene

#: what an attacker (or a broken camera) puts between cut-off scan data and the end marker
TAILS = {
    "EOI": b"\xff\xd9",
    "COM": b"\xff\xfe\x00\x06junk\xff\xd9",
    "APP1": b"\xff\xe1\x00\x02\xff\xd9",
    "DHT": b"\xff\xc4\x00\x03\x00\xff\xd9",
    "SOS": b"\xff\xda\x00\x02\xff\xd9",
    "RST0": b"\xff\xd0\xff\xd9",
}
KINDS = {
    "baseline": {"quality": 85},
    "optimized": {"quality": 85, "optimize": True, "subsampling": 0},
    "progressive": {"quality": 85, "progressive": True},
    "restart markers": {"quality": 85, "restart_marker_blocks": 4},
}


def _jpeg(width: int, height: int, **options: Any) -> bytes:
    buffer = io.BytesIO()
    scene(width, height).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _with_height(data: bytes, height: int) -> bytes:
    """The same data under a frame header that promises `height` rows."""
    sof = next(data.find(m) for m in (b"\xff\xc0", b"\xff\xc2") if data.find(m) > 0)
    return data[: sof + 5] + height.to_bytes(2, "big") + data[sof + 7 :]


@pytest.mark.parametrize("tail", TAILS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_cut_scan_data_followed_by_any_marker_is_refused(kind: str, tail: str, keep: float) -> None:
    data = _jpeg(640, 360, **KINDS[kind])
    cut = data[: int(len(data) * keep)] + TAILS[tail]
    with pytest.raises(TruncatedImageError, match="truncated"):
        decode(cut)
    with pytest.raises(TruncatedImageError, match="truncated"):
        decode(cut, target_size=(96, 96))  # the DCT-scaled (draft) path too


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tail", [b"", b"\xff\xfe\x00\x04ab"])
def test_header_promising_more_rows_than_the_data_holds_is_refused(kind: str, tail: bytes) -> None:
    data = _jpeg(480, 270, **KINDS[kind])
    tall = _with_height(data[:-2] + tail + b"\xff\xd9", 1000)
    with pytest.raises(TruncatedImageError, match="480x1000 image"):
        decode(tall)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("size", [(1, 1), (17, 9), (640, 360), (1921, 1081)])
def test_intact_jpegs_still_decode(kind: str, mode: str, size: tuple[int, int]) -> None:
    buffer = io.BytesIO()
    scene(*size).convert(mode).save(buffer, "JPEG", **KINDS[kind])
    data = buffer.getvalue()
    assert decode(data).size == size
    assert decode(data, target_size=(64, 64)).size[0] >= 1
    assert decode(data + b"trailing bytes after the end marker").size == size


@pytest.mark.parametrize("count", [1, 50, 400])
def test_cut_restart_intervals_padded_with_restart_markers_are_refused(count: int) -> None:
    # With a restart interval libjpeg fills a cut interval with grey up to the next RST
    # marker, and each empty interval after it: as many RSTs as intervals are left.
    data = _jpeg(640, 360, quality=85, restart_marker_blocks=2)
    markers = b"".join(bytes([0xFF, 0xD0 + (i % 8)]) for i in range(count))
    with pytest.raises(TruncatedImageError, match="truncated"):
        decode(data[: len(data) // 5] + markers + b"\xff\xd9")


def test_progressive_jpeg_cut_at_a_scan_boundary_is_refused() -> None:
    data = _jpeg(640, 360, progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    with pytest.raises(TruncatedImageError, match="scans stop before the picture is complete"):
        decode(data[:second_scan] + b"\xff\xd9")


def test_comment_flood_is_refused_before_pillow_parses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a))
    good = _jpeg(64, 64)
    flood = good[:2] + b"\xff\xfe\x00\x02" * 4_000_000 + good[2:]  # 16 MB of comments
    limit = preprocess.MAX_JPEG_SEGMENTS
    with pytest.raises(InvalidImageError, match=f"more than {limit} marker segments"):
        decode(flood)
    assert opened == []


def test_many_legitimate_segments_are_fine() -> None:
    good = _jpeg(64, 64)
    padded = good[:2] + b"\xff\xfe\x00\x05abc" * (preprocess.MAX_JPEG_SEGMENTS - 20) + good[2:]
    assert decode(padded).size == (64, 64)


def test_pillow_tolerating_truncation_does_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _jpeg(640, 360, progressive=True)
    with pytest.raises(TruncatedImageError):
        decode(data[: len(data) * 9 // 10] + b"\xff\xd9")
    assert isinstance(Image.open(io.BytesIO(data)), Image.Image)
