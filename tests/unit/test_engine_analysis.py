"""What the analysis image gives a record and a cover crop, held for each engine through the real render():
placeholders and a perceptual hash in the metadata, one hash whatever the filters, smart gravity and a focus
that keep a subject a centred crop cuts off."""

from __future__ import annotations

import io
from typing import Any

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from imagepipe.models import Recipe
from imagepipe_analysis import hamming
from imagepipe_analysis import thumbhash as th
from imagepipe_engine import Limits, Render, engine
from imagepipe_engine.select import NAMES
from photos import scene

LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)
RED = (230, 20, 30)


@pytest.fixture(params=NAMES)
def render(request: pytest.FixtureRequest) -> Render:
    return engine(request.param)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def recipe(*variants: dict[str, Any], **options: Any) -> Recipe:
    return Recipe.model_validate({"variants": list(variants), **options})


def red_pixels(data: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    return int(((pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)).sum())


def with_subject(width: int = 1200, height: int = 400, at: tuple[int, int] = (1110, 200)) -> Image.Image:
    """A quiet sky-like gradient with one small red ball near the right edge."""
    ramp = np.linspace(140, 200, width)[None, :, None] + np.zeros((height, 1, 3))
    image = Image.fromarray((ramp * [0.8, 0.9, 1.0]).astype(np.uint8), "RGB")
    ImageDraw.Draw(image).ellipse((at[0] - 40, at[1] - 40, at[0] + 40, at[1] + 40), fill=RED)
    return image


def test_every_render_carries_placeholders_and_a_hash(render: Render) -> None:
    wide = scene(3, 800, 400)
    meta = render(png(wide), recipe({"name": "v", "width": 64}), LIMITS).metadata
    assert meta.phash is not None and len(meta.phash) == 16 and int(meta.phash, 16) >= 0
    assert meta.placeholder is not None
    assert th.aspect_ratio(th.from_base64(meta.placeholder.thumbhash)) == pytest.approx(2.0, rel=0.2)
    assert blurhash.components(meta.placeholder.blurhash) == (4, 2)  # 4 terms across, 2 down: landscape 2:1


def test_filters_change_the_variants_but_not_the_hash(render: Render) -> None:
    data = png(scene(5, 640, 480))
    plain = render(data, recipe({"name": "v", "width": 64, "format": "png"}), LIMITS)
    grey = render(data, recipe({"name": "v", "width": 64, "format": "png"}, filters=[{"op": "grayscale"}]), LIMITS)
    assert Image.open(io.BytesIO(grey.variants[0].data)).mode == "L"
    assert (grey.metadata.phash, grey.metadata.placeholder) == (plain.metadata.phash, plain.metadata.placeholder)


def test_a_resized_reencoded_copy_hashes_near_and_another_photo_far(render: Render) -> None:
    photo = scene(7, 1600, 1200)
    copy = io.BytesIO()
    photo.resize((700, 525)).save(copy, "JPEG", quality=60)
    variant = {"name": "v", "width": 64}
    original, near, other = (
        render(data, recipe(variant), LIMITS).metadata.phash
        for data in (png(photo), copy.getvalue(), png(scene(8, 1600, 1200)))
    )
    assert original and near and other
    assert hamming(original, near) <= 6
    assert hamming(original, other) > 20


def test_smart_gravity_keeps_a_subject_that_the_centre_cuts_off(render: Render) -> None:
    data = png(with_subject())
    square = {"name": "sq", "width": 200, "height": 200, "fit": "cover", "format": "png"}
    centred = render(data, recipe(square), LIMITS).variants[0]
    smart = render(data, recipe({**square, "gravity": "smart"}), LIMITS).variants[0]
    assert (smart.width, smart.height) == (centred.width, centred.height) == (200, 200)
    assert red_pixels(centred.data) == 0
    assert red_pixels(smart.data) > 0.8 * np.pi * 40**2 / 4  # the whole ball, at half the scale


def test_a_focus_point_steers_every_cover_variant(render: Render) -> None:
    data = png(with_subject(at=(90, 200)))  # the ball near the left edge; smart would find it, focus wins
    variants = (
        {"name": "a", "width": 100, "height": 100, "fit": "cover", "format": "png", "gravity": "smart"},
        {"name": "b", "width": 200, "height": 100, "fit": "cover", "format": "png"},
    )
    out = render(data, recipe(*variants, focus={"x": 1.0, "y": 0.5}), LIMITS)
    assert [red_pixels(v.data) for v in out.variants] == [0, 0]
    kept = render(data, recipe(*variants, focus={"x": 0.0, "y": 0.5}), LIMITS)
    assert all(red_pixels(v.data) > 0 for v in kept.variants)
