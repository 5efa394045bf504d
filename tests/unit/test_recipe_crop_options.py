"""The recipe's crop options: ``gravity`` on a cover variant, ``focus`` on the recipe, both validated."""

from __future__ import annotations

import pytest

from imagepipe.errors import InvalidRecipe
from imagepipe.models import DEFAULT_RECIPE, Focus, Recipe
from imagepipe.recipes import parse_recipe
from imagepipe.settings import Settings

COVER = '{"name": "sq", "width": 100, "height": 100, "fit": "cover"'


def test_crop_options_default_to_the_centre_and_no_focus() -> None:
    recipe = parse_recipe(f'{{"variants": [{COVER}}}]}}', Settings())
    assert recipe.variants[0].gravity == "center"
    assert recipe.focus is None
    assert recipe.animated == "first_frame"
    assert parse_recipe(f'{{"variants": [{COVER}}}], "animated": "keep"}}', Settings()).animated == "keep"
    assert all(variant.gravity == "center" for variant in DEFAULT_RECIPE.variants)


def test_smart_gravity_and_a_focus_round_trip() -> None:
    raw = f'{{"variants": [{COVER}, "gravity": "smart"}}], "focus": {{"x": 0.25, "y": 1}}}}'
    recipe = parse_recipe(raw, Settings())
    assert recipe.variants[0].gravity == "smart"
    assert recipe.focus == Focus(x=0.25, y=1.0)
    assert Recipe.model_validate_json(recipe.model_dump_json()) == recipe


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (f'{{"variants": [{COVER}, "gravity": "north"}}]}}', "gravity"),
        ('{"variants": [{"name": "a", "width": 10, "gravity": "smart"}]}', "needs fit 'cover'"),
        (f'{{"variants": [{COVER}}}], "focus": {{"x": 1.5, "y": 0.5}}}}', "focus.x"),
        (f'{{"variants": [{COVER}}}], "focus": {{"x": 0.5}}}}', "focus.y"),
        (f'{{"variants": [{COVER}}}], "focus": {{"x": 0.5, "y": -0.1}}}}', "focus.y"),
        (f'{{"variants": [{COVER}}}], "focus": {{"x": 0.5, "y": 0.5, "z": 1}}}}', "focus.z"),
        (f'{{"variants": [{COVER}}}], "animated": "all"}}', "animated"),
    ],
)
def test_bad_crop_options_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRecipe) as err:
        parse_recipe(raw, Settings())
    assert reason in err.value.message
