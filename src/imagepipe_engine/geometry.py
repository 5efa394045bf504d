"""Sizes every engine agrees on: the box a variant fills, how much it shrinks, how it rounds, where cover
crops. Pure arithmetic, shared so that both engines produce the same dimensions by construction."""

from __future__ import annotations

import math
from collections.abc import Sequence

from imagepipe.models import Fit, Variant

Size = tuple[int, int]


def box(variant: Variant, cap: int) -> Size:
    """The variant's box, each side clamped to the output cap; a missing side is unbounded (the cap)."""
    return min(variant.width or cap, cap), min(variant.height or cap, cap)


def scale(variant: Variant, size: Size, cap: int) -> float:
    """How much of an image of ``size`` the variant needs, before cropping or padding: below 1 shrinks."""
    (box_w, box_h), (width, height) = box(variant, cap), size
    if variant.fit is Fit.COVER:
        return max(box_w / width, box_h / height)
    within = min(box_w / width, box_h / height)
    return min(within, 1.0) if variant.fit is Fit.INSIDE else within  # inside never upscales


def scaled(size: Size, factor: float) -> Size:
    """``size`` times ``factor``, rounded half to even, never below one pixel."""
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def cover(size: Size, target: Size) -> tuple[Size, Size]:
    """Cover as a resize of the whole image to the first size returned, then a crop of ``target`` at the
    offset returned (centred, rounded down): the same pixel grid for every engine."""
    factor = max(target[0] / size[0], target[1] / size[1])
    whole = max(target[0], round(size[0] * factor)), max(target[1], round(size[1] * factor))
    return whole, padding(target, whole)


def cover_region(size: Size, target: Size) -> tuple[float, float, float, float]:
    """The same crop as :func:`cover`, in the source's coordinates: (left, top, right, bottom)."""
    whole, (left, top) = cover(size, target)
    x_scale, y_scale = size[0] / whole[0], size[1] / whole[1]
    return left * x_scale, top * y_scale, (left + target[0]) * x_scale, (top + target[1]) * y_scale


def decode_scale(variants: Sequence[Variant], size: Size, cap: int, analysis_side: int) -> float:
    """How much of an image of ``size`` decoding must keep: what the largest variant needs, and never less
    than the analysis image's ``analysis_side``, so its hash and crop do not depend on the recipe."""
    needed = max(scale(v, size, cap) for v in variants)
    return min(1.0, max(needed, analysis_side / max(size)))


def jpeg_shrink(size: Size, factor: float) -> int:
    """The largest JPEG DCT reduction (1, 2, 4 or 8) that still leaves ``size * factor`` pixels: what Pillow's
    draft() picks, so both engines start resampling from the same reduced image."""
    want_w, want_h = math.ceil(size[0] * factor), math.ceil(size[1] * factor)
    room = min(size[0] // max(1, want_w), size[1] // max(1, want_h))
    return next(s for s in (8, 4, 2, 1) if s <= max(1, room))


def padding(inner: Size, outer: Size) -> Size:
    """Where contain places an image of ``inner`` size, centred in ``outer``."""
    return (outer[0] - inner[0]) // 2, (outer[1] - inner[1]) // 2
