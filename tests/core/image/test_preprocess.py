"""Preprocessing: every input kind, every error, ROI, letterbox, channel order, normalisation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from garagecam_core.errors import (
    DecompressionBombError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    TruncatedImageError,
)
from garagecam_core.metadata import LabelSpec, ModelMetadata
from garagecam_core.preprocess import (
    DEFAULT_LIMITS,
    ImageLimits,
    decode,
    draft_request,
    prepare,
    to_tensor,
)
from garagecam_core.roi import Roi
from tests.images import (
    BLUE,
    RED,
    encode,
    make_jpeg,
    make_png,
    png_header_only,
    scene,
    scene_jpeg,
    solid,
    split_image,
    truncated,
    with_jpeg_size,
)

COLOR = (200, 120, 40)
GREY_OF_COLOR = 135  # ITU-R 601 luma of COLOR, what Pillow's RGB -> L gives


def metadata(
    size: int | tuple[int, int] = 32,
    *,
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
    std: tuple[float, float, float] = (1.0, 1.0, 1.0),
    **kwargs: object,
) -> ModelMetadata:
    height, width = (size, size) if isinstance(size, int) else size
    return ModelMetadata(
        "test", height, width, (LabelSpec("door_open"),), mean=mean, std=std, **kwargs
    )  # type: ignore[arg-type]


def center_pixel(image: Image.Image) -> tuple[int, ...]:
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


# --- input kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "tolerance"),
    [
        (make_jpeg(64, 48, COLOR), COLOR, 4),
        (make_jpeg(64, 48, COLOR, mode="L"), (GREY_OF_COLOR,) * 3, 2),  # IR night frame
        (make_jpeg(64, 48, COLOR, mode="CMYK"), COLOR, 4),
        (make_png(64, 48, COLOR), COLOR, 0),
        (make_png(64, 48, COLOR, mode="RGBA"), COLOR, 0),
        (make_png(64, 48, COLOR, mode="L"), (GREY_OF_COLOR,) * 3, 0),
        (make_png(64, 48, COLOR, mode="LA"), (GREY_OF_COLOR,) * 3, 0),
        (make_png(64, 48, COLOR, mode="I;16"), (GREY_OF_COLOR,) * 3, 0),  # 16-bit, not clipped
        (encode(solid(64, 48, COLOR), "WEBP", lossless=True), COLOR, 0),
        (encode(solid(64, 48, COLOR), "BMP"), COLOR, 0),
    ],
    ids=["jpeg", "jpeg-gray", "jpeg-cmyk", "png", "png-rgba", "png-gray", "png-la", "png-16bit",
         "webp", "bmp"],
)  # fmt: skip
def test_every_input_kind_decodes_to_rgb(
    data: bytes, expected: tuple[int, int, int], tolerance: int
) -> None:
    image = decode(data)
    assert image.mode == "RGB"
    assert image.size == (64, 48)
    assert np.abs(np.subtract(center_pixel(image), expected)).max() <= tolerance


def test_palette_png_decodes_to_its_palette_colours() -> None:
    image = split_image(64, 48).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    decoded = decode(encode(image, "PNG"))
    assert decoded.getpixel((5, 5)) == image.convert("RGB").getpixel((5, 5))
    assert decoded.getpixel((60, 5)) == image.convert("RGB").getpixel((60, 5))


def test_transparent_pixels_become_black() -> None:
    rgba = Image.new("RGBA", (32, 32), (*COLOR, 255))
    rgba.paste((255, 255, 255, 0), (0, 0, 16, 32))  # left half: white but fully transparent
    decoded = decode(encode(rgba, "PNG"))
    assert decoded.getpixel((4, 4)) == (0, 0, 0)
    assert decoded.getpixel((28, 4)) == COLOR
    palette = rgba.convert("P")  # keeps transparency in the PNG's tRNS chunk
    assert decode(encode(palette, "PNG")).getpixel((4, 4)) == (0, 0, 0)


def test_prepare_output_shape_size_and_timings() -> None:
    data = scene_jpeg(640, 360)
    prepared = prepare(data, metadata((48, 64)))
    assert prepared.tensor.shape == (1, 3, 48, 64)
    assert prepared.tensor.dtype == np.float32
    assert prepared.tensor.flags.c_contiguous
    assert prepared.image_size == (640, 360)  # the source frame, not the DCT-scaled one
    assert prepared.decode_ms > 0
    assert prepared.preprocess_ms > 0


def test_training_and_inference_share_one_path() -> None:
    # No DCT scaling for PNG: decode + to_tensor (training) is exactly prepare (inference).
    data = encode(scene(320, 180), "PNG")
    meta = metadata(64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    roi = Roi(0.2, 0.1, 0.6, 0.8)
    np.testing.assert_array_equal(
        prepare(data, meta, roi).tensor, to_tensor(decode(data), meta, roi)
    )


# --- errors ------------------------------------------------------------------------------------


def test_empty() -> None:
    with pytest.raises(EmptyImageError, match=r"the image is empty \(0 bytes\)"):
        prepare(b"", metadata())


def test_too_many_bytes_is_refused_before_decoding() -> None:
    data = make_jpeg(64, 64)
    limits = ImageLimits(max_bytes=len(data) - 1)
    with pytest.raises(
        ImageTooLargeError,
        match=rf"{len(data):,} bytes\), more than the limit of {len(data) - 1:,}",
    ):
        prepare(data, metadata(), limits=limits)
    # Not even a valid image is looked at when it is too big.
    with pytest.raises(ImageTooLargeError, match="more than the limit of 10 bytes"):
        decode(b"x" * 11, ImageLimits(max_bytes=10))


@pytest.mark.parametrize(
    "data",
    [png_header_only(10_000, 5_000), with_jpeg_size(make_jpeg(16, 16), 10_000, 5_000)],
    ids=["png", "jpeg"],
)
def test_decompression_bomb_is_refused_from_the_header(data: bytes) -> None:
    # The pixel data behind these headers is tiny: only a header check can catch them.
    with pytest.raises(
        DecompressionBombError,
        match=r"10000x5000 = 50,000,000 pixels, more than the limit of 40,000,000 pixels",
    ):
        prepare(data, metadata())


def test_pixel_limit_is_configurable() -> None:
    data = make_png(100, 100)
    with pytest.raises(DecompressionBombError, match="100x100 = 10,000 pixels"):
        decode(data, ImageLimits(max_pixels=9_999))
    assert decode(data, ImageLimits(max_pixels=10_000)).size == (100, 100)


def test_pillows_own_bomb_error_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    # A user who raises max_pixels above Pillow's own limit still gets our error type.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    with pytest.raises(DecompressionBombError, match="more pixels than Pillow's safety limit"):
        decode(make_png(100, 100), ImageLimits(max_pixels=1_000_000))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>401 Unauthorized</body></html>", "a login or error page"),
        (b'{"error": "no frame"}', "JSON text"),
        (b"\x00\x01\x02\x03 definitely not an image", "starts with bytes 00 01 02 03"),
        (encode(solid(8, 8), "GIF"), "not a JPEG, PNG, WebP or BMP image"),
    ],
    ids=["html", "json", "binary", "gif"],
)
def test_not_an_image(data: bytes, message: str) -> None:
    with pytest.raises(InvalidImageError, match=message):
        prepare(data, metadata())


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("draft", [True, False])
def test_cut_off_jpeg(keep: float, draft: bool) -> None:
    data = truncated(scene_jpeg(640, 360), keep)
    with pytest.raises(TruncatedImageError, match=r"the JPEG image is truncated: its data ends"):
        decode(data, target_size=(64, 64) if draft else None)


def test_cut_off_jpeg_fails_even_if_pillow_tolerates_truncation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another library in the process may switch Pillow's global tolerance on.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = truncated(scene_jpeg(640, 360), 0.5)
    with pytest.raises(TruncatedImageError, match="640x360 image"):
        prepare(data, metadata())
    png = truncated(encode(scene(320, 180), "PNG"), 0.5)
    with pytest.raises(TruncatedImageError, match="the PNG image is truncated"):
        prepare(png, metadata())
    assert decode(scene_jpeg(64, 64)).size == (64, 64)  # complete images still load


def test_cut_off_png() -> None:
    with pytest.raises(TruncatedImageError, match="the PNG image is truncated"):
        decode(truncated(encode(scene(320, 180), "PNG"), 0.6))


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"\xff\xd8\xff\xe0\x00\x10JF", "JPEG"), (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG")],
)
def test_cut_off_header(data: bytes, kind: str) -> None:
    with pytest.raises(
        TruncatedImageError, match=rf"starts like a {kind} but its header is cut short"
    ):
        decode(data)


def test_default_limits() -> None:
    assert ImageLimits(max_bytes=20_000_000, max_pixels=40_000_000) == DEFAULT_LIMITS


# --- geometry ----------------------------------------------------------------------------------


def test_roi_is_cropped_before_the_resize() -> None:
    data = encode(split_image(200, 100), "PNG")
    meta = metadata(16)
    right = prepare(data, meta, Roi(0.5, 0.0, 0.5, 1.0)).tensor[0]
    left = prepare(data, meta, Roi(0.0, 0.0, 0.5, 1.0)).tensor[0]
    np.testing.assert_allclose(
        right, np.broadcast_to(np.divide(BLUE, 255)[:, None, None], right.shape), atol=1e-6
    )
    np.testing.assert_allclose(
        left, np.broadcast_to(np.divide(RED, 255)[:, None, None], left.shape), atol=1e-6
    )
    # Without an ROI both halves are there: left columns red, right columns blue.
    whole = prepare(data, meta).tensor[0]
    assert whole[0, :, 0].min() > whole[0, :, -1].max()
    assert whole[2, :, -1].min() > whole[2, :, 0].max()


def test_roi_with_jpeg_dct_scaling_keeps_the_region() -> None:
    # A large JPEG is DCT-scaled: the fractional ROI must still select the same region.
    data = encode(split_image(2560, 1440), "JPEG", quality=95)
    tensor = prepare(data, metadata(32), Roi(0.6, 0.2, 0.3, 0.6)).tensor[0]
    np.testing.assert_allclose(tensor.mean(axis=(1, 2)), np.divide(BLUE, 255), atol=0.02)


def test_tiny_roi_still_gives_a_full_tensor() -> None:
    prepared = prepare(make_png(100, 100, COLOR), metadata(16), Roi(0.999, 0.999, 0.001, 0.001))
    np.testing.assert_allclose(prepared.tensor[0, :, 8, 8], np.divide(COLOR, 255), atol=1e-6)


def test_stretch_resizes_to_the_input_size() -> None:
    data = encode(split_image(300, 100), "PNG")
    tensor = prepare(data, metadata((20, 40))).tensor
    assert tensor.shape == (1, 3, 20, 40)
    # The colour edge stays in the middle column: stretch keeps the horizontal layout.
    np.testing.assert_allclose(tensor[0, :, :, 5].mean(axis=1), np.divide(RED, 255), atol=1e-6)
    np.testing.assert_allclose(tensor[0, :, :, 34].mean(axis=1), np.divide(BLUE, 255), atol=1e-6)


def test_letterbox_keeps_aspect_and_pads_with_the_mean() -> None:
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    meta = metadata(64, mean=mean, std=std, resize_mode="letterbox")
    tensor = prepare(make_png(200, 100, COLOR), meta).tensor[0]
    expected = (np.divide(COLOR, 255) - mean) / np.asarray(std)
    # 200x100 -> 64x32 content centred vertically: 16 rows of padding above and below.
    np.testing.assert_array_equal(tensor[:, :16, :], 0.0)
    np.testing.assert_array_equal(tensor[:, 48:, :], 0.0)
    np.testing.assert_allclose(tensor[:, 16:48, :].mean(axis=(1, 2)), expected, atol=1e-5)
    # Portrait source into a landscape input: padding left and right.
    wide = metadata((32, 64), resize_mode="letterbox")
    portrait = prepare(make_png(100, 200, COLOR), wide).tensor[0]
    np.testing.assert_array_equal(portrait[:, :, :24], 0.0)
    np.testing.assert_array_equal(portrait[:, :, 40:], 0.0)
    np.testing.assert_allclose(
        portrait[:, :, 24:40].mean(axis=(1, 2)), np.divide(COLOR, 255), atol=1e-5
    )


def test_bgr_channel_order() -> None:
    data = make_png(32, 32, COLOR)
    rgb = prepare(data, metadata(8)).tensor[0, :, 4, 4]
    bgr = prepare(data, metadata(8, channel_order="BGR")).tensor[0, :, 4, 4]
    np.testing.assert_allclose(rgb, np.divide(COLOR, 255), atol=1e-6)
    np.testing.assert_allclose(bgr, np.divide(COLOR[::-1], 255), atol=1e-6)


def test_normalisation_maths() -> None:
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.5, 0.25)
    tensor = prepare(make_png(16, 16, COLOR), metadata(8, mean=mean, std=std)).tensor
    expected = (np.divide(COLOR, 255) - mean) / np.asarray(std)
    np.testing.assert_allclose(tensor[0, :, 3, 3], expected, rtol=1e-6)
    # For BGR, mean/std are listed in the model's (BGR) channel order.
    bgr = prepare(make_png(16, 16, COLOR), metadata(8, mean=mean, std=std, channel_order="BGR"))
    expected_bgr = (np.divide(COLOR[::-1], 255) - mean) / np.asarray(std)
    np.testing.assert_allclose(bgr.tensor[0, :, 3, 3], expected_bgr, rtol=1e-6)


# --- JPEG DCT scaling (draft) -----------------------------------------------------------------


def test_draft_request() -> None:
    # 2560x1440 to 224: both sides must stay >= 224, so 1440/224 = 6.4 limits the scale.
    assert draft_request((2560, 1440), (224, 224)) == (399, 224)
    # Letterbox only needs the limiting side (the width): scale up to 2560/224 = 11.4.
    assert draft_request((2560, 1440), (224, 224), resize_mode="letterbox") == (224, 126)
    # A small ROI needs more source pixels: a 20% crop of 1440 rows is only 288 rows.
    assert draft_request((2560, 1440), (224, 224), Roi(0.4, 0.4, 0.2, 0.2)) is None
    assert draft_request((2560, 1440), (224, 224), Roi(0.0, 0.0, 0.5, 0.5)) == (797, 448)
    assert draft_request((300, 300), (224, 224)) is None


@pytest.mark.parametrize(
    ("roi", "expected_size"),
    [
        (None, (640, 360)),
        (Roi(0.0, 0.0, 0.5, 0.5), (1280, 720)),
        (Roi(0.4, 0.4, 0.2, 0.2), (2560, 1440)),
    ],
)
def test_draft_never_undersamples_the_roi(roi: Roi | None, expected_size: tuple[int, int]) -> None:
    data = scene_jpeg(2560, 1440)
    image = decode(data, target_size=(224, 224), roi=roi)
    assert image.size == expected_size
    crop = (image.width * (roi.w if roi else 1), image.height * (roi.h if roi else 1))
    assert min(crop) >= 224


def test_draft_path_is_close_to_the_full_decode() -> None:
    """DCT scaling changes the result only as much as a different low-pass filter does.

    Measured on this scene: mean absolute difference 0.009 (normalised units, ImageNet std),
    i.e. about half a grey level of 255; the bound below leaves room for other libjpeg builds.
    """
    data = scene_jpeg(2560, 1440, quality=90)
    meta = metadata(224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    draft = prepare(data, meta).tensor
    full = to_tensor(decode(data), meta)  # no target size: full-resolution decode
    assert decode(data, target_size=(224, 224)).size == (640, 360)  # the draft did happen
    diff = np.abs(draft - full)
    assert diff.mean() < 0.02
    assert np.percentile(diff, 99) < 0.25
    # The two paths agree far better than two different scenes do.
    other = prepare(scene_jpeg(2560, 1440, door_open=True), meta).tensor
    assert np.abs(other - full).mean() > 10 * diff.mean()


def test_progressive_jpeg_is_dct_scaled_too() -> None:
    data = encode(scene(1280, 720), "JPEG", quality=90, progressive=True)
    assert decode(data, target_size=(160, 90)).size == (160, 90)
    baseline = prepare(scene_jpeg(1280, 720), metadata(64)).tensor
    np.testing.assert_allclose(prepare(data, metadata(64)).tensor, baseline, atol=0.1)


@pytest.mark.parametrize("resize_mode", ["stretch", "letterbox"])
def test_nhwc_programs_get_the_same_values_in_nhwc_memory(resize_mode: str) -> None:
    data = encode(split_image(300, 100), "PNG")
    nchw = prepare(data, metadata((24, 40), resize_mode=resize_mode)).tensor
    nhwc = prepare(data, metadata((24, 40), resize_mode=resize_mode, input_layout="NHWC")).tensor
    assert nchw.shape == nhwc.shape == (1, 3, 24, 40)
    np.testing.assert_array_equal(nchw, nhwc)
    assert nchw.flags.c_contiguous
    # ... but laid out as the channels_last program reads it, without a transpose copy.
    assert not nhwc.flags.c_contiguous
    assert nhwc.transpose(0, 2, 3, 1).flags.c_contiguous


# --- hardening: cut-off data behind an EOI, size mismatches, decoded-size bombs ----------------


def _cut_with_eoi(data: bytes, keep: float) -> bytes:
    """A JPEG cut to `keep` with an EOI marker appended: looks complete to a marker parser."""
    return data[: int(len(data) * keep)] + b"\xff\xd9"


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("draft", [True, False])
def test_cut_off_jpeg_with_an_eoi_appended_is_refused(keep: float, draft: bool) -> None:
    # libjpeg fills what is missing with grey and only warns: the image must not pass as good.
    data = _cut_with_eoi(scene_jpeg(1280, 720), keep)
    with pytest.raises(TruncatedImageError, match=r"the JPEG image is truncated: its data ends"):
        decode(data, target_size=(64, 64) if draft else None)


def test_cut_off_jpeg_with_eoi_is_refused_even_if_pillow_tolerates_truncation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(TruncatedImageError):
        prepare(_cut_with_eoi(scene_jpeg(640, 360), 0.5), metadata())


def test_jpeg_whose_header_promises_more_rows_than_its_data_holds() -> None:
    # 1280x720 of data behind a header that says 2000x2000 (under every size limit).
    data = with_jpeg_size(scene_jpeg(1280, 720), 2000, 2000)
    for target in (None, (64, 64)):
        with pytest.raises(TruncatedImageError, match="2000x2000 image"):
            decode(data, target_size=target)


@pytest.mark.parametrize(
    "options",
    [{}, {"restart_marker_blocks": 4}, {"progressive": True}, {"subsampling": 0}],
    ids=["baseline", "restart-markers", "progressive", "444"],
)
def test_intact_jpegs_decode_exactly_as_before(options: dict[str, object]) -> None:
    # The EOI handling must not change a single pixel of a complete picture.
    data = encode(scene(640, 360), "JPEG", quality=85, **options)
    with Image.open(io.BytesIO(data)) as reference:
        expected = np.asarray(reference.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(decode(data)), expected)


def test_jpeg_with_bytes_after_its_eoi_still_decodes() -> None:
    # Some cameras pad their snapshots after the end-of-image marker.
    data = scene_jpeg(320, 180) + b"\x00" * 100
    assert decode(data).size == (320, 180)


def test_progressive_jpeg_missing_its_last_scans_is_refused() -> None:
    data = _cut_with_eoi(encode(scene(640, 360), "JPEG", quality=85, progressive=True), 0.5)
    with pytest.raises(TruncatedImageError, match="truncated"):
        decode(data)


def test_small_file_that_decodes_huge_is_refused_before_decoding() -> None:
    # 6324x6324 RGBA is under the 40 MP header limit but decodes to 160 MB, and the alpha
    # compositing to RGB triples that: the decode-memory limit refuses it first.
    data = encode(Image.new("RGBA", (6324, 6324), (10, 20, 30, 255)), "PNG")
    assert len(data) < 200_000
    with pytest.raises(
        DecompressionBombError, match=r"6324x6324 RGBA image would take 639.9 MB to decode"
    ):
        decode(data)


def test_decoded_size_limit_counts_after_dct_scaling() -> None:
    data = scene_jpeg(1280, 720)  # 3.7 MB decoded in full, 0.2 MB drafted for a 64x64 input
    limits = ImageLimits(max_decoded_bytes=1_000_000)
    with pytest.raises(DecompressionBombError, match=r"1280x720 RGB image would take 3\.7 MB"):
        decode(data, limits)
    assert decode(data, limits, target_size=(64, 64)).size == (160, 90)


@pytest.mark.parametrize(
    ("mode", "size", "allowed"),
    [
        ("L", (6000, 6000), False),  # 36 MP grey: 36 MB decoded + 144 MB as RGB
        ("RGB", (6300, 6300), True),  # 39.7 MP RGB, under the header limit: 159 MB
        ("RGBA", (3840, 2160), True),  # 4K with alpha: 133 MB with the compositing
        ("RGBA", (4000, 3000), False),  # 12 MP with alpha: 192 MB
    ],
)
def test_decode_memory_limit_by_mode(mode: str, size: tuple[int, int], allowed: bool) -> None:
    from garagecam_core.preprocess import _check_decoded_size

    image = Image.new(mode, (8, 8))
    image._size = size  # the check reads only the header's size and mode
    if allowed:
        _check_decoded_size(image, DEFAULT_LIMITS)
    else:
        with pytest.raises(DecompressionBombError, match=r"more than the limit of 160\.0 MB"):
            _check_decoded_size(image, DEFAULT_LIMITS)


def test_a_wav_file_is_not_described_as_a_webp() -> None:
    wav = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + b"\x00" * 28
    with pytest.raises(InvalidImageError, match=r"a RIFF 'WAVE' file .*not a WebP image"):
        decode(wav)
    webp = encode(solid(8, 8), "WEBP")
    with pytest.raises(TruncatedImageError, match="starts like a WebP"):
        decode(webp[:20])


def test_multi_picture_jpeg_decodes_its_first_picture_and_refuses_a_cut_one() -> None:
    # MPO (phones, stereo cameras): the first picture's EOI is in the middle of the file.
    buffer = io.BytesIO()
    scene(320, 180).save(buffer, "MPO", save_all=True, append_images=[scene(320, 180, True)])
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as reference:
        expected = np.asarray(reference.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(decode(data)), expected)
    with pytest.raises(TruncatedImageError, match="the MPO image is truncated"):
        decode(_cut_with_eoi(data, 0.25))
