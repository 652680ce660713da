"""Encoded snapshot bytes to the float32 NCHW tensor a model's metadata asks for.

One code path for inference and training: `decode` (validate, JPEG DCT scaling, RGB) then
`to_tensor` (region-of-interest crop, resize or letterbox, channel order, normalisation).

Resampling is Pillow's antialiased BILINEAR with `reducing_gap=3.0`: large reductions start
with an integer box reduction, which is also what JPEG DCT scaling does, so the fast draft
path and the full-decode path stay close (see `tests/core/image/test_preprocess.py`).
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import (
    DecompressionBombError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    TruncatedImageError,
)
from .metadata import ModelMetadata, ResizeMode
from .roi import Roi

RESAMPLE: Final = Image.Resampling.BILINEAR
REDUCING_GAP: Final = 3.0
#: formats accepted from cameras; everything else is refused before any decoder runs
FORMATS: Final = ("JPEG", "PNG", "WEBP", "BMP")  # JPEG includes MPO (multi-picture)

_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"BM": "BMP",
}

#: fed to the JPEG decoder after each scan's entropy-coded data (see `_load_jpeg`): 16 bytes
#: of 0xFF (stuffed as FF 00), enough for libjpeg's bit-buffer prefetch (8 bytes) at the real
#: end of a scan; as entropy data, all-ones is never a valid Huffman code (17 bits per bad
#: symbol): too little to stand in for more than a block or two; between scans it is skipped
_JPEG_FILLER: Final = b"\xff\x00" * 16
#: the end of entropy-coded data: 0xFF not followed by 00 (byte stuffing), RSTn or 0xFF (fill)
_MARKER_IN_DATA: Final = re.compile(b"\xff[^\x00\xd0-\xd7\xff]")
#: the same without a restart interval, where an RST marker ends the data too
_ANY_MARKER: Final = re.compile(b"\xff[^\x00\xff]")
_RESTART: Final = re.compile(b"\xff[\xd0-\xd7]")
#: marker segments a JPEG may hold before its picture ends: a camera frame has a few dozen
#: (APPn, DQT, DHT, SOF, a progressive file's scans); 16 MB of 4-byte comments is 4 million,
#: each parsed by Pillow in Python (seconds of CPU per frame) before a pixel is decoded
MAX_JPEG_SEGMENTS: Final = 1000


@dataclass(frozen=True)
class ImageLimits:
    """Refuse images above these sizes before spending memory on them.

    `max_pixels` is checked on the header (width x height as encoded); `max_decoded_bytes`
    on the memory decoding and the conversion to RGB will take (after JPEG DCT scaling; see
    `_decode_cost`): 160 MB holds a 40 MP RGB frame, about 10 MP with alpha or 16-bit grey,
    so a small file that decodes to a huge RGBA image is refused before it costs the memory.
    """

    max_bytes: int = 20_000_000
    max_pixels: int = 40_000_000
    max_decoded_bytes: int = 160_000_000


DEFAULT_LIMITS: Final = ImageLimits()


def read_image_file(path: Path, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """A file's bytes for decoding: a regular file within `max_bytes`, read with that bound
    (`/dev/zero`, a FIFO or a 5 GB file must not end in a MemoryError or a hang).
    Raises OSError when unreadable, an `ImageError` when it cannot be an image."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
    with open(os.open(path, flags), "rb") as file:  # noqa: PTH123 - an fd
        kind = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(kind):
            raise InvalidImageError(f"{path} is not a regular file (a device, FIFO or socket?)")
        data = file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(
            f"{path} is larger than the limit of {limits.max_bytes:,} bytes for an image"
        )
    return data


@dataclass(frozen=True)
class Prepared:
    """A model input and what it cost."""

    tensor: npt.NDArray[np.float32]  # (1, 3, H, W)
    #: (width, height) of the source frame as encoded, before DCT scaling or crop
    image_size: tuple[int, int]
    decode_ms: float
    preprocess_ms: float


class _Truncated(Exception):
    """Raised by `_StrictReader` when a decoder asks for bytes past the end."""


class _StrictReader(io.BytesIO):
    """Bytes that refuse to be read past their end once decoding has started.

    Pillow only reports cut-off data while `ImageFile.LOAD_TRUNCATED_IMAGES` is False, a
    process-wide switch any other library may flip. This makes a cut-off image fail anyway.
    """

    strict = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if self.strict and not data and size != 0:
            raise _Truncated
        return data


def _human_bytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1_000_000 else f"{count:,} bytes"


def _describe(image: bytes) -> str:
    """What the bytes look like, for error messages (never more than a short prefix)."""
    head = image[:64].lstrip().lower()
    if head.startswith(b"<"):
        return "text/HTML (a login or error page instead of a snapshot?)"
    if head.startswith((b"{", b"[")):
        return "JSON text, not an image"
    if image.startswith(b"RIFF") and len(image) >= 12:
        kind = image[8:12].decode("latin-1").strip()
        return f"a RIFF {kind!r} file (a WAV, AVI... container), not a WebP image"
    return f"starts with bytes {image[:8].hex(' ')}"


def _magic_format(image: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if image.startswith(magic):
            return name
    if image.startswith(b"RIFF") and image[8:12] == b"WEBP":
        return "WebP"
    return None


def _unreadable(image: bytes) -> TruncatedImageError | InvalidImageError:
    kind = _magic_format(image)
    if kind is not None:
        return TruncatedImageError(
            f"the image starts like a {kind} but its header is cut short or corrupt "
            f"({len(image):,} bytes)"
        )
    return InvalidImageError(f"the data is not a JPEG, PNG, WebP or BMP image: {_describe(image)}")


@dataclass(frozen=True)
class _JpegLayout:
    """A JPEG's first picture as its markers lay it out (a walk, no decoding)."""

    #: offsets where each piece of entropy-coded data ends (the next marker, fill bytes
    #: dropped): a scan, or with restart markers each restart interval of a scan
    piece_ends: tuple[int, ...]
    scans: int
    #: every coefficient of every component reaches full precision in some scan
    complete: bool


class _Segments:
    """Counts marker segments; refuses a JPEG with more than `MAX_JPEG_SEGMENTS`."""

    def __init__(self) -> None:
        self.count = 0

    def add(self) -> None:
        self.count += 1
        if self.count > MAX_JPEG_SEGMENTS:
            raise InvalidImageError(
                f"the JPEG image has more than {MAX_JPEG_SEGMENTS} marker segments (a camera "
                "frame has a few dozen): refused before decoding"
            )


def _coverage(segment: bytes, covered: dict[int, set[int]]) -> None:
    """Mark the coefficients an SOS header brings to full precision (Al = 0)."""
    count = segment[0]
    if len(segment) < 4 + 2 * count:
        return
    start, stop, approx = segment[1 + 2 * count : 4 + 2 * count]
    if approx & 0x0F == 0:
        for index in range(count):
            covered.setdefault(segment[1 + 2 * index], set()).update(range(start, stop + 1))


def _blocks(frame: bytes) -> int:
    """Blocks of 8x8 in the largest component plane of an SOF segment (an upper bound on the
    restart intervals a scan can have)."""
    height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
    return -(-width // 8) * -(-height // 8)


def _before_fill(image: bytes, marker: int) -> int:
    """Where the data before a marker ends: 0xFF fill bytes before a marker are not data."""
    while marker > 0 and image[marker - 1] == 0xFF:
        marker -= 1
    return marker


def _intervals(image: bytes, start: int, end: int, limit: int) -> list[int]:
    """Where the restart intervals of the entropy data in [start, end) end (RST markers)."""
    ends = []
    for found in _RESTART.finditer(image, start, end):
        ends.append(_before_fill(image, found.start()))
        if len(ends) > limit:
            raise InvalidImageError(
                "the JPEG image has more restart markers than its picture has intervals"
            )
    return ends


def _jpeg_layout(image: bytes) -> _JpegLayout:
    """Walk the marker segments and entropy-coded data of a JPEG up to its first EOI (or the
    end of the bytes), as libjpeg reads them: bytes between segments are skipped."""
    size, pos = len(image), 2
    ends: list[int] = []
    components: list[int] = []
    covered: dict[int, set[int]] = {}
    segments, scans, restart, blocks = _Segments(), 0, 0, 0
    while pos + 1 < size:
        if image[pos] != 0xFF or image[pos + 1] == 0xFF:  # junk or fill before a marker
            pos = image.find(b"\xff", pos + 1)
            if pos < 0:
                break
            continue
        marker = image[pos + 1]
        if marker == 0xD9:  # EOI
            break
        segments.add()
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # parameterless markers
            pos += 2
            continue
        length = int.from_bytes(image[pos + 2 : pos + 4], "big")
        segment = image[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and len(segment) >= 6:
            components = [segment[6 + 3 * i] for i in range(segment[5]) if 8 + 3 * i < len(segment)]
            covered = {c: set() for c in components}
            blocks = _blocks(segment)
        elif marker == 0xDD and len(segment) >= 2:  # DRI: restart markers every N MCUs
            restart = int.from_bytes(segment[:2], "big")
        elif marker == 0xDA and segment:  # SOS: scan header, then entropy-coded data
            scans += 1
            _coverage(segment, covered)
            # Without a restart interval an RST marker is no part of the data: it ends it.
            found = (_MARKER_IN_DATA if restart else _ANY_MARKER).search(image, min(pos, size))
            data_end = found.start() if found else size
            if restart:
                ends += _intervals(image, pos, data_end, blocks // restart + 1)
            pos = data_end
            ends.append(_before_fill(image, pos))
    complete = bool(components) and all(len(covered.get(c, ())) == 64 for c in components)
    return _JpegLayout(tuple(ends), scans, complete)


class _ScanCut(Exception):
    """Raised by `_load_jpeg` with what is wrong, for `_decode`'s message."""


def _jpeg_scans(image: bytes) -> _JpegLayout | None:
    """The layout of a JPEG's data; refuses one whose scans never bring the picture to full
    precision (a progressive file cut at a scan boundary, an EOI appended)."""
    layout = _jpeg_layout(image)
    if not layout.piece_ends:
        return None  # no image data: Pillow's header reading says what is wrong
    if not layout.complete:
        raise TruncatedImageError(
            f"the JPEG image is truncated: its {layout.scans} scans stop before the "
            f"picture is complete ({len(image):,} bytes)"
        )
    return layout


def _load_jpeg(opened: ImageFile.ImageFile, image: bytes, layout: _JpegLayout) -> None:
    """Decode a JPEG with libjpeg fed one piece of entropy-coded data at a time (a scan, or a
    restart interval), refusing any piece cut short.

    libjpeg treats any marker inside entropy-coded data as the end of the data and fills the
    missing blocks with grey, with only a warning Pillow ignores: a cut-off scan followed by a
    comment, a table, a restart marker or an EOI, or a header promising more rows than the
    data holds, would decode "fine". So the decoder never sees the marker after a piece until
    the piece is known complete: it gets the piece and filler (`_JPEG_FILLER`), nothing else.

    - The last piece of a one-scan (baseline) image: libjpeg must put out every row from
      that; a piece cut short leaves it waiting for data instead.
    - Any other piece: the test is where libjpeg waits. After a complete piece it looks for
      the next marker, and consumes any byte that is not one (all the filler, then a probe
      byte). In the middle of a piece it waits for entropy data, and never consumes a lone
      byte: refilling its bit buffer needs several. Then the marker, and at last the EOI.
    """
    tile = opened.tile[0]
    name, extents, offset, args = tile[0], tile[1], tile[2], tile[3]
    opened.load_prepare()
    decoder = Image._getdecoder(opened.mode, name, args, opened.decoderconfig)
    try:
        decoder.setimage(opened.im, extents)
        _feed(decoder, image, offset, layout)
    finally:
        decoder.cleanup()
    opened.tile = []
    opened.load_end()


def _feed(decoder: Any, image: bytes, start: int, layout: _JpegLayout) -> None:
    last = len(layout.piece_ends)
    for number, end in enumerate(layout.piece_ends, 1):
        piece = image[start:end] + _JPEG_FILLER
        consumed, error = decoder.decode(piece)
        if error < 0:
            raise _ScanCut("libjpeg could not decode its data")
        if consumed < 0:  # every row is out
            return
        final = number == last and layout.scans == 1
        if final or consumed < len(piece) or decoder.decode(b"\0")[0] != 1:
            raise _ScanCut(f"its data ends early (in piece {number} of {last})")
        start = end
    consumed, error = decoder.decode(b"\xff\xd9")
    if consumed >= 0 or error < 0:
        raise _ScanCut("the picture is incomplete after its last scan")


def _open(
    image: bytes, limits: ImageLimits
) -> tuple[ImageFile.ImageFile, _StrictReader, _JpegLayout | None]:
    """Validate sizes and read the header only (no pixel data decoded yet); for a JPEG also
    where its scans end (its segments counted and bounded before Pillow parses them)."""
    if not image:
        raise EmptyImageError("the image is empty (0 bytes)")
    if len(image) > limits.max_bytes:
        raise ImageTooLargeError(
            f"the image is {_human_bytes(len(image))} ({len(image):,} bytes), more than the "
            f"limit of {limits.max_bytes:,} bytes"
        )
    layout = _jpeg_scans(image) if image.startswith(b"\xff\xd8\xff") else None
    reader = _StrictReader(image)
    try:
        # Our own pixel limit below is the one that counts; Pillow's warning would be noise.
        # (catch_warnings is process-wide: a race can only affect this one warning category.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(reader, formats=FORMATS)
    except Image.DecompressionBombError as err:
        raise DecompressionBombError(
            f"the image has more pixels than Pillow's safety limit ({err})"
        ) from err
    except UnidentifiedImageError as err:
        raise _unreadable(image) from err
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # a plugin choked on the header
        raise _unreadable(image) from err
    width, height = opened.size
    if width * height > limits.max_pixels:
        raise DecompressionBombError(
            f"the image is {width}x{height} = {width * height:,} pixels, more than the limit "
            f"of {limits.max_pixels:,} pixels"
        )
    if width < 1 or height < 1:
        raise InvalidImageError(f"the image has no pixels ({width}x{height})")
    assert isinstance(opened, ImageFile.ImageFile)  # Image.open always returns one
    return opened, reader, layout


_ALPHA_MODES: Final = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _decode_cost(image: Image.Image) -> int:
    """Bytes per pixel to decode `image` and convert it to RGB (`_to_rgb`), at the peak.

    Pillow stores RGB, RGBA, CMYK and 32-bit modes in 4 bytes per pixel, 16-bit grey in 2,
    the others in 1; the conversion adds the RGB result (4), for alpha an RGBA copy, the
    background and the composite (12), for 16/32-bit grey a float32 and a uint8 plane (9).
    """
    mode = image.mode
    decoded = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    if mode == "RGB":
        return decoded
    if _has_alpha(image):
        return decoded + 12
    if mode.startswith("I") or mode == "F":
        return decoded + 9
    return decoded + 4


def _check_decoded_size(opened: Image.Image, limits: ImageLimits) -> None:
    """Refuse before `load()` when decoding and converting would exceed the memory limit."""
    width, height = opened.size  # after DCT scaling for a drafted JPEG
    needed = width * height * _decode_cost(opened)
    if needed > limits.max_decoded_bytes:
        raise DecompressionBombError(
            f"the {width}x{height} {opened.mode} image would take {_human_bytes(needed)} "
            f"to decode, more than the limit of {_human_bytes(limits.max_decoded_bytes)}"
        )


def draft_request(
    source_size: tuple[int, int],
    target_size: tuple[int, int],
    roi: Roi | None = None,
    resize_mode: ResizeMode = "stretch",
) -> tuple[int, int] | None:
    """The size to ask `Image.draft` for so the ROI crop keeps at least the target resolution.

    Returns None when no DCT scaling (factor >= 2) is possible. `stretch` needs both crop sides
    at the target size; `letterbox` only the side that limits the scale.
    """
    width, height = source_size
    crop_w = width * (roi.w if roi else 1.0)
    crop_h = height * (roi.h if roi else 1.0)
    ratios = (crop_w / target_size[0], crop_h / target_size[1])
    max_scale = min(ratios) if resize_mode == "stretch" else max(ratios)
    if max_scale < 2:
        return None
    # Pillow picks scale = min(W // w, H // h) rounded down to 8, 4, 2 or 1: never above ours.
    return math.ceil(width / max_scale), math.ceil(height / max_scale)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: grey/IR, CMYK, palette, 16-bit grey; alpha over black."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I"):  # 16-bit grey PNG (thermal/IR): scale, Pillow would clip at 255
        grey = np.asarray(image, dtype=np.float32)
        image = Image.fromarray((np.clip(grey, 0, 65535) / 257.0 + 0.5).astype(np.uint8), "L")
        mode = "L"
    if _has_alpha(image):
        # Transparent pixels carry arbitrary colours: a fixed background keeps them neutral.
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _decode(
    image: bytes,
    limits: ImageLimits,
    target_size: tuple[int, int] | None,
    roi: Roi | None,
    resize_mode: ResizeMode,
) -> tuple[Image.Image, tuple[int, int]]:
    opened, reader, layout = _open(image, limits)
    source_size = opened.size
    if target_size is not None and opened.format in ("JPEG", "MPO"):
        request = draft_request(source_size, target_size, roi, resize_mode)
        if request is not None:
            opened.draft("RGB", request)
    _check_decoded_size(opened, limits)
    reader.strict = True
    try:
        if layout is not None and opened.format in ("JPEG", "MPO"):
            _load_jpeg(opened, image, layout)
        opened.load()
    except _ScanCut as err:
        raise TruncatedImageError(
            f"the {opened.format} image is truncated: {err} ({len(image):,} bytes received "
            f"for a {source_size[0]}x{source_size[1]} image)"
        ) from None
    except _Truncated as err:
        raise TruncatedImageError(
            f"the {opened.format} image is truncated: its data ends early "
            f"({len(image):,} bytes received for a {source_size[0]}x{source_size[1]} image)"
        ) from err
    except Image.DecompressionBombError as err:
        raise DecompressionBombError(str(err)) from err
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise TruncatedImageError(
            f"the {opened.format} image is truncated or corrupt: {err}"
        ) from err
    return _to_rgb(opened), source_size


def decode(
    image: bytes,
    limits: ImageLimits = DEFAULT_LIMITS,
    target_size: tuple[int, int] | None = None,
    roi: Roi | None = None,
    *,
    resize_mode: ResizeMode = "stretch",
) -> Image.Image:
    """Validate and decode image bytes to an RGB PIL image of the whole frame.

    `target_size` is (width, height) of the model input: a JPEG is then decoded with DCT
    scaling to the smallest size whose `roi` crop still covers the target (fast, less memory).
    The result is the whole frame; `to_tensor` crops. Raises an `ImageError` subclass.
    """
    return _decode(image, limits, target_size, roi, resize_mode)[0]


def _crop_box(size: tuple[int, int], roi: Roi | None) -> tuple[float, float, float, float]:
    """ROI in (sub-)pixels of `size`; fractional so any DCT scale maps to the same region."""
    width, height = size
    if roi is None:
        return 0.0, 0.0, float(width), float(height)
    left, upper = roi.x * width, roi.y * height
    # At least one source pixel, inside the frame.
    right = min(float(width), max(left + 1.0, (roi.x + roi.w) * width))
    lower = min(float(height), max(upper + 1.0, (roi.y + roi.h) * height))
    return min(left, right - 1.0), min(upper, lower - 1.0), right, lower


def to_tensor(
    image: Image.Image, metadata: ModelMetadata, roi: Roi | None = None
) -> npt.NDArray[np.float32]:
    """Crop, resize (stretch or letterbox), reorder channels and normalise: (1, 3, H, W) float32.

    The array's memory is laid out as the program reads it (`metadata.input_layout`): NCHW
    (C-contiguous) or NHWC (a transposed view); `np.ascontiguousarray` gives NCHW memory.

    `mean`/`std` apply to 0..1 values in the model's channel order (for a BGR model, the first
    value is blue). Letterbox padding is the mean colour, i.e. exactly 0 after normalisation.
    """
    image = _to_rgb(image)
    target_w, target_h = metadata.input_width, metadata.input_height
    box = _crop_box(image.size, roi)
    crop_w, crop_h = box[2] - box[0], box[3] - box[1]
    if metadata.resize_mode == "letterbox":
        scale = min(target_w / crop_w, target_h / crop_h)
        size = (
            min(target_w, max(1, round(crop_w * scale))),
            min(target_h, max(1, round(crop_h * scale))),
        )
    else:
        size = (target_w, target_h)
    # Crop to the whole pixels around the box first: the resampling filter would otherwise
    # reach past the ROI edges and mix in what the ROI is meant to leave out.
    outer = (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3]))
    if outer != (0, 0, *image.size):
        image = image.crop(outer)
        box = (box[0] - outer[0], box[1] - outer[1], box[2] - outer[0], box[3] - outer[1])
    resized = image.resize(size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    if metadata.autocontrast:
        # One tone curve for all three channels (colours kept), ignoring the darkest and
        # brightest 1 %: a lamp or an IR-lit number plate must not set the range.
        resized = ImageOps.autocontrast(resized, cutoff=1, preserve_tone=True)
    pixels = np.asarray(resized, dtype=np.float32) * np.float32(1 / 255)  # (h, w, 3) RGB
    if metadata.channel_order == "BGR":
        pixels = pixels[..., ::-1]
    mean = np.asarray(metadata.mean, dtype=np.float32)
    std = np.asarray(metadata.std, dtype=np.float32)
    content = ((pixels - mean) / std).astype(np.float32, copy=False)  # (h, w, 3)
    if size == (target_w, target_h):
        hwc = content
    else:
        hwc = np.zeros((target_h, target_w, 3), dtype=np.float32)
        left, top = (target_w - size[0]) // 2, (target_h - size[1]) // 2
        hwc[top : top + size[1], left : left + size[0]] = content
    if metadata.input_layout == "NHWC":
        # A (1, 3, H, W) view over the NHWC buffer: no transpose copy for channels_last programs.
        return hwc[np.newaxis].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)[np.newaxis])


def prepare(
    image: bytes,
    metadata: ModelMetadata,
    roi: Roi | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> Prepared:
    """Bytes to model input, timing decode and preprocessing separately (milliseconds)."""
    start = time.perf_counter()
    decoded, source_size = _decode(
        image,
        limits,
        (metadata.input_width, metadata.input_height),
        roi,
        metadata.resize_mode,
    )
    decoded_at = time.perf_counter()
    tensor = to_tensor(decoded, metadata, roi)
    done = time.perf_counter()
    return Prepared(
        tensor=tensor,
        image_size=source_size,
        decode_ms=(decoded_at - start) * 1000.0,
        preprocess_ms=(done - decoded_at) * 1000.0,
    )
