"""Where a cover variant cuts: smart keeps a small salient object that the centre cuts off; a focal point
puts the box where asked; the box lands on the source at the target's exact aspect."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from imagepipe_analysis import Box, crop_box, from_pil, source_box
from photos import scene

OBJECT = 60  # px a side, in a 1600 x 600 source


def with_object(left: int, top: int, background: Image.Image | None = None) -> Image.Image:
    """A flat grey picture (or ``background``) with a small black-and-white checkerboard at ``left, top``."""
    image = background.copy() if background else Image.new("RGB", (1600, 600), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    cell = OBJECT // 6
    for row in range(6):
        for column in range(6):
            colour = (255, 255, 255) if (row + column) % 2 else (0, 0, 0)
            x, y = left + column * cell, top + row * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour)
    return image


def cut(image: Image.Image, box: Box) -> Image.Image:
    return image.crop((box.left, box.top, box.left + box.width, box.top + box.height))


def shows_object(image: Image.Image) -> bool:
    """Whether the whole checkerboard is in the picture: black and white, on OBJECT px each way."""
    pixels = np.asarray(image.convert("L"))
    dark, light = np.argwhere(pixels < 20), np.argwhere(pixels > 235)
    if not len(dark) or not len(light):
        return False
    marked = np.vstack([dark, light])
    extent = marked.max(axis=0) - marked.min(axis=0) + 1
    return bool((extent >= OBJECT - 2).all())


def smart_square(image: Image.Image, gravity: str = "smart") -> Image.Image:
    analysis = from_pil(image)
    box = crop_box(analysis, 256, 256, gravity=gravity)  # type: ignore[arg-type]
    return cut(image, source_box(box, (analysis.width, analysis.height), image.size, 256, 256))


@pytest.mark.parametrize("left", [40, 1500])
def test_smart_keeps_a_small_object_near_an_edge_that_the_centre_cuts_off(left: int) -> None:
    image = with_object(left, 270)
    assert not shows_object(smart_square(image, "center"))
    assert shows_object(smart_square(image))


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_smart_finds_a_sharp_object_on_a_soft_photo_background(seed: int) -> None:
    background = scene(seed, 1600, 600).filter(ImageFilter.GaussianBlur(12))  # out of focus, with its noise
    image = with_object(60, 270, background)
    assert shows_object(smart_square(image))


def test_smart_finds_a_coloured_object_in_a_tall_picture() -> None:
    image = Image.new("RGB", (500, 1500), (200, 200, 200))
    ImageDraw.Draw(image).ellipse((200, 1350, 280, 1430), fill=(220, 30, 30))
    analysis = from_pil(image)
    box = source_box(crop_box(analysis, 400, 300, "smart"), (analysis.width, analysis.height), image.size, 400, 300)
    assert (box.width, box.height) == (500, 375)
    assert box.top <= 1350 and box.top + box.height >= 1430


def test_a_flat_picture_crops_at_its_centre_either_way() -> None:
    analysis = from_pil(Image.new("RGB", (1600, 600), (90, 90, 90)))
    assert crop_box(analysis, 1, 1, "smart") == crop_box(analysis, 1, 1, "center")


def test_focus_puts_the_box_where_asked_and_stays_inside() -> None:
    analysis = from_pil(with_object(40, 270))  # 256 x 96
    assert crop_box(analysis, 1, 1, focus=(0.5, 0.5)) == crop_box(analysis, 1, 1)
    assert crop_box(analysis, 1, 1, focus=(0.25, 0.5)) == Box(16, 0, 96, 96)
    assert crop_box(analysis, 1, 1, focus=(1.0, 0.0)) == Box(160, 0, 96, 96)
    # focus overrides smart: the object sits at the far left
    assert crop_box(analysis, 1, 1, "smart", focus=(0.9, 0.5)).left == 160


def test_the_source_box_has_the_targets_exact_aspect_and_the_same_place() -> None:
    analysis = from_pil(Image.new("RGB", (4000, 3000)))  # 256 x 192
    box = crop_box(analysis, 1600, 900, focus=(0.5, 1.0))  # bottom strip
    assert box.top + box.height == analysis.height
    big = source_box(box, (analysis.width, analysis.height), (4000, 3000), 1600, 900)
    assert big == Box(0, 750, 4000, 2250)
    assert big.width * 900 == big.height * 1600
