"""The dominant colour: the most common of 512 colour buckets, for the record's ``dominant_color``."""

from __future__ import annotations

import numpy as np

from imagepipe_analysis.image import AnalysisImage

LEVELS = 8  # per channel: buckets of 32 values


def dominant_colour(image: AnalysisImage) -> str:
    """The centre of the most common bucket as ``#rrggbb``, transparent pixels (alpha < 128) left out; among
    equally common buckets the highest (red first, then green, then blue); black when nothing is opaque."""
    pixels = image.pixels()
    pixels = pixels.reshape(-1, pixels.shape[2])
    if image.has_alpha:
        pixels = pixels[pixels[:, 3] >= 128]
    if not len(pixels):
        return "#000000"
    buckets = pixels[:, :3].astype(np.int64) >> 5
    counts = np.bincount(buckets[:, 0] * LEVELS * LEVELS + buckets[:, 1] * LEVELS + buckets[:, 2], minlength=512)
    best = len(counts) - 1 - int(np.argmax(counts[::-1]))  # argmax takes the first: reversed, the highest
    red, green, blue = (value * 32 + 16 for value in (best // 64, best // 8 % 8, best % 8))
    return f"#{red:02x}{green:02x}{blue:02x}"
