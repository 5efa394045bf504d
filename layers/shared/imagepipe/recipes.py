"""Turning untrusted recipe input into a :class:`Recipe` within this deployment's limits."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from imagepipe.errors import InvalidRecipe
from imagepipe.models import MAX_DIMENSION, OutputFormat, Recipe, Variant
from imagepipe.settings import Settings


def parse_recipe(raw: str | dict[str, Any] | Recipe | None, settings: Settings) -> Recipe:
    """The recipe to use: the default when none is given, else the given one if it is within bounds."""
    if raw is None or raw == "":
        return settings.default_recipe
    try:
        if isinstance(raw, Recipe):
            recipe = raw
        elif isinstance(raw, str):
            recipe = Recipe.model_validate_json(raw)
        else:
            recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRecipe(_describe(exc, settings)) from exc
    _check_cost(recipe, settings)
    return recipe


# AVIF encodes a 2048 px square in 2.4 s of CPU at quality 100, WebP in 0.27 s, PNG 0.24 s, JPEG 0.03 s
# (docs/benchmarks.md): its pixels weigh more in a recipe's budget.
AVIF_COST = 4


def cost_factor(variant: Variant) -> int:
    return AVIF_COST if variant.format is OutputFormat.AVIF else 1


def output_box(variant: Variant, cap: int) -> tuple[int, int]:
    """The most pixels a variant can have: its box, a missing side counting as ``cap``."""
    return min(variant.width or cap, cap), min(variant.height or cap, cap)


def side_limit(variant: Variant, settings: Settings) -> int:
    """The largest side this variant may have (AVIF's is smaller: its encoder is the slowest)."""
    avif = variant.format is OutputFormat.AVIF
    return settings.max_avif_dimension if avif else settings.max_output_dimension


def _check_cost(recipe: Recipe, settings: Settings) -> None:
    """Bound the work one recipe can ask of a worker: sizes per variant, AVIF sizes, total output pixels."""
    for variant in recipe.variants:
        limit = side_limit(variant, settings)
        for side in (variant.width, variant.height):
            if side is not None and side > limit:
                what = "an AVIF variant" if variant.format is OutputFormat.AVIF else "a variant"
                raise InvalidRecipe(f"variant '{variant.name}': {side} px exceeds the limit of {limit} px for {what}")
    total = sum(math.prod(output_box(v, side_limit(v, settings))) * cost_factor(v) for v in recipe.variants)
    if total > settings.max_recipe_pixels:
        raise InvalidRecipe(
            f"the variants add up to {total / 1e6:.1f} MP of output (an AVIF pixel counts {AVIF_COST} times, "
            "a side left out as the largest that variant may have); the limit is "
            f"{settings.max_recipe_pixels / 1e6:.1f} MP"
        )


def _describe(exc: ValidationError, settings: Settings) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "recipe"
        message = err["msg"]
        if err["type"] == "less_than_equal" and err["loc"][-1:] in (("width",), ("height",)):
            # the model's bound is the most any deployment may allow; this one's is the setting's
            message = f"at most {min(settings.max_output_dimension, MAX_DIMENSION)} px"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
