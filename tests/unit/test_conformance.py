"""The two engines against each other: for every file of the shared corpus, the same outcome (or the same error
code), the same variants and metadata, and pixels within a stated bound. test_engines.py holds each engine to
the contract on its own; this file holds them to each other.

The pixel bound: the mean absolute difference per channel, on the same variant decoded and flattened onto
white (what a viewer shows), is at most 1.5 levels of 255 for lossless PNG outputs and 3 for lossy ones.
Measured on this corpus: at most 1.1 (PNG) and 2.4 (WebP thumbnails) — the engines resample with the same
kernel on the same grid, so what is left is rounding and the encoders' own noise. A real fault is far above
it: a half-pixel shift measured 6, an unconverted Display P3 source 10+, a wrong orientation or crop 20+.
"""

from __future__ import annotations

import io
from pathlib import Path

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat

from imagepipe.errors import ImagePipeError
from imagepipe.models import OutputFormat, Placeholder, Recipe
from imagepipe_analysis import AnalysisImage, crop_box, hamming, source_box
from imagepipe_analysis import thumbhash as th
from imagepipe_engine import Limits, Rendered, engine, pillow, vips

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "images"
LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)
CORPUS = sorted(p for p in IMAGES.glob("*/*") if not p.name.startswith("LICENSE"))
# what both engines decode (the rest is refused by both, as the test above holds)
DECODABLE = [p for p in CORPUS if p.parent.name not in ("bomb", "corrupt", "not_an_image") and p.name != "ultrahdr.jpg"]
RECIPE = Recipe.model_validate(
    {
        "variants": [  # every fit, every lossless/lossy kind, down- and upscaling
            {"name": "thumb", "width": 256, "height": 256, "fit": "cover", "format": "webp", "quality": 80},
            {"name": "medium", "width": 1024, "height": 1024, "format": "jpeg", "quality": 82},
            {"name": "box", "width": 300, "height": 200, "fit": "contain", "format": "png"},
            {"name": "small", "width": 100, "format": "png"},
        ]
    }
)
LOSSLESS_BOUND, LOSSY_BOUND = 1.5, 3.0


def outcome(name: str, data: bytes) -> Rendered | str:
    try:
        return engine(name)(data, RECIPE, LIMITS)
    except ImagePipeError as exc:
        return exc.code


def as_seen(data: bytes) -> Image.Image:
    """A variant as a viewer shows it: decoded, transparency flattened onto white."""
    with Image.open(io.BytesIO(data)) as image:
        rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")


def mean_difference(a: bytes, b: bytes) -> float:
    return max(ImageStat.Stat(ImageChops.difference(as_seen(a), as_seen(b))).mean)


def analysis_images(data: bytes) -> list[AnalysisImage]:
    """Each engine's analysis image of ``data``: vips first, then the reference."""
    images = [vips.analysis_image(vips.decode(data, RECIPE.variants, LIMITS)[1])]
    return [*images, pillow.analysis_image(pillow.decode(data, RECIPE.variants, LIMITS)[1])]


def placeholders_paint_alike(ours: Placeholder, theirs: Placeholder) -> bool:
    """The strings may differ in a digit where a term sits on a quantisation step; the pictures may not."""
    painted = [np.asarray(blurhash.decode(p.blurhash, 16, 16)) for p in (ours, theirs)]
    averages = [np.asarray(th.average_rgba(th.from_base64(p.thumbhash))) for p in (ours, theirs)]
    return bool(np.abs(painted[0] - painted[1]).max() <= 12 and np.abs(averages[0] - averages[1]).max() <= 0.05)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_both_engines_agree_on_every_corpus_file(path: Path) -> None:
    data = path.read_bytes()
    got, reference = outcome("vips", data), outcome("pillow", data)
    if isinstance(reference, str) or isinstance(got, str):
        assert got == reference  # the same error code, or one rendered and the other refused
        return
    assert [(v.name, v.width, v.height, v.format) for v in got.variants] == [
        (v.name, v.width, v.height, v.format) for v in reference.variants
    ]
    ours, theirs = got.metadata, reference.metadata
    assert ours.phash is not None and theirs.phash is not None and ours.placeholder and theirs.placeholder
    assert hamming(ours.phash, theirs.phash) <= 2
    assert ours.placeholder == theirs.placeholder or placeholders_paint_alike(ours.placeholder, theirs.placeholder)
    analysed = {"placeholder", "phash"}
    assert ours.model_dump(exclude=analysed) == theirs.model_dump(exclude=analysed)
    for mine, want in zip(got.variants, reference.variants, strict=True):
        bound = LOSSLESS_BOUND if want.format is OutputFormat.PNG else LOSSY_BOUND
        assert mean_difference(mine.data, want.data) <= bound, want.name


@pytest.mark.parametrize("path", DECODABLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_both_engines_choose_the_same_smart_and_focused_boxes(path: Path) -> None:
    data = path.read_bytes()
    upright = pillow.decode(data, RECIPE.variants, LIMITS)[0]
    size = (upright.width, upright.height)
    for target in ((1, 1), (16, 9), (9, 16)):
        boxes = [
            (
                source_box(crop_box(small, *target, "smart"), (small.width, small.height), size, *target),
                crop_box(small, *target, focus=(0.2, 0.7)),
            )
            for small in analysis_images(data)
        ]
        assert boxes[0] == boxes[1], target


def test_the_bound_catches_a_half_pixel_shift() -> None:
    """The bound is tight enough to fail on a real fault: the same picture moved by a pixel."""
    with Image.open(IMAGES / "baseline" / "hopper.png") as hopper:
        picture = hopper.convert("RGB")
    moved = ImageChops.offset(picture, 1, 0)
    encode = [io.BytesIO(), io.BytesIO()]
    picture.save(encode[0], "PNG")
    moved.save(encode[1], "PNG")
    assert mean_difference(encode[0].getvalue(), encode[1].getvalue()) > LOSSY_BOUND


@pytest.mark.parametrize("orientation", [1, 6])
def test_both_engines_agree_on_a_large_jpeg_decoded_reduced(orientation: int) -> None:
    """Small variants of a large JPEG: both decode it reduced (the same power of two) and resample the rest."""
    detail = Image.effect_mandelbrot((3000, 2000), (-2.0, -1.2, 1.0, 1.2), 64).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    detail.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    small = Recipe.model_validate(
        {
            "variants": [
                {"name": "thumb", "width": 200, "height": 200, "fit": "cover", "format": "png"},
                {"name": "small", "width": 300, "format": "png"},
            ]
        }
    )
    vips, reference = (engine(name)(buffer.getvalue(), small, LIMITS) for name in ("vips", "pillow"))
    assert [(v.width, v.height) for v in vips.variants] == [(v.width, v.height) for v in reference.variants]
    for got, want in zip(vips.variants, reference.variants, strict=True):
        assert mean_difference(got.data, want.data) <= LOSSLESS_BOUND, want.name
