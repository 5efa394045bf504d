"""What both engines take from the one analysis image (``imagepipe_analysis``): the record's dominant colour,
placeholders and perceptual hash, and where a smart or focused cover variant cuts.

Each engine makes the analysis image from its decoded source (upright, sRGB) before any filter, so a
grayscale recipe changes neither the hash nor the crop; the Pillow engine with ``from_pil``, the vips engine
by box-shrinking as Pillow's ``reducing_gap`` does and handing the rest to ``from_pil``.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagepipe.models import Fit, Focus, Placeholder, Variant
from imagepipe_analysis import AnalysisImage, Box, crop_box, dominant_colour, phash, placeholders, source_box
from imagepipe_engine import geometry

REDUCING_GAP = 3.0  # from_pil's: a box reduction leaves at least this much for the Lanczos pass


@dataclass(frozen=True)
class Findings:
    """What the analysis image says about the source, for the record's metadata."""

    dominant_color: str
    placeholder: Placeholder
    phash: str


def findings(image: AnalysisImage) -> Findings:
    made = placeholders(image)
    return Findings(dominant_colour(image), Placeholder(**made), phash(image))


def box_reduction(size: geometry.Size, target: geometry.Size) -> tuple[int, int]:
    """The integer box reduction Pillow's ``resize(reducing_gap=3)`` makes before resampling ``size`` to
    ``target``: the vips engine shrinks by the same factors, so both resample the same picture."""
    return (
        max(1, int(size[0] / target[0] / REDUCING_GAP)),
        max(1, int(size[1] / target[1] / REDUCING_GAP)),
    )


def cut(image: AnalysisImage, variant: Variant, focus: Focus | None, source: geometry.Size, cap: int) -> Box | None:
    """Where a cover variant cuts ``source`` when the recipe has a focus or the variant smart gravity; None
    for a centred cut, which the engines make on their own exact grid (geometry.cover)."""
    if variant.fit is not Fit.COVER or (focus is None and variant.gravity == "center"):
        return None
    width, height = geometry.box(variant, cap)
    point = (focus.x, focus.y) if focus is not None else None
    chosen = crop_box(image, width, height, variant.gravity, point)
    return source_box(chosen, (image.width, image.height), source, width, height)
