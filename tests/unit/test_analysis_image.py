"""The analysis image every engine hands over: its size rule, its modes, its bounds, and what it gives
whichever way the same pixels arrive."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagepipe_analysis import (
    MAX_SIDE,
    AnalysisImage,
    analysis_size,
    crop_box,
    dominant_colour,
    from_pil,
    phash,
    placeholders,
)
from photos import scene


@pytest.mark.parametrize(
    ("source", "expected"),
    [((4000, 3000), (256, 192)), ((3000, 4000), (192, 256)), ((100, 50), (100, 50)), ((10000, 10), (256, 1))],
)
def test_the_analysis_size_fits_the_long_side(source: tuple[int, int], expected: tuple[int, int]) -> None:
    assert analysis_size(*source) == expected
    assert (from_pil(Image.new("RGB", source)).width, from_pil(Image.new("RGB", source)).height) == expected


def test_the_analysis_image_keeps_alpha_only_when_the_source_has_some() -> None:
    palette = Image.new("P", (10, 10))
    palette.info["transparency"] = 0
    assert from_pil(Image.new("RGB", (10, 10))).mode == "RGB"
    assert from_pil(Image.new("L", (600, 10))).mode == "RGB"
    assert from_pil(Image.new("CMYK", (600, 10))).mode == "RGB"
    assert from_pil(Image.new("LA", (600, 10))).mode == "RGBA"
    assert from_pil(Image.new("RGBA", (10, 10))).mode == "RGBA"
    assert from_pil(palette).mode == "RGBA"


def test_the_analysis_image_refuses_what_it_cannot_be() -> None:
    with pytest.raises(ValueError, match="bytes"):
        AnalysisImage(b"\0" * 11, 2, 2)
    with pytest.raises(ValueError, match="px a side"):
        AnalysisImage(b"\0" * (MAX_SIDE + 1) * 3, MAX_SIDE + 1, 1)
    with pytest.raises(ValueError, match="RGB or RGBA"):
        AnalysisImage(b"\0" * 4, 2, 2, "L")  # type: ignore[arg-type]


def test_opaque_rgba_gives_what_rgb_gives() -> None:
    # an engine may always hand over RGBA: an opaque alpha channel changes no result
    rgb = from_pil(scene(5, 640, 480))
    rgba = AnalysisImage(rgb.to_pil().convert("RGBA").tobytes(), rgb.width, rgb.height, "RGBA")
    assert placeholders(rgba) == placeholders(rgb)
    assert phash(rgba) == phash(rgb)
    assert crop_box(rgba, 1, 1, "smart") == crop_box(rgb, 1, 1, "smart")
    assert dominant_colour(rgba) == dominant_colour(rgb)


def test_the_dominant_colour_is_the_most_common_bucket() -> None:
    image = Image.new("RGB", (300, 200), (20, 40, 200))
    image.paste((250, 10, 10), (0, 0, 100, 200))  # a third red, two thirds blue
    assert dominant_colour(from_pil(image)) == "#1030d0"


def test_the_dominant_colour_leaves_transparent_pixels_out() -> None:
    image = Image.new("RGBA", (300, 200), (20, 40, 200, 0))
    image.paste((250, 10, 10, 255), (0, 0, 100, 200))
    assert dominant_colour(from_pil(image)) == "#f01010"
    assert dominant_colour(from_pil(Image.new("RGBA", (10, 10), (255, 255, 255, 0)))) == "#000000"


def test_equally_common_buckets_resolve_to_the_highest() -> None:
    pixels = np.zeros((2, 2, 3), dtype=np.uint8)
    pixels[0] = (0, 0, 255)
    pixels[1] = (0, 255, 0)
    assert dominant_colour(AnalysisImage(pixels.tobytes(), 2, 2)) == "#10f010"
