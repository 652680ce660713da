"""Images: truncation at every 10 %, header/data size mismatch, bombs by header and by decoded
size, every format Pillow can write here, random byte corruptions.

A bad image must be refused with an `ImageError` by `prepare` (the first step of every
engine) and never come out as a model input; nothing may raise anything else.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from garagecam_core.errors import ImageError
from garagecam_core.metadata import LabelSpec, ModelMetadata
from garagecam_core.preprocess import FORMATS, Prepared, prepare
from tests.core.fuzz.tally import record, verify
from tests.images import encode, scene

META = ModelMetadata(name="fuzz", input_height=64, input_width=64, labels=(LabelSpec("door"),))
SCENE = scene(480, 270)


def _samples() -> dict[str, bytes]:
    rgba = SCENE.convert("RGBA")
    return {
        "jpeg": encode(SCENE, "JPEG", quality=85),
        "jpeg-progressive": encode(SCENE, "JPEG", quality=85, progressive=True),
        "jpeg-restart": encode(SCENE, "JPEG", quality=85, restart_marker_blocks=2),
        "jpeg-grey": encode(SCENE.convert("L"), "JPEG", quality=85),
        "png": encode(SCENE, "PNG"),
        "png-rgba": encode(rgba, "PNG"),
        "webp": encode(SCENE, "WEBP", quality=80),
        "webp-lossless": encode(SCENE, "WEBP", lossless=True),
        "bmp": encode(SCENE, "BMP"),
    }


SAMPLES = _samples()
#: what may stand between cut-off JPEG scan data and its end marker (issue 21)
JPEG_TAILS = {
    "EOI": b"\xff\xd9",
    "COM": b"\xff\xfe\x00\x06junk\xff\xd9",
    "APP1": b"\xff\xe1\x00\x02\xff\xd9",
    "DHT": b"\xff\xc4\x00\x03\x00\xff\xd9",
}


def _prepare(category: str, data: bytes, what: str) -> Prepared | None:
    """`prepare(data)`, or None once a refusal or a crash is recorded."""
    try:
        return prepare(data, META)
    except ImageError:
        record(category, "refused")
    except Exception as err:
        record(category, "crashed", f"{what}: {type(err).__name__}: {err}")
    return None


def check_bad(category: str, data: bytes, what: str) -> None:
    """`data` is not a usable frame: it must be refused with an ImageError."""
    prepared = _prepare(category, data, what)
    if prepared is not None:
        record(category, "accepted", f"{what}: {prepared.image_size}")


def check_mutated(category: str, data: bytes, what: str) -> None:
    """`data` may or may not still be an image: no crash, and a finite tensor if accepted."""
    prepared = _prepare(category, data, what)
    if prepared is None:
        return
    if not np.isfinite(prepared.tensor).all():
        record(category, "accepted", f"{what}: non-finite tensor")
    else:
        record(category, "tolerated")


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png_with_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR size rewritten (and a valid CRC): the data stays as it was."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    return data[:8] + _png_chunk(b"IHDR", bytes(ihdr)) + data[33:]


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        sof = data.find(marker)
        if sof > 0:
            return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]
    raise AssertionError("no SOF")


def _webp_with_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    if out[12:16] == b"VP8 ":  # lossy: 14-bit sizes after the start code
        out[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    elif out[12:16] == b"VP8L":  # lossless: 14-bit (size - 1) fields packed after 0x2f
        bits = ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
        packed = int.from_bytes(out[21:25], "little") & ~0x0FFFFFFF | bits
        out[21:25] = packed.to_bytes(4, "little")
    return bytes(out)


def _bmp_with_size(data: bytes, width: int, height: int) -> bytes:
    return data[:18] + struct.pack("<ii", width, height) + data[26:]


RESIZERS: dict[str, Callable[[bytes, int, int], bytes]] = {
    "jpeg": _jpeg_with_size,
    "png": _png_with_size,
    "webp": _webp_with_size,
    "bmp": _bmp_with_size,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_truncation_at_every_tenth(name: str) -> None:
    data = SAMPLES[name]
    prepare(data, META)  # the intact sample is fine
    for tenth in range(1, 10):
        cut = _cut(data, tenth / 10)
        check_bad("image truncated", cut, f"{name} cut to {tenth}0 %")
        if name.startswith("jpeg"):  # the cut disguised as complete, behind any marker
            for marker, tail in JPEG_TAILS.items():
                check_bad("image truncated + end marker", cut + tail, f"{name} {tenth}0 %+{marker}")
        if name.startswith("png"):
            iend = _png_chunk(b"IEND", b"")
            check_bad("image truncated + end marker", cut + iend, f"{name} {tenth}0 %+IEND")
    verify(minimum=9)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_header_promises_more_than_the_data_holds(name: str) -> None:
    kind = name.split("-", maxsplit=1)[0]
    data = SAMPLES[name]
    for width, height in ((960, 540), (1920, 1080), (3000, 3000)):
        resized = RESIZERS[kind](data, width, height)
        check_bad("image header/data mismatch", resized, f"{name} {width}x{height}")
        if kind == "jpeg":  # with a marker segment between the data and the end marker
            disguised = resized[:-2] + JPEG_TAILS["COM"]
            check_bad("image header/data mismatch", disguised, f"{name} {width}x{height}+COM")
    verify(minimum=3)


@pytest.mark.parametrize("kind", sorted(RESIZERS))
def test_bombs_by_header(kind: str) -> None:
    data = SAMPLES[kind]
    sizes = ((16000, 16000), (65000, 60000), (40000, 1001), (20000, 2500))
    if kind == "webp":  # 14-bit sizes: at most 16383 a side
        sizes = ((16383, 16383), (16000, 3000), (10000, 5000), (16383, 2500))
    for width, height in sizes:
        check_bad(
            "image bomb by header", RESIZERS[kind](data, width, height), f"{kind} {width}x{height}"
        )
    verify(minimum=4)


def test_bombs_by_decoded_size() -> None:
    # Small files under the 40 MP header limit that take more than 160 MB to decode to RGB.
    for mode, size in (("RGBA", (6324, 6324)), ("L", (6000, 6000)), ("I;16", (5100, 5100))):
        image = Image.new(mode, size)
        check_bad("image bomb by decoded size", encode(image, "PNG"), f"PNG {mode} {size}")
    check_bad(
        "image bomb by decoded size",
        encode(Image.new("RGBA", (6000, 6000)), "WEBP", lossless=True),
        "WebP RGBA 6000x6000",
    )
    verify(minimum=4)


def test_marker_segment_floods_are_refused() -> None:
    """Issue 21: 16 MB of 4-byte comments cost seconds of CPU per frame before decoding."""
    data = SAMPLES["jpeg"]
    for marker in (b"\xff\xfe", b"\xff\xe1", b"\xff\xed"):
        flood = data[:2] + (marker + b"\x00\x02") * 4_000_000 + data[2:]
        check_bad("image marker floods", flood, f"{marker.hex()} x 4,000,000")
    rst = data[:2] + b"\xff\xd0" * 2_000_000 + data[2:]  # parameterless markers count too
    check_bad("image marker floods", rst, "RST0 x 2,000,000")
    verify(minimum=4)


def _every_writable_format() -> list[tuple[str, bytes]]:
    Image.init()
    found = []
    small = SCENE.resize((64, 48))
    for fmt in sorted(Image.SAVE):
        if fmt in FORMATS or fmt in ("MPO",):
            continue
        for image in (small, small.convert("L"), small.convert("1")):
            buffer = io.BytesIO()
            try:
                image.save(buffer, format=fmt)
            except Exception:
                continue
            found.append((fmt, buffer.getvalue()))
            break
    return found


def test_every_other_pillow_format_is_refused() -> None:
    formats = _every_writable_format()
    assert len(formats) >= 10, [f for f, _ in formats]
    for fmt, data in formats:
        check_bad("image other Pillow formats", data, fmt)
    for what, data in (
        ("WAV", b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + b"\x00" * 28),
        ("HTML", b"<html><body>401</body></html>"),
        ("JSON", b'{"error": 1}'),
        ("empty", b""),
        ("SOI only", b"\xff\xd8\xff"),
        ("PNG signature only", b"\x89PNG\r\n\x1a\n"),
    ):
        check_bad("image other Pillow formats", data, what)
    verify(minimum=16)


@settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    position=st.floats(0.0, 1.0),
    length=st.integers(1, 64),
    value=st.integers(0, 255),
)
def test_random_corruptions_never_crash(
    name: str, position: float, length: int, value: int
) -> None:
    data = bytearray(SAMPLES[name])
    start = min(int(position * len(data)), len(data) - 1)
    data[start : start + length] = bytes([value]) * len(data[start : start + length])
    check_mutated("image random corruption", bytes(data), f"{name} @{start}+{length}={value}")
    verify()
