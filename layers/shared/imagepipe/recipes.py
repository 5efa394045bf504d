"""Turning untrusted recipe input into a :class:`Recipe` within this deployment's limits."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from imagepipe.errors import InvalidRecipe
from imagepipe.models import Recipe
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
        raise InvalidRecipe(_describe(exc)) from exc
    limit = settings.max_output_dimension
    for variant in recipe.variants:
        for side in (variant.width, variant.height):
            if side is not None and side > limit:
                raise InvalidRecipe(f"variant '{variant.name}': {side} px exceeds the limit of {limit} px")
    return recipe


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "recipe"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
