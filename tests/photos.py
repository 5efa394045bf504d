"""Photo-like scenes made in the test: a sky-to-ground gradient, shapes at random places, lens blur, sensor
noise. Each seed is a different scene; the same seed is the same picture at any size."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, width: int = 1200, height: int = 900) -> Image.Image:
    rng = np.random.default_rng(seed)
    # the gradient at a random angle between two random colours
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    ramp = (ramp - ramp.min()) / max(1e-9, float(np.ptp(ramp)))
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    pixels = start + ramp[..., None] * (end - start)
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    scale = max(width, height)
    for _ in range(int(rng.integers(6, 12))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.04, 0.25, 2) * scale
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(scale / 600))
    noise = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8), "RGB")


def reencoded(image: Image.Image, fmt: str, **params: object) -> Image.Image:
    """``image`` after a round trip through ``fmt`` (what a re-upload of a saved copy brings)."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    buffer.seek(0)
    decoded = Image.open(buffer)
    decoded.load()
    return decoded
