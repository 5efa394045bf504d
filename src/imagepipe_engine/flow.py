"""The one order every engine renders in: decode once, take the analysis image before the filters, filter
once, encode every variant, animate the variants that stay animated, describe the source. Each engine brings
its own steps (``Steps``); the sequence, the AVIF check and the progress reports live here, once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from imagepipe.errors import InvalidImage, InvalidRecipe
from imagepipe.models import Filter, OutputFormat, Recipe
from imagepipe_analysis import AnalysisImage
from imagepipe_engine import analysis, animation, probe
from imagepipe_engine.contract import Limits, Rendered, RenderedVariant, ReportProgress, no_progress

Pixels = TypeVar("Pixels")


@dataclass(frozen=True)
class Steps(Generic[Pixels]):
    """What an engine does at each step, on its own kind of pixels."""

    can_encode_avif: Callable[[], bool]
    decode: Callable[[bytes, Recipe, Limits], tuple[probe.Header, Pixels]]
    analysis_image: Callable[[Pixels], AnalysisImage]
    filtered: Callable[[Pixels, Sequence[Filter]], Pixels]
    render_variants: Callable[[Pixels, Recipe, int, AnalysisImage, ReportProgress], list[RenderedVariant]]
    animated: Callable[
        [bytes, probe.Header, Recipe, Limits, AnalysisImage, list[RenderedVariant]], list[RenderedVariant]
    ]


def render(
    steps: Steps[Pixels], data: bytes, recipe: Recipe, limits: Limits, progress: ReportProgress | None = None
) -> Rendered:
    """Decode ``data`` once, apply the recipe's filters once, and encode every variant, largest first, telling
    ``progress`` each step (contract.py)."""
    report = progress or no_progress
    if not data:
        raise InvalidImage("the file is empty")
    if any(v.format is OutputFormat.AVIF for v in recipe.variants) and not steps.can_encode_avif():
        raise InvalidRecipe("this worker cannot encode AVIF")
    report("decoding", 0, len(recipe.variants))
    header, image = steps.decode(data, recipe, limits)
    small = steps.analysis_image(image)  # before the filters: a grayscale recipe changes no hash
    image = steps.filtered(image, recipe.filters)
    variants = steps.render_variants(image, recipe, limits.max_output_dimension, small, report)
    if animation.animates(recipe, header):
        variants = steps.animated(data, header, recipe, limits, small, variants)
    return Rendered(variants=variants, metadata=probe.metadata(header, data, analysis.findings(small)))
