"""What must agree across engines, computed from one small engine-neutral image: each engine shrinks its
filtered picture to at most :data:`SIZE` pixels a side, 8-bit RGBA, and hands the raw bytes here. Perceptual
hashes, placeholders and smart-crop boxes belong here too, computed from the same input."""

from __future__ import annotations

from dataclasses import dataclass

SIZE = 64  # the analysis image's longest side


@dataclass(frozen=True)
class AnalysisImage:
    """Raw 8-bit RGBA pixels, row by row, at most SIZE x SIZE."""

    width: int
    height: int
    rgba: bytes


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """The analysis image's size for a picture of ``width`` x ``height``: never upscaled."""
    factor = min(SIZE / width, SIZE / height, 1.0)
    return max(1, round(width * factor)), max(1, round(height * factor))


def dominant_colour(image: AnalysisImage) -> str:
    """The centre of the most common colour bucket (8 levels per channel), ignoring transparent pixels."""
    counts: dict[tuple[int, int, int], int] = {}
    rgba = image.rgba
    for at in range(0, len(rgba) - 3, 4):
        if rgba[at + 3] >= 128:
            bucket = (rgba[at] >> 5, rgba[at + 1] >> 5, rgba[at + 2] >> 5)
            counts[bucket] = counts.get(bucket, 0) + 1
    if not counts:
        return "#000000"
    return bucket_colour(max(counts, key=lambda k: (counts[k], k)))


def bucket_colour(bucket: tuple[int, int, int]) -> str:
    """The hex colour at the centre of a bucket of 32 levels per channel."""
    r, g, b = (v * 32 + 16 for v in bucket)
    return f"#{r:02x}{g:02x}{b:02x}"
