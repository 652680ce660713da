"""Training augmentations at the PIL level, before the shared `preprocess.to_tensor`.

They mimic what changes between snapshots of one camera: daylight and exposure, IR night
frames (grey, noisy), a slightly moved or zoomed camera, sensor noise, JPEG compression.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps


def _crop_shift(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Random crop keeping 80-100% of each side: a small shift and zoom of the camera."""
    width, height = image.size
    scale = rng.uniform(0.8, 1.0)
    aspect = rng.uniform(0.92, 1.08)
    crop_w = min(width, round(width * scale * aspect))
    crop_h = min(height, round(height * scale / aspect))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    return image.crop((left, top, left + crop_w, top + crop_h))


def augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One random variant of an RGB image (same mode, possibly a different size)."""
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if rng.random() < 0.8:
        image = _crop_shift(image, rng)
    if rng.random() < 0.25:
        image = image.rotate(rng.uniform(-4.0, 4.0), Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.2:  # IR night frame
        image = image.convert("L").convert("RGB")
    elif rng.random() < 0.5:
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.2:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        pixels = np.asarray(image, dtype=np.float32)
        noisy = pixels + rng.normal(0.0, rng.uniform(2.0, 10.0), pixels.shape)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(30, 91)))
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return image
