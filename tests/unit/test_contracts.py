"""Pure contracts: recipe bounds, key scheme, job serializer."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO
from imagepipe import jobs, keys
from imagepipe.errors import InvalidRecipe
from imagepipe.models import DEFAULT_RECIPE, MAX_FILTERS, Fit, OutputFormat, Recipe
from imagepipe.recipes import parse_recipe
from imagepipe.settings import Settings


def test_default_recipe_when_none_given() -> None:
    assert parse_recipe(None, Settings()) == DEFAULT_RECIPE
    assert parse_recipe("", Settings()) == DEFAULT_RECIPE


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"variants": []}', "variants"),
        ('{"variants": [{"name": "a"}]}', "width, a height"),
        ('{"variants": [{"name": "a", "width": 10}, {"name": "a", "width": 20}]}', "unique"),
        ('{"variants": [{"name": "a", "width": 10, "fit": "cover"}]}', "both width and height"),
        ('{"variants": [{"name": "a", "width": 10, "quality": 0}]}', "quality"),
        ('{"variants": [{"name": "a", "width": 10, "format": "bmp"}]}', "format"),
        ('{"variants": [{"name": "../x", "width": 10}]}', "name"),
        ('{"variants": [{"name": "a", "width": 5000}]}', "5000 px exceeds"),
        ('{"variants": [{"name": "a", "width": 99999999}]}', "width: at most 4096 px"),  # the setting's, not 8192
        ('{"variants": [{"name": "a", "width": 10}], "filters": [{"op": "blur", "radius": 999}]}', "radius"),
        ('{"variants": [{"name": "a", "width": 10}], "filters": [{"op": "rm -rf"}]}', "filters"),
        ('{"variants": [{"name": "a", "width": 10}], "extra": 1}', "extra"),
        ('{"variants": [{"name": "a", "width": 3000, "format": "avif"}]}', "2048 px for an AVIF variant"),
        (
            '{"variants": [' + ",".join(f'{{"name": "v{i}", "width": 4096, "height": 4096}}' for i in range(2)) + "]}",
            "33.6 MP of output",
        ),
        (
            '{"variants": [{"name": "a", "width": 4096}, {"name": "b", "height": 4096}]}',
            "a side left out as the largest",
        ),
        (
            '{"variants": [{"name": "a", "width": 2048, "format": "avif"}, '
            '{"name": "b", "height": 2048, "format": "avif"}]}',
            "an AVIF pixel counts 4 times",
        ),
        ('{"variants": [{"name": "a", "width": true}]}', "width"),  # not 1 px
        ('{"variants": [{"name": "a", "width": "10"}]}', "width"),
        ('{"variants": [{"name": "a", "width": 10.5}]}', "width"),
        ('{"variants": [{"name": "a", "width": 10, "quality": "90"}]}', "quality"),
        ("not json", "recipe"),
    ],
)
def test_recipe_out_of_bounds_is_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRecipe) as err:
        parse_recipe(raw, Settings())
    assert reason in err.value.message
    assert err.value.code == "invalid_recipe"


def test_an_avif_side_left_out_counts_as_the_largest_an_avif_may_have() -> None:
    recipe = parse_recipe('{"variants": [{"name": "a", "width": 2048, "format": "avif"}]}', Settings())
    assert recipe.variants[0].width == 2048  # 2048 x 2048 x 4 = 16.8 MP, not 2048 x 4096 x 4


def test_the_recipes_benchmarked_as_the_worst_are_allowed_and_one_more_variant_is_not() -> None:
    spec = importlib.util.spec_from_file_location("worst_recipe", REPO / "benchmarks" / "worst_recipe.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for raw in module.CANDIDATES.values():
        recipe = parse_recipe(raw, Settings())
        one_more = {**raw, "variants": [*raw["variants"], {"name": "more", "width": 1024, "height": 1024}]}
        with pytest.raises(InvalidRecipe, match="MP of output"):
            parse_recipe(one_more, Settings())
        assert len(recipe.filters) == MAX_FILTERS


def test_valid_recipe_round_trips() -> None:
    raw = '{"variants": [{"name": "sq", "width": 100, "height": 100, "fit": "contain", "format": "avif"}]}'
    recipe = parse_recipe(raw, Settings())
    assert recipe.variants[0].fit is Fit.CONTAIN and recipe.variants[0].format is OutputFormat.AVIF
    assert Recipe.model_validate_json(recipe.model_dump_json()) == recipe


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\My Photo (1).JPG", "My-Photo-1-.JPG"),
        ("Ça été.png", "Ca-ete.png"),
        ("", "upload"),
        (None, "upload"),
        ("....", "upload"),
        ("a" * 300 + ".jpg", "a" * 96 + ".jpg"),
        ("a" * 300 + ".not-an-extension-at-all", "a" * 100),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override shows "exe.jpg"
        ("\u202e\u2066photo\u200b.jpg", "photo.jpg"),  # bidi isolates and zero-width spaces
        ("a\x00b\x1bc\x7f.jpg", "abc.jpg"),  # NUL, ESC and DEL never reach a key
        ("line\r\nbreak.jpg", "linebreak.jpg"),
        ("..\uff0f..\uff0fsecret.png", "secret.png"),  # full-width solidus
        ("-rf .jpg", "rf-.jpg"),  # no leading dash for a shell to read as an option
        (".htaccess", "htaccess"),
    ],
)
def test_safe_name_never_escapes_its_folder(filename: str | None, expected: str) -> None:
    assert keys.safe_name(filename) == expected


def test_key_scheme() -> None:
    image_id = keys.new_image_id()
    assert keys.is_image_id(image_id)
    assert keys.upload_key("acme", image_id, "../x.jpg") == f"uploads/acme/{image_id}/x.jpg"
    assert keys.output_key("acme", image_id, "thumb", "webp") == f"images/acme/{image_id}/thumb.webp"
    # keys the API wrote (and, from before tenants, without one) keep their id; any other key gets a derived id
    assert keys.image_id_for_object("b", f"uploads/acme/{image_id}/x.jpg") == image_id
    assert keys.image_id_for_object("b", f"uploads/{image_id}/x.jpg") == image_id
    other = keys.image_id_for_object("b", "uploads/holiday/x.jpg")
    assert keys.is_image_id(other)
    assert other == keys.image_id_for_object("b", "uploads/holiday/x.jpg")
    assert other != keys.image_id_for_object("other-bucket", "uploads/holiday/x.jpg")
    # the whole value, not a line of it ('$' alone would let a trailing newline through)
    assert not keys.is_image_id(image_id + "\n")
    assert not keys.is_tenant("acme\n")
    assert not keys.is_key_id("0123456789abcdef\n")
    assert keys.image_id_for_object("b", f"uploads/acme/{image_id}\n/x.jpg") != image_id


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("uploads/photo.jpg", (None, False)),
        ("uploads/acme/x.jpg", ("acme", False)),
        ("uploads/acme/deep/x.jpg", ("acme", False)),
        ("uploads/Not_A_Tenant/x.jpg", (None, False)),
        (f"uploads/acme/{'a' * 32}/x.jpg", ("acme", True)),
        (f"uploads/{'a' * 32}/x.jpg", (None, False)),
        ("elsewhere/acme/x.jpg", (None, False)),
    ],
)
def test_the_tenant_a_key_names(key: str, named: tuple[str | None, bool]) -> None:
    assert keys.tenant_segment(key) == named


def test_job_serializer_round_trips_without_pickle() -> None:
    payload = {"t": 1, "f": "process_image", "a": [], "k": {"recipe": DEFAULT_RECIPE.model_dump(mode="json")}}
    data = jobs.serialize(payload)
    assert not data.startswith(b"\x80")  # not a pickle stream
    assert jobs.deserialize(data) == payload


def test_job_id_is_deterministic_per_version() -> None:
    assert jobs.job_id("abc", "v1") == "process_image:abc:v1"
    assert jobs.job_id("abc", "v1") != jobs.job_id("abc", "v2")
