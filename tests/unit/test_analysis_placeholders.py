"""Placeholders and the analysis image they come from: the strings decode to the picture's shape and
colour, from any source size, opaque or transparent."""

from __future__ import annotations

import math

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import corpus
from imagepipe_analysis import MAX_SIDE, AnalysisImage, analysis_size, from_pil, placeholders
from imagepipe_analysis import thumbhash as th
from photos import scene

SHAPES = {"landscape": (1200, 800), "portrait": (800, 1200), "square": (900, 900), "panorama": (2400, 600)}


def tinted(width: int, height: int, colour: tuple[int, int, int]) -> Image.Image:
    """A made scene pushed towards ``colour``, so the placeholder's colour is known."""
    return Image.blend(scene(3, width, height), Image.new("RGB", (width, height), colour), 0.8)


@pytest.mark.parametrize("shape", SHAPES)
def test_blurhash_decodes_to_the_pictures_shape_and_colour(shape: str) -> None:
    width, height = SHAPES[shape]
    image = tinted(width, height, (200, 40, 40))
    hash_ = placeholders(from_pil(image))["blurhash"]
    across, down = blurhash.components(hash_)
    assert (across > down, across < down, across == down) == (width > height, width < height, width == height)
    pixels = np.asarray(blurhash.decode(hash_, 32, 32))
    assert np.allclose(pixels.mean(axis=(0, 1)), np.asarray(image).mean(axis=(0, 1)), atol=25)


@pytest.mark.parametrize("shape", SHAPES)
def test_thumbhash_decodes_to_the_pictures_aspect_and_colour(shape: str) -> None:
    width, height = SHAPES[shape]
    image = tinted(width, height, (30, 60, 190))
    hash_ = th.from_base64(placeholders(from_pil(image))["thumbhash"])
    assert math.isclose(th.aspect_ratio(hash_), width / height, rel_tol=0.15)
    *rgb, alpha = th.average_rgba(hash_)
    assert np.allclose(np.asarray(rgb) * 255, np.asarray(image).mean(axis=(0, 1)), atol=25)
    assert alpha == 1.0


def test_thumbhash_keeps_transparency() -> None:
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((250, 200, 0, 255), (100, 75, 300, 225))
    hash_ = th.from_base64(placeholders(from_pil(image))["thumbhash"])
    *rgb, alpha = th.average_rgba(hash_)
    assert 0.1 < alpha < 0.5  # a quarter of the picture is opaque
    assert rgb[0] > 0.8 and rgb[2] < 0.2  # and it is yellow


def test_thumbhash_matches_the_reference_encoder() -> None:
    # the reference algorithm's bytes for this image (evanw/thumbhash, via its Python port thumbhash 0.1.2)
    y, x = np.mgrid[0:75, 0:100]
    rgba = np.stack([(x * 2 + y) % 256, (200 - y * 2) % 256, (x * y // 20) % 256, np.full_like(x, 255)], axis=-1)
    assert th.to_base64(th.encode(rgba.astype(np.uint8))) == "nAkORZZgd3eHeXiWh4eHh5lvGQd3"


def test_a_corpus_photo_gets_both_placeholders() -> None:
    photo = ImageOps.exif_transpose(Image.open(corpus("images", "orientation", "Portrait_6.jpg")))
    result = placeholders(from_pil(photo))
    assert blurhash.components(result["blurhash"]) == (3, 4)
    assert th.aspect_ratio(th.from_base64(result["thumbhash"])) < 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [((4000, 3000), (256, 192)), ((3000, 4000), (192, 256)), ((100, 50), (100, 50)), ((10000, 10), (256, 1))],
)
def test_the_analysis_size_fits_the_long_side(source: tuple[int, int], expected: tuple[int, int]) -> None:
    assert analysis_size(*source) == expected
    assert from_pil(Image.new("RGB", source)).width == expected[0]


def test_the_analysis_image_keeps_alpha_only_when_there_is_some() -> None:
    assert from_pil(Image.new("RGB", (10, 10))).mode == "RGB"
    assert from_pil(Image.new("L", (10, 10))).mode == "RGB"
    assert from_pil(Image.new("LA", (10, 10))).mode == "RGBA"
    assert from_pil(Image.new("RGBA", (10, 10))).mode == "RGBA"


def test_the_analysis_image_refuses_what_it_cannot_be() -> None:
    with pytest.raises(ValueError, match="bytes"):
        AnalysisImage(b"\0" * 11, 2, 2)
    with pytest.raises(ValueError, match="px a side"):
        AnalysisImage(b"\0" * (MAX_SIDE + 1) * 3, MAX_SIDE + 1, 1)


def test_raw_bytes_from_any_engine_give_the_same_results_as_pillow() -> None:
    # what the vips engine hands over: the same size, RGB bytes row by row
    picture = from_pil(scene(5, 640, 480))
    raw = AnalysisImage(bytes(np.asarray(picture.to_pil())), picture.width, picture.height)
    assert placeholders(raw) == placeholders(picture)
