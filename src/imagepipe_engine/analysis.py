"""What both engines take from the one analysis image (``imagepipe_analysis``): the record's dominant colour,
placeholders and perceptual hash, and where a smart or focused cover variant cuts.

Each engine makes the analysis image from its decoded source (upright, sRGB) before any filter, so a
grayscale recipe changes neither the hash nor the crop; the Pillow engine with ``from_pil``, the vips engine
by box-shrinking as Pillow's ``reducing_gap`` does and handing the rest to ``from_pil``.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagepipe.models import Fit, Focus, Grayscale, Placeholder, Recipe, Variant
from imagepipe_analysis import (
    MAX_SIDE,
    AnalysisImage,
    Box,
    crop_box,
    dominant_colour,
    phash,
    placeholders,
    source_box,
)
from imagepipe_engine import geometry


@dataclass(frozen=True)
class Findings:
    """What the analysis image says about the source, for the record's metadata."""

    dominant_color: str
    placeholder: Placeholder
    phash: str


def findings(image: AnalysisImage) -> Findings:
    made = placeholders(image)
    return Findings(dominant_colour(image), Placeholder(**made), phash(image))


def reduced_size(recipe: Recipe, size: geometry.Size, cap: int) -> geometry.Size | None:
    """The size both engines resample a decoded source of ``size`` to before anything else, or None to keep
    every decoded pixel: the largest variant's, when that is an inside fit smaller than the source.

    It changes no variant: the largest is resampled once from the decoded pixels either way, and the smaller
    ones are resized from it as they would be. It lets libvips resample as the loader streams rows out, never
    holding the whole source (most of the vips engine's lead over Pillow), and gives both engines the same
    picture to make the analysis image from, already small. It is not made when a filter's effect depends on
    the scale it runs at (blur, sharpen, autocontrast's histogram), or when the largest variant leaves the
    analysis image too few pixels to be made from (less than three times its side).
    """
    if any(not isinstance(step, Grayscale) for step in recipe.filters):
        return None
    largest = max(recipe.variants, key=lambda v: geometry.scale(v, size, cap))  # the first, as a stable sort
    target = geometry.scaled(size, geometry.scale(largest, size, cap))
    if largest.fit is not Fit.INSIDE or target == size or max(target) < 3 * MAX_SIDE:
        return None
    return target


def cut(image: AnalysisImage, variant: Variant, focus: Focus | None, source: geometry.Size, cap: int) -> Box | None:
    """Where a cover variant cuts ``source`` when the recipe has a focus or the variant smart gravity; None
    for a centred cut, which the engines make on their own exact grid (geometry.cover)."""
    if variant.fit is not Fit.COVER or (focus is None and variant.gravity == "center"):
        return None
    width, height = geometry.box(variant, cap)
    point = (focus.x, focus.y) if focus is not None else None
    chosen = crop_box(image, width, height, variant.gravity, point)
    return source_box(chosen, (image.width, image.height), source, width, height)
