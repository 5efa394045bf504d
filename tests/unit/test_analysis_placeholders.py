"""Placeholders: the strings decode to the picture's shape and colour, opaque or transparent."""

from __future__ import annotations

import math

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import corpus
from imagepipe_analysis import blurhash_encode, from_pil, placeholders
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


def test_our_blurhash_encoder_gives_the_reference_encoders_hash() -> None:
    """The numpy encoder against the ``blurhash`` package's pure-Python one, term for term: noise, smooth
    ramps, every component count, sizes from one pixel up."""
    rng = np.random.default_rng(7)
    for case in range(200):
        height, width = (int(n) for n in rng.integers(1, 33, 2))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if case % 2:
            ramp = np.linspace(0, 255, width)[None, :, None] + rng.normal(0, 4, (height, width, 3))
            pixels = np.clip(ramp, 0, 255).astype(np.uint8)
        across, down = (int(n) for n in rng.integers(1, 10, 2))
        assert blurhash_encode.encode(pixels, across, down) == blurhash.encode(pixels.tolist(), across, down)
