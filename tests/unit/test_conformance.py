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
from functools import cache
from pathlib import Path
from typing import Any

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat

from imagepipe.errors import ImagePipeError
from imagepipe.models import DEFAULT_RECIPE, OutputFormat, Placeholder, Recipe
from imagepipe_analysis import AnalysisImage, crop_box, hamming, source_box
from imagepipe_analysis import thumbhash as th
from imagepipe_engine import Limits, Rendered, engine, pillow, vips
from photos import scene

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
    images = [vips.analysis_image(vips.decode(data, RECIPE, LIMITS)[1])]
    return [*images, pillow.analysis_image(pillow.decode(data, RECIPE, LIMITS)[1])]


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
    upright = pillow.decode(data, RECIPE, LIMITS)[0]
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


# The vips engine resamples a large source to its largest variant while the loader streams rows out
# (vips._reduced_size), never holding the whole decoded picture; what a user gets must not change.
WIDTH, HEIGHT = 3264, 2448  # 8 MP: the default recipe's 2048 px variant is a reduction of it


@cache
def photo_file(seed: int, fmt: str, orientation: int = 1) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    scene(seed, WIDTH, HEIGHT).save(buffer, fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def with_filters(filters: list[dict[str, Any]]) -> Recipe:
    return Recipe.model_validate({**DEFAULT_RECIPE.model_dump(mode="json"), "filters": filters})


@pytest.mark.parametrize(
    ("filters", "reduced"),
    [
        ([], True),
        ([{"op": "grayscale"}], True),  # per pixel: the same at any scale
        ([{"op": "blur", "radius": 2}], False),  # a radius in pixels of the decoded picture
        ([{"op": "sharpen"}], False),
        ([{"op": "autocontrast"}], False),  # its histogram is the whole picture's
    ],
)
def test_the_decode_is_reduced_only_where_no_filter_depends_on_the_scale(
    filters: list[dict[str, Any]], reduced: bool
) -> None:
    header, source = vips.decode(photo_file(0, "JPEG"), with_filters(filters), LIMITS)
    assert source.size == (WIDTH, HEIGHT) == (header.width, header.height)
    assert (source.pixels.width, source.pixels.height) == ((2048, 1536) if reduced else (WIDTH, HEIGHT))


def test_a_small_largest_variant_leaves_the_analysis_its_pixels() -> None:
    """400 px is too few to make the analysis image from alike: the decode keeps what the loader gave (a JPEG
    shrunk on load by 8, as Pillow's draft), and the variant is resampled from that."""
    small = Recipe.model_validate({"variants": [{"name": "thumb", "width": 400, "format": "png"}]})
    _header, source = vips.decode(photo_file(0, "PNG"), small, LIMITS)
    assert (source.pixels.width, source.pixels.height) == source.size == (WIDTH, HEIGHT)


def mode_file(mode: str) -> bytes:
    """A 1600x1200 scene in ``mode``, in a format that keeps it (RGBA with an alpha ramp; 32-bit in TIFF)."""
    picture = scene(4, 1600, 1200)
    if mode in ("RGBA", "LA"):
        alpha = Image.linear_gradient("L").rotate(90).resize(picture.size)
        picture = picture.convert("RGBA")
        picture.putalpha(alpha)
    converted = picture.convert("I;16") if mode == "I;16" else picture.convert(mode)
    buffer = io.BytesIO()
    fmt = {"CMYK": "JPEG", "F": "TIFF", "I": "TIFF"}.get(mode, "PNG")
    converted.save(buffer, fmt, **{"JPEG": {"quality": 90}, "PNG": {"compress_level": 1}}.get(fmt, {}))
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "CMYK", "I;16", "P", "F", "I"])
def test_a_reduced_decode_agrees_in_every_mode(mode: str) -> None:
    """RECIPE's largest variant (1024 px inside) is a reduction of these: alpha premultiplied, CMYK
    inverted, 16 bits narrowed, 32-bit values stretched (two passes over a loader that streams once) and
    palettes expanded before the reduction, as the reference does before its."""
    data = mode_file(mode)
    source = vips.decode(data, RECIPE, LIMITS)[1]
    assert (source.pixels.width, source.pixels.height) == (1024, 768) and source.size == (1600, 1200)
    got, want = vips.render(data, RECIPE, LIMITS), pillow.render(data, RECIPE, LIMITS)
    assert [(v.width, v.height) for v in got.variants] == [(v.width, v.height) for v in want.variants]
    # what analysis finds is held on photos above: on these posterised pictures (the palette one most) the
    # commonest colour buckets are a few per cent apart, and pixels 0.6 levels apart may pick another
    analysed = {"placeholder", "phash", "dominant_color"}
    assert got.metadata.model_dump(exclude=analysed) == want.metadata.model_dump(exclude=analysed)
    for mine, theirs in zip(got.variants, want.variants, strict=True):
        bound = LOSSLESS_BOUND if theirs.format is OutputFormat.PNG else LOSSY_BOUND
        assert mean_difference(mine.data, theirs.data) <= bound, theirs.name


@pytest.mark.parametrize(("fmt", "orientation"), [("JPEG", 1), ("JPEG", 6), ("PNG", 1)])
def test_a_reduced_decode_renders_what_the_reference_engine_renders(fmt: str, orientation: int) -> None:
    data = photo_file(1, fmt, orientation)
    got, want = vips.render(data, DEFAULT_RECIPE, LIMITS), pillow.render(data, DEFAULT_RECIPE, LIMITS)
    assert [(v.name, v.width, v.height) for v in got.variants] == [(v.name, v.width, v.height) for v in want.variants]
    analysed = {"placeholder", "phash"}  # below: the dominant colour, the sizes and the rest must be equal
    assert got.metadata.model_dump(exclude=analysed) == want.metadata.model_dump(exclude=analysed)
    for mine, theirs in zip(got.variants, want.variants, strict=True):
        assert mean_difference(mine.data, theirs.data) <= LOSSY_BOUND, theirs.name
    assert got.metadata.phash is not None and want.metadata.phash is not None
    assert hamming(got.metadata.phash, want.metadata.phash) <= 2
    assert got.metadata.placeholder is not None and want.metadata.placeholder is not None
    # the analysis pixels are resampled another way (a mean 0.3 levels apart), so a BlurHash term that sits on a
    # quantisation step may land on the next one, and paint that term's pattern up to 37 levels apart; the
    # colours both placeholders average to may not move
    assert blurhash_terms_apart(got.metadata.placeholder.blurhash, want.metadata.placeholder.blurhash) <= 1
    averages = [
        th.average_rgba(th.from_base64(p.thumbhash)) for p in (got.metadata.placeholder, want.metadata.placeholder)
    ]
    assert np.abs(np.asarray(averages[0]) - np.asarray(averages[1])).max() <= 0.05


def blurhash_terms_apart(ours: str, theirs: str) -> int:
    """How many of two BlurHashes' terms differ: the same layout, the DC term (4 characters), the ACs (2 each)."""
    assert ours[:2] == theirs[:2]  # the number of components and the AC scale
    terms = [(2, 6), *((i, i + 2) for i in range(6, len(ours), 2))]
    return sum(ours[a:b] != theirs[a:b] for a, b in terms)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_reduced_decode_cuts_the_same_smart_boxes(seed: int) -> None:
    data = photo_file(seed, "JPEG")
    images = [
        vips.analysis_image(vips.decode(data, DEFAULT_RECIPE, LIMITS)[1]),
        pillow.analysis_image(pillow.decode(data, DEFAULT_RECIPE, LIMITS)[1]),
    ]
    for target in ((1, 1), (16, 9), (9, 16)):
        boxes = [
            source_box(crop_box(a, *target, "smart"), (a.width, a.height), (WIDTH, HEIGHT), *target) for a in images
        ]
        assert boxes[0] == boxes[1], target
