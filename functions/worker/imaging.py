"""The Pillow core of the worker: bytes and a recipe in, encoded variants and metadata out.

Pure and synchronous: it runs in a process pool (arguments and results pickle) or a thread pool, never on
the event loop. Every way Pillow can fail to read the bytes becomes :class:`InvalidImage`; pixel and frame
limits are checked from the headers before any pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError, features

from imagepipe.errors import ImagePipeError, InvalidImage, InvalidRecipe, TooManyFrames, TooManyPixels
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

# Our limits are checked per frame from the headers; Pillow's global guard would only warn or refuse by
# another number, so it is off (and its DecompressionBombWarning never fires).
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is refused, never rendered half grey

# What the API accepts. Bytes can also land straight in S3, and Pillow's rarer plugins (EPS runs Ghostscript)
# are attack surface we do not need. JPEG covers MPO: Pillow's JPEG opener turns into MPO itself.
_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP")

# Everything Pillow and its codecs are known to raise on hostile input, lazily and from any call.
_DECODE_ERRORS = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,
    ValueError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    struct.error,
    zlib.error,
    MemoryError,
    NotImplementedError,  # e.g. a pixel format a plugin knows but cannot decode
)

_EXIF_TAGS = {0x010F: "Make", 0x0110: "Model", 0x0112: "Orientation", 0x0131: "Software", 0x0132: "DateTime"}
_EXIF_IFD = 0x8769
_EXIF_IFD_TAGS = {0x9003: "DateTimeOriginal", 0xA434: "LensModel"}
_MAX_EXIF_TEXT = 64

# EXIF orientation -> the transpose that makes it upright (the table ImageOps.exif_transpose uses)
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Bicubic, as thumbnail() uses: for downscaling photos it looks like Lanczos at two thirds of the cost.
_RESAMPLE = Image.Resampling.BICUBIC
# reducing_gap: a cheap integer reduction first, then bicubic; from 3.0 Pillow finds it indistinguishable from a
# full bicubic pass, and a 12 MP -> 256 px thumbnail takes a quarter of the time
_GAP = 3.0


@dataclass(frozen=True)
class Limits:
    """What the worker agrees to decode and produce."""

    max_pixels: int  # per frame, width * height
    max_frames: int
    max_output_dimension: int


@dataclass(frozen=True)
class RenderedVariant:
    """One encoded output of a recipe's variant."""

    name: str
    data: bytes
    width: int
    height: int
    format: OutputFormat


@dataclass(frozen=True)
class Rendered:
    """Every variant, in the recipe's order, and what the source turned out to be."""

    variants: list[RenderedVariant]
    metadata: ImageMetadata


@dataclass(frozen=True)
class _Source:
    image: Image.Image  # the first frame, upright, in L, LA, RGB or RGBA, maybe drafted smaller
    width: int  # of the whole source, upright
    height: int
    format: str
    mode: str
    frames: int
    exif: dict[str, str]


ReportProgress = Callable[[str, int, int], None]
"""Called with (stage, variants done, variants in all) as rendering goes: imagepipe.progress.RenderProgress."""


def render(data: bytes, recipe: Recipe, limits: Limits, progress: ReportProgress | None = None) -> Rendered:
    """Decode ``data`` once, apply the recipe's filters once, and encode every variant, largest first.

    Raises TooManyPixels or TooManyFrames (from the headers, before decoding), InvalidImage when Pillow cannot
    read the bytes completely, and InvalidRecipe when this Pillow cannot write a requested format.
    """
    if any(v.format is OutputFormat.AVIF for v in recipe.variants) and not features.check("avif"):
        raise InvalidRecipe("this worker cannot encode AVIF")
    # Pillow warns about broken EXIF, malformed MPO headers and the like; the outcome says all that matters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = progress or _no_progress
        report("decoding", 0, len(recipe.variants))
        source = _decode(data, recipe.variants, limits)
        image = _filtered(source.image, recipe.filters)
        variants = _render_variants(image, recipe.variants, limits.max_output_dimension, report)
        dominant = _dominant_color(image)
    metadata = ImageMetadata(
        width=source.width,
        height=source.height,
        format=source.format,
        mode=source.mode,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=source.frames,
        exif=source.exif,
        dominant_color=dominant,
    )
    return Rendered(variants=variants, metadata=metadata)


def _decode(data: bytes, variants: Sequence[Variant], limits: Limits) -> _Source:
    """Everything that reads the untrusted bytes, and only that: a failure in here is the file's fault; one
    after it is ours and must not pass for an invalid image."""
    with _decoding(), Image.open(io.BytesIO(data), formats=_FORMATS) as im:
        frames = _check_limits(im, data, limits)
        source_format, source_mode = im.format or "unknown", im.mode
        orientation, exif = _read_exif(im)  # reads PNG pixels too: its eXIf chunk may follow them
        upright = im.size[::-1] if orientation >= 5 else im.size
        if im.format in ("JPEG", "MPO"):
            # decode straight to the smallest power-of-two reduction that still covers every variant
            scale = min(1.0, max(_scale(v, upright, limits.max_output_dimension) for v in variants))
            im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))
        im.load()
        image = _normalised(im.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else im)
    image.info = {}  # encoders copy ICC profiles, comments and colour keys from it; outputs carry pixels only
    return _Source(image, upright[0], upright[1], source_format, source_mode, frames, exif)


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn any decoder failure into InvalidImage, letting our own errors through."""
    try:
        yield
    except ImagePipeError:
        raise
    except Image.DecompressionBombError as exc:  # only if someone re-enables Pillow's guard
        raise TooManyPixels(f"the image is too large to decode: {exc}") from exc
    except _DECODE_ERRORS as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise InvalidImage("not an image in a supported format (JPEG, PNG, GIF, WebP, AVIF, TIFF, BMP)") from exc
        if "truncated" in str(exc):
            raise InvalidImage("the image data is truncated") from exc
        raise InvalidImage(f"the image data is corrupt ({type(exc).__name__}: {exc})"[:200]) from exc


def _check_limits(im: Image.Image, data: bytes, limits: Limits) -> int:
    """Refuse too many pixels or frames from the headers alone; a bomb can hide in a later frame."""
    _check_pixels(im.size, limits)  # first: counting frames reads through the whole file
    frames = int(getattr(im, "n_frames", 1))
    if frames > limits.max_frames:
        raise TooManyFrames(f"the image has {frames} frames; the limit is {limits.max_frames}")
    if frames > 1:
        for size in _frame_sizes(im, data, frames):
            _check_pixels(size, limits)
    return frames


def _check_pixels(size: tuple[int, int], limits: Limits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixels(f"a frame of {width}x{height} pixels is more than the limit of {limits.max_pixels}")


def _frame_sizes(im: Image.Image, data: bytes, frames: int) -> Iterator[tuple[int, int]]:
    """The canvas every frame needs, read without decoding pixels where the format allows."""
    if im.format == "PNG":
        return  # APNG frames lie within the canvas: Pillow refuses any other as it reads its fcTL chunk
    if im.format == "GIF":
        # Pillow's seek() decodes every frame before the one it seeks to; the image descriptors say enough
        canvases = list(_gif_canvases(data))
        if len(canvases) == frames:
            yield from canvases
            return
    for index in range(1, frames):  # MPO, TIFF, WebP, AVIF: seek() reads a header, or nothing
        im.seek(index)
        yield im.size
    im.seek(0)


def _gif_canvases(data: bytes) -> Iterator[tuple[int, int]]:
    """The canvas size as of each GIF frame: Pillow grows it to any frame that overhangs the logical screen."""
    width, height = struct.unpack_from("<HH", data, 6)
    pos = 13 + _colour_table_size(data[10])
    while pos < len(data) and data[pos] != 0x3B:  # trailer
        if data[pos] == 0x21:  # extension: label, then data sub-blocks
            pos = _after_sub_blocks(data, pos + 2)
        elif data[pos] == 0x2C and pos + 10 <= len(data):  # image descriptor: x, y, w, h, flags
            x, y, w, h, flags = struct.unpack_from("<4HB", data, pos + 1)
            width, height = max(width, x + w), max(height, y + h)
            yield width, height
            pos = _after_sub_blocks(data, pos + 11 + _colour_table_size(flags))  # past the LZW code size
        else:
            pos += 1  # Pillow skips stray bytes between blocks, so a frame may follow them


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _after_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _read_exif(im: Image.Image) -> tuple[int, dict[str, str]]:
    """The orientation and a few descriptive fields. Broken EXIF counts as what could be read: the pixels may
    be fine, and if they are not, load() says so."""
    fields: dict[str, str] = {}
    try:
        exif = im.getexif()
        _collect(exif, _EXIF_TAGS, fields)
        _collect(exif.get_ifd(_EXIF_IFD), _EXIF_IFD_TAGS, fields)
    except _DECODE_ERRORS:
        pass
    orientation = fields.get("Orientation", "1")
    return (int(orientation) if orientation.isdigit() and int(orientation) in _UPRIGHT else 1), fields


def _collect(ifd: Mapping[int, object], names: Mapping[int, str], into: dict[str, str]) -> None:
    for tag, name in names.items():
        value = ifd.get(tag)
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)
        text = "".join(ch for ch in text if ch.isprintable()).strip()[:_MAX_EXIF_TEXT]
        if text:
            into[name] = text


def _normalised(im: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA, 8 bits per channel, any transparency as an alpha channel."""
    if im.mode.startswith("I;16"):
        # 16-bit greys scale to 8 bits; Pillow's own convert("L") clips everything above 255 to white
        grey = im.point(lambda v: v / 256).convert("L")
        if "transparency" in im.info:  # a 16-bit colour key, which Pillow's LA conversion does apply
            return Image.merge("LA", (grey, im.convert("LA").getchannel("A")))
        return grey
    if im.mode in ("I", "F"):  # 32-bit int or float: no implied range, so stretch the one it has
        low, high = cast(tuple[float, float], im.getextrema())
        scale = 255 / (high - low) if high > low else 1.0
        return im.point(lambda v: (v - low) * scale).convert("L")
    if im.mode in ("L", "RGB"):
        return im.convert(im.mode + "A") if "transparency" in im.info else im  # a colour key becomes alpha
    if im.mode in ("LA", "RGBA"):
        return im
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")  # P, PA, CMYK, YCbCr...


def _filtered(im: Image.Image, filters: Sequence[Filter]) -> Image.Image:
    """The recipe's filters, in order, on colour only: alpha is set aside and put back unchanged."""
    if not filters:
        return im
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    colour = im.convert(im.mode[:-1]) if alpha is not None else im
    for step in filters:
        if isinstance(step, Grayscale):
            colour = colour.convert("L")
        elif isinstance(step, Autocontrast):
            colour = ImageOps.autocontrast(colour, cutoff=step.cutoff)
        elif isinstance(step, Sharpen):
            colour = colour.filter(ImageFilter.SHARPEN)
        elif isinstance(step, Blur):
            colour = colour.filter(ImageFilter.GaussianBlur(step.radius))
    if alpha is not None:
        colour.putalpha(alpha)  # L -> LA, RGB -> RGBA
    return colour


def _box(variant: Variant, cap: int) -> tuple[int, int]:
    return min(variant.width or cap, cap), min(variant.height or cap, cap)


def _scale(variant: Variant, size: tuple[int, int], cap: int) -> float:
    """How much of an image of ``size`` the variant needs, before cropping or padding: below 1 shrinks."""
    (box_w, box_h), (width, height) = _box(variant, cap), size
    if variant.fit is Fit.COVER:
        return max(box_w / width, box_h / height)
    within = min(box_w / width, box_h / height)
    return min(within, 1.0) if variant.fit is Fit.INSIDE else within  # inside never upscales


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def _render_variants(
    image: Image.Image, variants: Sequence[Variant], cap: int, report: ReportProgress
) -> list[RenderedVariant]:
    """Largest first, each from the last inside-fit result: the full-size image is resampled about once, and
    small variants come from small intermediates."""
    source = image
    rendered: dict[str, RenderedVariant] = {}
    for variant in sorted(variants, key=lambda v: _scale(v, image.size, cap), reverse=True):
        scale = _scale(variant, image.size, cap)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        fitted = _fitted(source, variant, _box(variant, cap), size)
        if variant.fit is Fit.INSIDE:
            source = fitted  # sorted by scale: no later variant needs more pixels than this one has
        report("rendering", len(rendered), len(variants))
        rendered[variant.name] = _encode(fitted, variant)
    report("rendering", len(rendered), len(variants))
    return [rendered[v.name] for v in variants]


def _fitted(source: Image.Image, variant: Variant, box: tuple[int, int], size: tuple[int, int]) -> Image.Image:
    """``size`` is the whole image scaled for the variant; cover crops it to ``box``, contain pads it."""
    if variant.fit is Fit.COVER:
        # the centred region with the box's aspect, resampled in one pass: ImageOps.fit, with reducing_gap
        scale = max(box[0] / source.width, box[1] / source.height)
        width, height = min(source.width, box[0] / scale), min(source.height, box[1] / scale)  # no float overshoot
        left, top = (source.width - width) / 2, (source.height - height) / 2
        return source.resize(box, _RESAMPLE, box=(left, top, left + width, top + height), reducing_gap=_GAP)
    resized = source if source.size == size else source.resize(size, _RESAMPLE, reducing_gap=_GAP)
    if variant.fit is Fit.INSIDE or resized.size == box:
        return resized
    # contain: centred on transparency where the format keeps it, on white where it does not (JPEG)
    mode = resized.mode if variant.format is OutputFormat.JPEG or resized.mode.endswith("A") else resized.mode + "A"
    bands = Image.getmodebands(mode)
    canvas = Image.new(mode, box, (255,) * (bands - 1) + (0 if mode.endswith("A") else 255,))
    canvas.paste(resized, ((box[0] - resized.width) // 2, (box[1] - resized.height) // 2))
    return canvas


def _encode(image: Image.Image, variant: Variant) -> RenderedVariant:
    fmt, buffer = variant.format, io.BytesIO()
    # no exif=, icc_profile= or xmp=: outputs carry pixels only
    if fmt is OutputFormat.JPEG:
        if image.mode in ("LA", "RGBA"):  # JPEG has no alpha: flatten onto white
            flat = Image.new(image.mode[:-1], image.size, (255,) * (Image.getmodebands(image.mode) - 1))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(buffer, "JPEG", quality=variant.quality, optimize=False)
    elif fmt is OutputFormat.PNG:
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    elif fmt is OutputFormat.WEBP:
        image.save(buffer, "WEBP", quality=variant.quality, method=4)
    else:
        if image.mode in ("L", "LA"):
            image = image.convert("RGB" if image.mode == "L" else "RGBA")
        image.save(buffer, "AVIF", quality=variant.quality)
    return RenderedVariant(variant.name, buffer.getvalue(), image.width, image.height, fmt)


def _dominant_color(im: Image.Image) -> str:
    """The centre of the most common colour bucket (8 levels per channel), ignoring transparent pixels."""
    scale = min(64 / im.width, 64 / im.height, 1.0)
    box = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # shrink first, convert after: converting the full-size image would cost more than the whole answer
    small = im.resize(box, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGBA")
    counts: dict[tuple[int, int, int], int] = {}
    colours = cast(list[tuple[int, tuple[int, int, int, int]]], small.getcolors(64 * 64) or [])
    for count, (r, g, b, a) in colours:
        if a >= 128:
            bucket = (r >> 5, g >> 5, b >> 5)
            counts[bucket] = counts.get(bucket, 0) + count
    if not counts:
        return "#000000"
    r, g, b = (v * 32 + 16 for v in max(counts, key=lambda k: (counts[k], k)))
    return f"#{r:02x}{g:02x}{b:02x}"
