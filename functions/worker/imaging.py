"""The Pillow core of the worker: bytes and a recipe in, encoded variants and metadata out.

Pure and synchronous: it runs in a process pool (arguments and results pickle) or a thread pool, never on
the event loop. Every way Pillow can fail to read the bytes becomes :class:`InvalidImage`; sizes and frame
counts are checked from the headers before any pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError, features

from imagepipe.errors import ImagePipeError, InvalidImage, TooManyFrames, TooManyPixels
from imagepipe.models import (
    Autocontrast,
    Blur,
    Filter,
    Fit,
    Grayscale,
    ImageMetadata,
    OutputFormat,
    Recipe,
    Sharpen,
    Variant,
)

# Our own limits (settings) are checked from the headers before decoding, per frame; Pillow's global guard
# would only warn or refuse by a different number, so it is off.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Everything Pillow and its codecs are known to raise on hostile input, lazily and from any call.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ZeroDivisionError,
    struct.error,
    zlib.error,
    MemoryError,
    NotImplementedError,
    RuntimeError,
)

_EXIF_FIELDS = {
    0x010F: "Make",
    0x0110: "Model",
    0x0112: "Orientation",
    0x0131: "Software",
    0x0132: "DateTime",
}
_EXIF_IFD_FIELDS = {0x9003: "DateTimeOriginal", 0xA434: "LensModel", 0x829A: "ExposureTime", 0x8827: "ISOSpeedRatings"}
_EXIF_IFD = 0x8769
# Bicubic, as Pillow's thumbnail() uses: for downscaling photos it looks like Lanczos at two thirds of the
# cost (measured here: 78 ms against 120 ms for 12 MP -> 2048 px).
_RESAMPLE = Image.Resampling.BICUBIC
_MAX_EXIF_VALUE = 64


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_frames: int
    max_output_dimension: int


@dataclass(frozen=True)
class RenderedVariant:
    name: str
    data: bytes
    width: int
    height: int
    format: OutputFormat


@dataclass(frozen=True)
class Rendered:
    variants: list[RenderedVariant]
    metadata: ImageMetadata


def render(data: bytes, recipe: Recipe, limits: Limits) -> Rendered:
    """Decode ``data`` once, apply the recipe's filters, and encode every variant."""
    decoded = decode(data, recipe, limits)
    base = _filtered(decoded.image, recipe)
    metadata = ImageMetadata(
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        mode=decoded.mode,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=decoded.frames,
        exif=decoded.exif,
        dominant_color=_dominant_color(base),
    )
    return Rendered(variants=_render_all(base, recipe, limits), metadata=metadata)


@dataclass(frozen=True)
class Decoded:
    """The first frame, upright and in a mode every encoder takes, with what the headers said."""

    image: Image.Image
    width: int
    height: int
    format: str
    mode: str
    frames: int
    exif: dict[str, str]


def decode(data: bytes, recipe: Recipe, limits: Limits) -> Decoded:
    """Everything that reads the untrusted bytes, and only that, under :func:`_decoding`: a failure here is
    the file's fault; a failure after it is ours and must not pass for an invalid image."""
    with _decoding(), Image.open(io.BytesIO(data)) as im:
        frames = _check_headers(im, limits)
        orientation = _orientation(im)
        width, height = im.size if orientation < 5 else im.size[::-1]
        exif = _exif_fields(im)
        source_format, source_mode = im.format or "unknown", im.mode
        _draft(im, recipe, orientation)
        im.load()
        image = _normalised(_upright(im, orientation))
    return Decoded(image, width, height, source_format, source_mode, frames, exif)


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn any decoder failure into InvalidImage; keep Pillow's warnings (bad EXIF, bombs) inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except ImagePipeError:
            raise
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(f"the image is too large to decode: {exc}") from exc
        except _DECODE_ERRORS as exc:
            raise InvalidImage(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not an image in a supported format (JPEG, PNG, GIF, WebP, AVIF, TIFF, BMP, ...)"
    if "truncated" in str(exc):
        return "the image data is truncated"
    return f"the image data is corrupt ({type(exc).__name__}: {exc})"[:300]


def _check_headers(im: Image.Image, limits: Limits) -> int:
    """Refuse too many pixels or frames from the headers alone; a bomb can hide in a later frame."""
    _check_size(im.size, limits, 0)  # before n_frames, which seeks through every frame
    frames = int(getattr(im, "n_frames", 1) or 1)
    if frames > limits.max_frames:
        raise TooManyFrames(f"the image has {frames} frames; the limit is {limits.max_frames}")
    if frames > 1:
        for index in range(1, frames):
            im.seek(index)  # reads the frame header, not its pixels
            _check_size(im.size, limits, index)
            tile = getattr(im, "tile", None) or []
            for entry in tile:  # GIF frame extents can exceed the logical screen
                x0, y0, x1, y1 = entry[1]
                _check_size((x1 - x0, y1 - y0), limits, index)
        im.seek(0)
    return frames


def _check_size(size: tuple[int, int], limits: Limits, frame: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"frame {frame} has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixels(
            f"frame {frame} is {width}x{height} = {width * height} pixels; the limit is {limits.max_pixels}"
        )


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:  # broken EXIF is no reason to refuse the pixels
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif_fields(im: Image.Image) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        exif = im.getexif()
        pairs = [(tag, exif.get(tag)) for tag in _EXIF_FIELDS]
        ifd = exif.get_ifd(_EXIF_IFD)
        pairs += [(tag, ifd.get(tag)) for tag in _EXIF_IFD_FIELDS]
    except _DECODE_ERRORS:
        return found
    names = {**_EXIF_FIELDS, **_EXIF_IFD_FIELDS}
    for tag, value in pairs:
        if value is None:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        text = text.replace("\x00", "").strip()
        if text:
            found[names[tag]] = text[:_MAX_EXIF_VALUE]
    return found


def _largest_box(recipe: Recipe) -> tuple[int, int]:
    """The largest width and height any variant can need from the source."""
    width = max((v.width or v.height or 0) for v in recipe.variants)
    height = max((v.height or v.width or 0) for v in recipe.variants)
    return width, height


def _draft(im: Image.Image, recipe: Recipe, orientation: int) -> None:
    """Let JPEG decode straight to the smallest scale that still covers every variant."""
    if im.format != "JPEG":
        return
    width, height = _largest_box(recipe)
    if orientation in (5, 6, 7, 8):  # the box applies after a quarter turn
        width, height = height, width
    # cover crops: the short side must reach the box, so ask for the box scaled to the source's aspect
    src_w, src_h = im.size
    scale = max(width / src_w, height / src_h)
    needed = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB", needed)


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return im.transpose(method) if method is not None else im


def _normalised(im: Image.Image) -> Image.Image:
    """RGB or RGBA (L or LA for grey), 8 bits per channel, transparency kept as alpha."""
    mode = im.mode
    if mode in ("RGB", "L") and "transparency" in im.info:  # a colour key (tRNS) becomes real alpha
        return im.convert("RGBA" if mode == "RGB" else "LA")
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and wider greys: scale to 8 bits rather than clip everything above 255 to white
        wide = im.convert("I") if mode != "F" else im
        extrema = wide.getextrema()
        high = extrema[1] if isinstance(extrema[1], int | float) else 255
        if high > 255:
            wide = wide.point(lambda v: v / 256)
        grey = wide.convert("L")
        if "transparency" in im.info:
            return grey.convert("LA")
        return grey
    if mode == "P" or mode == "PA":
        has_alpha = "transparency" in im.info or mode == "PA"
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode == "CMYK":
        return im.convert("RGB")
    if "transparency" in im.info or "A" in mode:
        return im.convert("RGBA")
    return im.convert("RGB")


def _filtered(im: Image.Image, recipe: Recipe) -> Image.Image:
    for step in recipe.filters:
        im = _apply(im, step)
    return im


def _apply(im: Image.Image, step: Filter) -> Image.Image:
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    colour = im.convert("RGB" if im.mode == "RGBA" else "L") if alpha is not None else im
    if isinstance(step, Grayscale):
        colour = colour.convert("L")
    elif isinstance(step, Autocontrast):
        colour = ImageOps.autocontrast(colour, cutoff=step.cutoff)
    elif isinstance(step, Sharpen):
        colour = colour.filter(ImageFilter.SHARPEN)
    elif isinstance(step, Blur):
        colour = colour.filter(ImageFilter.GaussianBlur(step.radius))
    if alpha is None:
        return colour
    colour = colour.convert("RGBA" if colour.mode == "RGB" else "LA")
    colour.putalpha(alpha)
    return colour


def _render_all(base: Image.Image, recipe: Recipe, limits: Limits) -> list[RenderedVariant]:
    """Largest first; a smaller variant is derived from the last rendered intermediate when that one
    still covers it, so the full-size source is resampled once."""
    order = sorted(recipe.variants, key=lambda v: _area(v, base.size), reverse=True)
    rendered: dict[str, RenderedVariant] = {}
    source = base
    for variant in order:
        resized = _resize(source, variant, limits)
        if variant.fit is Fit.INSIDE and _covers(resized.size, variant, source.size):
            source = resized
        rendered[variant.name] = _encode(resized, variant)
    return [rendered[v.name] for v in recipe.variants]


def _area(variant: Variant, size: tuple[int, int]) -> int:
    width, height = _target_box(variant, size, None)
    return width * height


def _covers(size: tuple[int, int], variant: Variant, source: tuple[int, int]) -> bool:
    """An inside-fit result is a valid source for smaller variants unless it was clamped oddly."""
    return size[0] <= source[0] and size[1] <= source[1]


def _target_box(variant: Variant, size: tuple[int, int], limits: Limits | None) -> tuple[int, int]:
    src_w, src_h = size
    cap = limits.max_output_dimension if limits else 1 << 30
    width = min(variant.width or cap, cap)
    height = min(variant.height or cap, cap)
    if variant.fit is Fit.INSIDE:
        scale = min(width / src_w, height / src_h, 1.0)  # never upscale
        return max(1, round(src_w * scale)), max(1, round(src_h * scale))
    return width, height


def _resize(im: Image.Image, variant: Variant, limits: Limits) -> Image.Image:
    box = _target_box(variant, im.size, limits)
    if variant.fit is Fit.INSIDE:
        if box == im.size:
            return im
        return im.resize(box, _RESAMPLE, reducing_gap=3.0)
    if variant.fit is Fit.COVER:
        return ImageOps.fit(im, box, _RESAMPLE)
    if variant.format is not OutputFormat.JPEG and im.mode in ("RGB", "L"):
        im = im.convert("RGBA" if im.mode == "RGB" else "LA")  # pad with transparency where it can be kept
    return ImageOps.pad(im, box, _RESAMPLE, color=_pad_colour(im, variant.format))


def _pad_colour(im: Image.Image, fmt: OutputFormat) -> tuple[int, ...] | int:
    if fmt is OutputFormat.JPEG:
        return 255 if im.mode in ("L", "LA") else (255, 255, 255)
    if im.mode in ("RGBA", "LA"):
        return (255, 255, 255, 0) if im.mode == "RGBA" else (255, 0)
    return 255 if im.mode == "L" else (255, 255, 255)


def _encode(im: Image.Image, variant: Variant) -> RenderedVariant:
    fmt = variant.format
    out = _for_format(im, fmt)
    buffer = io.BytesIO()
    # no exif=, icc_profile= or other metadata: outputs carry pixels only
    if fmt is OutputFormat.JPEG:
        out.save(buffer, "JPEG", quality=variant.quality, optimize=False, progressive=False)
    elif fmt is OutputFormat.PNG:
        out.save(buffer, "PNG", optimize=False, compress_level=6)
    elif fmt is OutputFormat.WEBP:
        out.save(buffer, "WEBP", quality=variant.quality, method=4)
    else:
        if not features.check("avif"):
            raise InvalidImage("this worker's Pillow cannot encode AVIF")
        out.save(buffer, "AVIF", quality=variant.quality, speed=8)
    return RenderedVariant(variant.name, buffer.getvalue(), out.width, out.height, fmt)


def _for_format(im: Image.Image, fmt: OutputFormat) -> Image.Image:
    if fmt is OutputFormat.JPEG and im.mode in ("RGBA", "LA"):
        # JPEG has no alpha: flatten onto white
        background = Image.new("RGB" if im.mode == "RGBA" else "L", im.size, 255 if im.mode == "LA" else "white")
        background.paste(im, mask=im.getchannel("A"))
        return background
    if fmt is OutputFormat.AVIF and im.mode in ("L", "LA"):
        return im.convert("RGBA" if im.mode == "LA" else "RGB")
    return im


def _dominant_color(im: Image.Image) -> str:
    """The centre of the most common colour bucket (8 levels per channel), ignoring transparent pixels."""
    scale = min(64 / im.width, 64 / im.height, 1.0)
    box = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # shrink first, convert after: converting the full-size image would cost more than the whole answer
    small = im.resize(box, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGBA")
    counts: dict[tuple[int, int, int], int] = {}
    for count, pixel in small.getcolors(64 * 64) or []:
        r, g, b, a = pixel  # type: ignore[misc]
        if a >= 128:
            bucket = (r >> 5, g >> 5, b >> 5)
            counts[bucket] = counts.get(bucket, 0) + count
    if not counts:
        return "#000000"
    r, g, b = (v * 32 + 16 for v in max(counts, key=lambda k: (counts[k], k)))
    return f"#{r:02x}{g:02x}{b:02x}"
