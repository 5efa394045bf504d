"""The Pillow core on in-memory images and the shared corpus: sizes, fits, formats, modes, orientation,
limits and the one error boundary."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image, ImageChops, ImageStat

from conftest import CORPUS, corpus
from imagepipe.errors import InvalidImage, TooManyFrames, TooManyPixels
from imagepipe.models import DEFAULT_RECIPE, Recipe
from imaging import Limits, Rendered, render

LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)


def recipe(*variants: Any, filters: list[Any] | None = None) -> Recipe:
    return Recipe.model_validate({"variants": list(variants), "filters": filters or []})


def encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def opened(rendered: Rendered, index: int = 0) -> Image.Image:
    return Image.open(io.BytesIO(rendered.variants[index].data))


def photo(width: int, height: int) -> Image.Image:
    """Photo-like content: smooth gradients in three channels."""
    g = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (g, g.transpose(Image.Transpose.FLIP_LEFT_RIGHT), g.rotate(180)))


@pytest.mark.parametrize(
    ("fit", "box", "expected"),
    [
        ("inside", (200, 200), (200, 100)),
        ("inside", (1000, 1000), (400, 200)),  # never upscaled
        ("cover", (100, 100), (100, 100)),
        ("contain", (100, 100), (100, 100)),
    ],
)
def test_fits_give_the_promised_size(fit: str, box: tuple[int, int], expected: tuple[int, int]) -> None:
    data = encoded(photo(400, 200))
    out = render(data, recipe({"name": "v", "width": box[0], "height": box[1], "fit": fit, "format": "png"}), LIMITS)
    assert (out.variants[0].width, out.variants[0].height) == expected
    assert opened(out).size == expected


def test_contain_pads_with_transparency_where_the_format_has_it() -> None:
    data = encoded(photo(400, 200))
    out = render(data, recipe({"name": "v", "width": 100, "height": 100, "fit": "contain", "format": "png"}), LIMITS)
    im = opened(out).convert("RGBA")
    assert im.getpixel((50, 2))[3] == 0  # type: ignore[index]
    assert im.getpixel((50, 50))[3] == 255  # type: ignore[index]


def test_one_side_only_keeps_the_aspect() -> None:
    out = render(encoded(photo(400, 200)), recipe({"name": "w", "width": 100}, {"name": "h", "height": 50}), LIMITS)
    assert [(v.width, v.height) for v in out.variants] == [(100, 50), (100, 50)]


def test_every_format_decodes_as_itself_without_metadata() -> None:
    source = photo(300, 200)
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    data = encoded(source, "JPEG", exif=exif.tobytes())
    variants = [{"name": f, "width": 120, "format": f} for f in ("jpeg", "png", "webp", "avif")]
    out = render(data, recipe(*variants), LIMITS)
    assert out.metadata.exif["Make"] == "Camera Maker"
    for index, fmt in enumerate(("JPEG", "PNG", "WEBP", "AVIF")):
        im = opened(out, index)
        assert im.format == fmt
        assert im.size == (120, 80)
        assert not im.getexif()
        assert "icc_profile" not in im.info


def test_large_jpeg_is_drafted_and_still_right() -> None:
    source = photo(3000, 2000)
    out = render(encoded(source, "JPEG", quality=90), recipe({"name": "v", "width": 300, "format": "png"}), LIMITS)
    assert (out.metadata.width, out.metadata.height) == (3000, 2000)
    got = opened(out).convert("RGB")
    want = source.resize((300, 200), Image.Resampling.LANCZOS)
    assert ImageStat.Stat(ImageChops.difference(got, want)).mean[0] < 3


def test_grayscale_filter() -> None:
    out = render(
        encoded(photo(64, 64)),
        recipe({"name": "v", "width": 64, "format": "jpeg"}, filters=[{"op": "grayscale"}]),
        LIMITS,
    )
    assert opened(out).mode == "L"


def test_filters_keep_alpha() -> None:
    rgba = photo(64, 64).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((64, 64)))
    flt = [{"op": "blur", "radius": 1.5}, {"op": "autocontrast"}, {"op": "sharpen"}]
    out = render(encoded(rgba), recipe({"name": "v", "width": 64, "format": "webp"}, filters=flt), LIMITS)
    assert opened(out).mode == "RGBA"


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "images" / "orientation").glob("*.jpg")))
def test_orientations_come_out_upright(name: str) -> None:
    reference = "hopper.jpg" if name.startswith("hopper") else "Landscape_1.jpg"
    folder = "baseline" if reference == "hopper.jpg" else "orientation"
    small = recipe({"name": "v", "width": 64, "height": 64, "fit": "cover", "format": "png"})

    def thumb(path: Path) -> Image.Image:
        return opened(render(path.read_bytes(), small, LIMITS)).convert("L").resize((16, 16))

    if name == "Portrait_6.jpg":  # no upright twin in the corpus: it must come out taller than wide
        meta = render(corpus("images", "orientation", name).read_bytes(), small, LIMITS).metadata
        assert meta.height > meta.width
        return
    if name == "orientation_rectangle.jpg":
        out = render(corpus("images", "orientation", name).read_bytes(), DEFAULT_RECIPE, LIMITS)
        assert (out.metadata.width, out.metadata.height) == (1, 2)
        return
    diff = ImageStat.Stat(
        ImageChops.difference(thumb(corpus("images", folder, reference)), thumb(corpus("images", "orientation", name)))
    )
    assert diff.mean[0] < 8, f"{name} is not upright"


@pytest.mark.parametrize(
    ("name", "mode_out"),
    [("pil_sample_cmyk.jpg", "RGB"), ("pil123p.png", "RGB"), ("hopper_gray.jpg", "L"), ("basn0g16.png", "L")],
)
def test_modes_convert_for_every_format(name: str, mode_out: str) -> None:
    out = render(
        corpus("images", "modes", name).read_bytes(), recipe({"name": "v", "width": 64, "format": "jpeg"}), LIMITS
    )
    im = opened(out)
    assert im.mode == mode_out


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    out = render(
        corpus("images", "modes", "basn0g16.png").read_bytes(),
        recipe({"name": "v", "width": 32, "format": "png"}),
        LIMITS,
    )
    lo, hi = cast(tuple[int, int], opened(out).convert("L").getextrema())
    assert hi - lo > 100  # a gradient survives; clipping would leave it all white


@pytest.mark.parametrize("name", ["transparent.png", "transparent.webp", "p_trns_single.png", "rgb_trns.png"])
def test_transparency_kept_in_png_and_webp_flattened_in_jpeg(name: str) -> None:
    data = corpus("images", "modes", name).read_bytes()
    out = render(
        data,
        recipe(
            {"name": "p", "width": 64, "format": "png"},
            {"name": "w", "width": 64, "format": "webp"},
            {"name": "j", "width": 64, "format": "jpeg"},
        ),
        LIMITS,
    )
    for index in (0, 1):
        extrema = cast(tuple[tuple[int, int], ...], opened(out, index).convert("RGBA").getextrema())
        assert extrema[3][0] < 255
    assert opened(out, 2).mode == "RGB"


def test_pixel_limit_refuses_before_decoding() -> None:
    with pytest.raises(TooManyPixels):
        render(
            encoded(photo(200, 200)),
            DEFAULT_RECIPE,
            Limits(max_pixels=10_000, max_frames=10, max_output_dimension=4096),
        )


def test_frame_limit() -> None:
    frames = [photo(16, 16).rotate(i * 30) for i in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooManyFrames):
        render(buffer.getvalue(), DEFAULT_RECIPE, Limits(max_pixels=10_000, max_frames=3, max_output_dimension=4096))
    out = render(buffer.getvalue(), DEFAULT_RECIPE, LIMITS)
    assert out.metadata.frames == 5


def test_output_dimension_is_clamped() -> None:
    out = render(
        encoded(photo(400, 400)),
        recipe({"name": "v", "width": 300, "height": 300, "fit": "cover", "format": "png"}),
        Limits(50_000_000, 10, 100),
    )
    assert (out.variants[0].width, out.variants[0].height) == (100, 100)


def test_metadata() -> None:
    data = encoded(Image.new("RGB", (40, 30), (250, 5, 5)))
    meta = render(data, DEFAULT_RECIPE, LIMITS).metadata
    assert (meta.width, meta.height, meta.format, meta.mode, meta.frames, meta.bytes) == (
        40,
        30,
        "PNG",
        "RGB",
        1,
        len(data),
    )
    import hashlib

    assert meta.sha256 == hashlib.sha256(data).hexdigest()
    r, g, b = (int(meta.dominant_color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 200 and g < 40 and b < 40


BOMBS = {"decompression_bomb.gif", "decompression_bomb_extents.gif", "reallybig.bmp"}


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (CORPUS / "images").glob("*/*") if not p.name.startswith("LICENSE")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_corpus_renders_or_is_refused_cleanly(path: Path) -> None:
    try:
        out = render(path.read_bytes(), DEFAULT_RECIPE, LIMITS)
    except (InvalidImage, TooManyPixels, TooManyFrames) as exc:
        assert path.parent.name in {"corrupt", "bomb", "not_an_image"} or path.name in {
            "hopper.heif",
            "ultrahdr.jpg",
        }, exc
        if path.name in BOMBS:
            assert isinstance(exc, TooManyPixels)
        return
    assert path.name not in BOMBS
    assert len(out.variants) == len(DEFAULT_RECIPE.variants)
