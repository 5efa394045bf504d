"""The engines' contract, held for each engine: sizes, fits, formats, modes, orientation, limits, metadata and
the one error boundary, on in-memory images and the shared corpus. test_conformance.py compares the engines."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import sys
import warnings
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from imagepipe.errors import ImagePipeError, InvalidImage, InvalidRecipe, TooManyFrames, TooManyPixels
from imagepipe.models import DEFAULT_RECIPE, Recipe
from imagepipe_engine import Limits, Render, Rendered, engine
from imagepipe_engine.select import NAMES

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "images"
LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)


@pytest.fixture(params=NAMES)
def render(request: pytest.FixtureRequest) -> Render:
    """Every test below runs once per engine."""
    return engine(request.param)


def recipe(*variants: dict[str, Any], filters: list[dict[str, Any]] | None = None) -> Recipe:
    return Recipe.model_validate({"variants": list(variants), "filters": filters or []})


def encoded(image: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def opened(rendered: Rendered, index: int = 0) -> Image.Image:
    image = Image.open(io.BytesIO(rendered.variants[index].data))
    image.load()
    return image


def photo(width: int, height: int) -> Image.Image:
    """Photo-like content: smooth gradients, different in each channel."""
    g = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (g, g.transpose(Image.Transpose.FLIP_LEFT_RIGHT), g.rotate(180)))


def distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of coarse grey thumbnails: small for the same picture, large otherwise."""
    small_a, small_b = (im.convert("L").resize((16, 16), Image.Resampling.BOX) for im in (a, b))
    return float(ImageStat.Stat(ImageChops.difference(small_a, small_b)).mean[0])


def on_white(image: Image.Image) -> Image.Image:
    """What a JPEG of ``image`` should look like: transparency flattened onto white, 16 bits scaled to 8."""
    rgba = image.convert("RGBA")
    if image.mode == "I;16":
        rgba = Image.merge("LA", (image.point(lambda v: v / 256).convert("L"), rgba.getchannel("A"))).convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def largest_difference(a: Image.Image, b: Image.Image) -> int:
    return cast(tuple[int, int], ImageChops.difference(a, b).getextrema())[1]


def rgba_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int, int]:
    return cast(tuple[int, int, int, int], image.convert("RGBA").getpixel(xy))


# sizes, fits and formats


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({"width": 200, "height": 200, "fit": "inside"}, (200, 100)),
        ({"width": 1000, "height": 1000, "fit": "inside"}, (400, 200)),  # never upscaled
        ({"width": 100}, (100, 50)),
        ({"height": 50}, (100, 50)),
        ({"width": 1000}, (400, 200)),
        ({"width": 100, "height": 100, "fit": "cover"}, (100, 100)),
        ({"width": 90, "height": 30, "fit": "cover"}, (90, 30)),
        ({"width": 600, "height": 600, "fit": "cover"}, (600, 600)),  # cover fills its box, whatever it takes
        ({"width": 100, "height": 100, "fit": "contain"}, (100, 100)),
        ({"width": 300, "height": 50, "fit": "contain"}, (300, 50)),
    ],
)
def test_fits_give_the_promised_size(render: Render, variant: dict[str, Any], expected: tuple[int, int]) -> None:
    out = render(encoded(photo(400, 200)), recipe({"name": "v", "format": "png", **variant}), LIMITS)
    assert (out.variants[0].width, out.variants[0].height) == expected
    assert opened(out).size == expected


SIZES = [(1, 1), (1, 9), (7, 3), (100, 100), (333, 111), (640, 480), (1000, 10), (257, 1024)]
BOXES = [(1, 1), (50, 50), (99, 33), (128, 96), (256, 256), (300, 7)]


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_every_fit_gives_exact_sizes_for_awkward_sources_and_boxes(render: Render, size: tuple[int, int]) -> None:
    variants = [
        {"name": f"{fit}-{w}x{h}", "width": w, "height": h, "fit": fit, "format": "png"}
        for fit in ("cover", "contain")
        for w, h in BOXES
    ]
    data = encoded(photo(*size))
    for start in range(0, len(variants), 6):  # a recipe holds at most eight variants
        out = render(data, recipe(*variants[start : start + 6]), LIMITS)
        for variant, got in zip(variants[start : start + 6], out.variants, strict=True):
            assert (got.width, got.height) == (variant["width"], variant["height"]), variant["name"]
    inside = render(data, recipe(*({"name": f"in-{w}x{h}", "width": w, "height": h} for w, h in BOXES)), LIMITS)
    for (w, h), got in zip(BOXES, inside.variants, strict=True):
        assert got.width <= min(w, size[0]) and got.height <= min(h, size[1])
        assert got.width == min(w, size[0]) or got.height == min(h, size[1])


def test_cover_crops_the_centre(render: Render) -> None:
    source = Image.new("RGB", (300, 100), "blue")
    source.paste((255, 0, 0), (100, 0, 200, 100))  # a red middle third between blue sides
    out = render(encoded(source), recipe({"name": "v", "width": 50, "height": 50, "fit": "cover"}), LIMITS)
    r, _, b, _ = ImageStat.Stat(opened(out).convert("RGBA")).mean
    assert r > 240 and b < 15


def test_contain_pads_with_transparency_where_the_format_keeps_it_and_white_in_jpeg(render: Render) -> None:
    data = encoded(Image.new("RGB", (400, 200), (0, 0, 200)))
    out = render(
        data,
        recipe(
            {"name": "png", "width": 100, "height": 100, "fit": "contain", "format": "png"},
            {"name": "jpeg", "width": 100, "height": 100, "fit": "contain", "format": "jpeg"},
        ),
        LIMITS,
    )
    png, jpeg = opened(out, 0), opened(out, 1)
    assert rgba_at(png, (50, 5))[3] == 0
    assert rgba_at(png, (50, 50)) == (0, 0, 200, 255)
    assert min(rgba_at(jpeg, (50, 5))[:3]) > 245
    assert rgba_at(jpeg, (50, 50))[2] > 180


def test_every_format_decodes_as_itself_and_carries_no_metadata(render: Render) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(photo(300, 200), "JPEG", exif=exif.tobytes(), icc_profile=icc, comment=b"a comment")
    formats = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
    out = render(data, recipe(*({"name": f, "width": 120, "format": f} for f in formats)), LIMITS)
    assert out.metadata.exif["Make"] == "Camera Maker"
    for index, (fmt, pillow_format) in enumerate(formats.items()):
        im = opened(out, index)
        assert out.variants[index].format == fmt
        assert (im.format, im.size) == (pillow_format, (120, 80))
        assert not im.getexif()
        assert not {"icc_profile", "exif", "comment", "xmp"} & set(im.info), im.info


def test_output_dimensions_are_clamped(render: Render) -> None:
    out = render(
        encoded(photo(400, 300)),
        recipe(
            {"name": "cover", "width": 300, "height": 300, "fit": "cover", "format": "png"},
            {"name": "wide", "width": 300, "format": "png"},
        ),
        Limits(max_pixels=50_000_000, max_frames=10, max_output_dimension=100),
    )
    assert [(v.width, v.height) for v in out.variants] == [(100, 100), (100, 75)]


def test_a_variant_is_the_same_whatever_else_the_recipe_asks_for(render: Render) -> None:
    # smaller variants are derived from larger ones; a panorama's cover thumbnail needs more than the
    # inside-fit medium has, and must not be upscaled from it
    data = encoded(Image.effect_noise((4000, 400), 80).convert("RGB"))  # fine detail shows any upscaling
    thumb = {"name": "thumb", "width": 256, "height": 256, "fit": "cover", "format": "png"}
    medium = {"name": "medium", "width": 1024, "height": 1024, "format": "png"}
    alone = opened(render(data, recipe(thumb), LIMITS))
    together = opened(render(data, recipe(medium, thumb), LIMITS), 1)
    assert ImageStat.Stat(ImageChops.difference(alone, together)).mean[0] < 1.5


def test_a_large_jpeg_decodes_reduced_and_renders_right(render: Render) -> None:
    source = photo(3000, 2000)
    data = encoded(source, "JPEG", quality=92)
    out = render(data, recipe({"name": "v", "width": 300, "format": "png"}), LIMITS)
    assert (out.metadata.width, out.metadata.height) == (3000, 2000)
    want = source.resize((300, 200), Image.Resampling.LANCZOS)
    assert ImageStat.Stat(ImageChops.difference(opened(out).convert("RGB"), want)).mean[0] < 3


# filters


def test_grayscale_filter_gives_grey_in_every_format(render: Render) -> None:
    out = render(
        encoded(photo(64, 64)),
        recipe({"name": "j", "width": 64}, {"name": "w", "width": 64, "format": "webp"}, filters=[{"op": "grayscale"}]),
        LIMITS,
    )
    assert opened(out, 0).mode == "L"
    r, g, b = opened(out, 1).convert("RGB").split()
    assert largest_difference(r, g) <= 2 and largest_difference(g, b) <= 2


def test_filters_change_colour_and_leave_alpha_alone(render: Render) -> None:
    source = photo(64, 64).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((64, 64))
    source.putalpha(alpha)
    filters: list[dict[str, Any]] = [
        {"op": "blur", "radius": 3},
        {"op": "autocontrast", "cutoff": 2},
        {"op": "sharpen"},
    ]
    out = opened(render(encoded(source), recipe({"name": "v", "width": 64, "format": "png"}, filters=filters), LIMITS))
    assert out.mode == "RGBA"
    assert ImageChops.difference(out.getchannel("A"), alpha).getbbox() is None
    assert ImageChops.difference(out.convert("RGB"), source.convert("RGB")).getbbox() is not None


# orientation

T = Image.Transpose
# files with no upright twin in the corpus: their stored pixels, turned as their EXIF (or XMP) says
TURNED = {
    "Portrait_6.jpg": T.ROTATE_270,
    "exif_imagemagick_orientation.png": T.ROTATE_180,
    "xmp_tags_orientation.png": T.ROTATE_180,
    "orientation_rectangle.jpg": T.ROTATE_90,
}


def as_srgb(image: Image.Image) -> Image.Image:
    """The image's pixels in sRGB, through its embedded profile if it has one (ColorMatch RGB, say)."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    converted = ImageCms.profileToProfile(image.convert("RGB"), source, ImageCms.createProfile("sRGB"))
    assert converted is not None
    return converted


def upright_twin(path: Path) -> Image.Image:
    if path.name.startswith("Landscape_"):
        return Image.open(IMAGES / "orientation" / "Landscape_1.jpg")
    if path.name.startswith("hopper_"):
        return Image.open(IMAGES / "baseline" / "hopper.jpg")
    return as_srgb(Image.open(path)).transpose(TURNED[path.name])


@pytest.mark.parametrize(
    "path", sorted(p for p in (IMAGES / "orientation").iterdir() if p.name != "LICENSE.recurser"), ids=lambda p: p.name
)
def test_every_orientation_comes_out_upright(render: Render, path: Path) -> None:
    out = render(path.read_bytes(), recipe({"name": "v", "width": 256, "height": 256, "format": "png"}), LIMITS)
    got, upright = opened(out), upright_twin(path)
    assert (out.metadata.width, out.metadata.height) == upright.size
    scale = min(256 / upright.width, 256 / upright.height, 1)  # inside: never upscaled
    assert got.size == (round(upright.width * scale), round(upright.height * scale))
    right = distance(got, upright)
    assert right < 8, f"{path.name} differs from its upright twin"
    for turn in T:
        wrong = upright.transpose(turn)
        if wrong.size == upright.size and distance(wrong, upright) > 1:  # a turn that makes a visible difference
            assert distance(got, wrong) > 3 * right, f"{path.name} looks turned by {turn.name}"


# modes


@pytest.mark.parametrize(
    ("name", "mode"),
    [("pil_sample_cmyk.jpg", "RGB"), ("pil123p.png", "RGB"), ("hopper_gray.jpg", "L"), ("basn2c16.png", "RGB")],
)
def test_modes_become_what_jpeg_takes_with_the_right_colours(render: Render, name: str, mode: str) -> None:
    path = IMAGES / "modes" / name
    out = opened(render(path.read_bytes(), recipe({"name": "v", "width": 512, "format": "jpeg"}), LIMITS))
    assert out.mode == mode
    with Image.open(path) as source:
        assert distance(out, on_white(source)) < 6


@pytest.mark.parametrize(
    ("mode", "compression"), [("YCbCr", "raw"), ("YCbCr", "tiff_lzw"), ("LAB", "raw"), ("RGB", "jpeg")]
)
def test_a_tiff_in_ycbcr_or_lab_keeps_its_colours(render: Render, mode: str, compression: str) -> None:
    """A TIFF's pixels as its photometric tag says: libvips read plain YCbCr as RGB (green came out grey) and
    refused CIELAB as corrupt; JPEG-compressed TIFFs (YCbCr inside) it reads right."""
    source = Image.new("RGB", (64, 64), (0, 135, 0))
    source.paste((200, 30, 90), (0, 0, 32, 64))
    data = encoded(source.convert(mode), "TIFF", compression=compression)
    out = opened(render(data, recipe({"name": "v", "width": 32, "format": "png"}), LIMITS)).convert("RGB")
    assert out.size == (32, 32)
    for x, colour in ((4, (200, 30, 90)), (28, (0, 135, 0))):
        pixel = cast(tuple[int, int, int], out.getpixel((x, 16)))
        assert all(abs(a - b) <= 16 for a, b in zip(pixel, colour, strict=True)), (x, mode, pixel)


def test_sixteen_bit_grey_is_scaled_not_clipped_to_white(render: Render) -> None:
    gradient = opened(
        render(
            (IMAGES / "modes" / "basn0g16.png").read_bytes(),
            recipe({"name": "v", "width": 32, "format": "png"}),
            LIMITS,
        )
    )
    low, high = cast(tuple[int, int], gradient.convert("L").getextrema())
    assert low < 10 and high > 245
    # 291..694 of 65535: nearly black, which Pillow's own convert("L") would make all white
    dark = opened(
        render(
            (IMAGES / "modes" / "16bit.cropped.tif").read_bytes(),
            recipe({"name": "v", "width": 64, "format": "png"}),
            LIMITS,
        )
    )
    assert cast(tuple[int, int], dark.convert("L").getextrema())[1] < 10


@pytest.mark.parametrize(
    "name", ["transparent.png", "transparent.webp", "p_trns_single.png", "rgb_trns.png", "i_trns.png", "pil123p.png"]
)
def test_transparency_is_kept_in_png_and_webp_and_flattened_onto_white_in_jpeg(render: Render, name: str) -> None:
    data = (IMAGES / "modes" / name).read_bytes()
    with Image.open(io.BytesIO(data)) as source:
        alpha = source.convert("RGBA").getchannel("A")
        flattened = on_white(source)
    clear = next((x, y) for y in range(alpha.height) for x in range(alpha.width) if alpha.getpixel((x, y)) == 0)
    formats = ("png", "webp", "jpeg")
    out = render(data, recipe(*({"name": f, "width": alpha.width, "format": f} for f in formats)), LIMITS)
    png, webp, jpeg = (opened(out, i) for i in range(3))
    assert rgba_at(png, clear)[3] == 0
    assert rgba_at(webp, clear)[3] < 16
    assert jpeg.mode in ("RGB", "L")
    assert distance(jpeg, flattened) < 4


# limits


def test_pixel_limit_is_per_frame_and_inclusive(render: Render) -> None:
    small = Limits(max_pixels=10_000, max_frames=10, max_output_dimension=4096)
    assert render(encoded(photo(100, 100)), DEFAULT_RECIPE, small).metadata.width == 100
    with pytest.raises(TooManyPixels):
        render(encoded(photo(101, 100)), DEFAULT_RECIPE, small)


def animated_gif(frames: int, size: int = 16) -> bytes:
    images = [Image.new("RGB", (size, size), (i * 40 % 256, 255 - i * 40 % 256, 0)) for i in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:])


def test_frame_limit(render: Render) -> None:
    data = animated_gif(5)
    with pytest.raises(TooManyFrames):
        render(data, DEFAULT_RECIPE, Limits(max_pixels=10_000, max_frames=4, max_output_dimension=4096))
    assert (
        render(data, DEFAULT_RECIPE, Limits(max_pixels=10_000, max_frames=5, max_output_dimension=4096)).metadata.frames
        == 5
    )


def test_a_bomb_in_a_later_gif_frame_is_refused_before_decoding(render: Render) -> None:
    data = bytearray(animated_gif(3))
    # the last frame's image descriptor: at (0, 0), 16x16; make it claim 300x300 past the logical screen
    at = data.rfind(b"\x2c" + struct.pack("<4H", 0, 0, 16, 16))
    assert at > 0
    data[at + 5 : at + 9] = struct.pack("<2H", 300, 300)
    with pytest.raises(TooManyPixels):
        render(bytes(data), DEFAULT_RECIPE, Limits(max_pixels=10_000, max_frames=10, max_output_dimension=4096))


# the corpus: every file renders or is refused with one of three errors, and nothing escapes

REFUSED: dict[str, type[ImagePipeError]] = {
    "bomb/decompression_bomb.gif": TooManyPixels,
    "bomb/decompression_bomb_extents.gif": TooManyPixels,  # the bomb is in frame 2
    "bomb/reallybig.bmp": TooManyPixels,
    "bomb/png_decompression_dos.png": InvalidImage,  # a text chunk that inflates past Pillow's limit
    "bomb/zero_width.gif": InvalidImage,
    "corrupt/broken.png": InvalidImage,
    "corrupt/truncated_image.png": InvalidImage,
    "corrupt/truncated_jpeg.jpg": InvalidImage,
    "corrupt/unknown_compression_method.png": InvalidImage,
    "corrupt/xcrn0g04.png": InvalidImage,
    "corrupt/xd9n2c08.png": InvalidImage,
    "corrupt/xdtn0g01.png": InvalidImage,  # no IDAT
    "corrupt/xhdn0g08.png": InvalidImage,
    "corrupt/xs1n0g01.png": InvalidImage,
    "not_an_image/test-ole-file.doc": InvalidImage,
    "animated/ultrahdr.jpg": InvalidImage,  # the corpus copy is a truncated stub: no pixel of it decodes
}
CORPUS_FILES = sorted(p for p in IMAGES.glob("*/*") if not p.name.startswith("LICENSE"))


def test_every_corrupt_or_bomb_file_has_an_expected_outcome(render: Render) -> None:
    bad = {f"{p.parent.name}/{p.name}" for p in CORPUS_FILES if p.parent.name in {"bomb", "corrupt", "not_an_image"}}
    rendered = {  # damaged, but every pixel decodes
        "corrupt/broken_data_stream.png",
        "corrupt/exif-dpi-zerodivision.jpg",
        "corrupt/hopper_bad_exif.jpg",
        "corrupt/invalid-exif.jpg",
        "corrupt/jpeg_ff00_header.jpg",
        "corrupt/junk_jpeg_header.jpg",
        "corrupt/sugarshack_bad_mpo_header.jpg",
        "corrupt/truncated_app14.jpg",
        "corrupt/truncated_end_chunk.png",
        "corrupt/xcsn0g01.png",
    }
    assert bad == rendered | (set(REFUSED) & bad)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_renders_or_is_refused_cleanly(render: Render, path: Path) -> None:
    expected = REFUSED.get(f"{path.parent.name}/{path.name}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = render(path.read_bytes(), DEFAULT_RECIPE, LIMITS)
        except (InvalidImage, TooManyPixels, TooManyFrames) as exc:
            assert type(exc) is expected, f"{path.name}: {exc!r}"
            out = None
    assert caught == [], [str(w.message) for w in caught]
    if out is None:
        return
    assert expected is None, f"{path.name} rendered"
    for index, variant in enumerate(DEFAULT_RECIPE.variants):
        assert opened(out, index).format == variant.format.name
    assert out.variants[0].width == out.variants[0].height == 256  # the cover thumbnail


# metadata and the process boundary


def test_metadata_describes_the_source(render: Render) -> None:
    data = encoded(Image.new("RGB", (40, 30), (250, 5, 5)))
    meta = render(data, DEFAULT_RECIPE, LIMITS).metadata
    assert (meta.width, meta.height, meta.format, meta.mode, meta.frames) == (40, 30, "PNG", "RGB", 1)
    assert (meta.bytes, meta.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    r, g, b = (int(meta.dominant_color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 220 and g < 40 and b < 40


def test_metadata_of_camera_and_animated_files(render: Render) -> None:
    turned = render((IMAGES / "orientation" / "Landscape_6.jpg").read_bytes(), DEFAULT_RECIPE, LIMITS).metadata
    assert (turned.width, turned.height, turned.exif["Orientation"]) == (1800, 1200, "6")
    camera = render((IMAGES / "animated" / "sugarshack.mpo").read_bytes(), DEFAULT_RECIPE, LIMITS).metadata
    assert (camera.format, camera.frames, camera.exif["Make"]) == ("MPO", 2, "Nintendo")
    gif = render((IMAGES / "animated" / "iss634.gif").read_bytes(), DEFAULT_RECIPE, LIMITS).metadata
    assert (gif.format, gif.mode, gif.frames) == ("GIF", "P", 42)


def test_the_result_pickles_for_a_process_pool(render: Render) -> None:
    out = render(encoded(photo(64, 48)), DEFAULT_RECIPE, LIMITS)
    assert pickle.loads(pickle.dumps(out)) == out  # noqa: S301 (our own bytes)


def test_a_worker_without_avif_refuses_the_recipe(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[render.__module__], "can_encode_avif", lambda: False)
    with pytest.raises(InvalidRecipe):
        render(encoded(photo(64, 48)), recipe({"name": "v", "width": 32, "format": "avif"}), LIMITS)


def test_progress_is_told_decoding_then_each_variant(render: Render) -> None:
    told: list[tuple[str, int, int]] = []
    three = recipe(
        {"name": "a", "width": 64, "format": "png"},
        {"name": "b", "width": 32, "format": "jpeg"},
        {"name": "c", "width": 16, "height": 16, "fit": "cover", "format": "webp"},
    )
    render(encoded(photo(200, 150)), three, LIMITS, lambda stage, done, total: told.append((stage, done, total)))
    assert told == [
        ("decoding", 0, 3),
        ("rendering", 0, 3),
        ("rendering", 1, 3),
        ("rendering", 2, 3),
        ("rendering", 3, 3),
    ]


def test_an_empty_file_and_an_unknown_format_say_which_they_are(render: Render) -> None:
    with pytest.raises(InvalidImage, match="the file is empty"):
        render(b"", DEFAULT_RECIPE, LIMITS)
    with pytest.raises(InvalidImage, match=r"not an image in a supported format \(JPEG, .*HEIC with"):
        render(b"hello, world", DEFAULT_RECIPE, LIMITS)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bomb/zero_width.gif", "the GIF header is broken"),  # a GIF's bytes, not "no supported format"
        ("corrupt/broken.png", "the PNG header is broken"),
        ("bomb/png_decompression_dos.png", "decompression bomb"),  # not Pillow's ValueError text
    ],
)
def test_a_broken_header_is_named_for_its_format(render: Render, name: str, reason: str) -> None:
    data = next(p for p in CORPUS_FILES if f"{p.parent.name}/{p.name}" == name).read_bytes()
    with pytest.raises(InvalidImage, match=reason):
        render(data, DEFAULT_RECIPE, LIMITS)
