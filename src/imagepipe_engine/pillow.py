"""The Pillow engine: the reference, and the fallback where libvips is missing.

Pure and synchronous: it runs in a process pool (arguments and results pickle), never on the event loop.
Every way Pillow can fail to read the bytes becomes InvalidImage; limits come from the headers (probe.py).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import cast

from PIL import Image, ImageCms, ImageFilter, ImageOps, ImageSequence, features

from imagepipe.models import Autocontrast, Blur, Filter, Fit, Grayscale, OutputFormat, Recipe, Sharpen, Variant
from imagepipe_analysis import MAX_SIDE, AnalysisImage, Box, from_pil
from imagepipe_engine import analysis, animation, colour, flow, geometry, probe
from imagepipe_engine.contract import Limits, Rendered, RenderedVariant, ReportProgress

NAME = "pillow"

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


def render(data: bytes, recipe: Recipe, limits: Limits, progress: ReportProgress | None = None) -> Rendered:
    """The Pillow engine's :func:`imagepipe_engine.flow.render`."""
    # Pillow warns about broken EXIF, malformed MPO headers and the like; the outcome says all that matters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flow.render(_steps(), data, recipe, limits, progress)


def can_encode_avif() -> bool:
    """Whether this Pillow was built with AVIF support."""
    return bool(features.check("avif"))


@dataclass(frozen=True)
class Decoded:
    """The decoded source: ``pixels`` upright, sRGB, and ``size``, what the variants' sizes are worked out from
    (the decoded size). The pixels may be smaller: already resampled to the largest variant
    (``analysis.reduced_size``), as the vips engine's are."""

    pixels: Image.Image
    size: geometry.Size


def decode(data: bytes, recipe: Recipe, limits: Limits) -> tuple[probe.Header, Decoded]:
    """The source's header and its pixels: upright, sRGB, in L, LA, RGB or RGBA, maybe drafted smaller.

    The ``pillow_errors`` block is everything that reads the untrusted bytes, and only that: a failure in it is
    the file's fault; one after it (the resize to the largest variant, ``analysis.reduced_size``) is ours and
    must not pass for an invalid image. The vips engine uses it for formats libvips lacks."""
    with probe.pillow_errors(), probe.open_image(data) as im:
        header = probe.read_header(im, data, limits)
        if im.format in ("JPEG", "MPO"):
            # decode straight to the smallest power-of-two reduction that still covers every variant
            upright = (header.width, header.height)
            factor = geometry.decode_scale(recipe.variants, upright, limits.max_output_dimension, MAX_SIDE)
            im.draft("RGB", (math.ceil(im.width * factor), math.ceil(im.height * factor)))
        im.load()
        srgb = _to_srgb(im, header.icc_profile)
        image = _normalised(srgb.transpose(_UPRIGHT[header.orientation]) if header.orientation in _UPRIGHT else srgb)
    image.info = {}  # encoders copy ICC profiles, comments and colour keys from it; outputs carry pixels only
    reduced = analysis.reduced_size(recipe, image.size, limits.max_output_dimension)
    # the largest variant's resize, made first: what the vips engine makes as it decodes
    pixels = image if reduced is None else image.resize(reduced, _RESAMPLE, reducing_gap=_GAP)
    return header, Decoded(pixels, image.size)


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB, RGBA or CMYK pixels tagged with another profile, converted to sRGB (colour.py has the rules)."""
    if im.mode not in ("RGB", "RGBA", "CMYK") or not colour.needs_conversion(icc) or icc is None:
        return im
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    pixels = im.convert("RGB") if alpha is not None else im
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if ImageCms.getProfileInfo(source) is None or colour.colour_space(icc) != ("CMYK" if im.mode == "CMYK" else "RGB"):
        return im  # a profile for another colour space than the pixels': ignore it, as viewers do
    converted = ImageCms.profileToProfile(
        pixels, source, _srgb(), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
    )
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


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
        factor = 255 / (high - low) if high > low else 1.0
        return im.point(lambda v: (v - low) * factor).convert("L")
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
    pixels = im.convert(im.mode[:-1]) if alpha is not None else im
    for step in filters:
        if isinstance(step, Grayscale):
            pixels = pixels.convert("L")
        elif isinstance(step, Autocontrast):
            pixels = ImageOps.autocontrast(pixels, cutoff=step.cutoff)
        elif isinstance(step, Sharpen):
            pixels = pixels.filter(ImageFilter.SHARPEN)
        elif isinstance(step, Blur):
            pixels = pixels.filter(ImageFilter.GaussianBlur(step.radius))
    if alpha is not None:
        pixels.putalpha(alpha)  # L -> LA, RGB -> RGBA
    return pixels


def _animated(
    data: bytes,
    header: probe.Header,
    recipe: Recipe,
    limits: Limits,
    small: AnalysisImage,
    still: list[RenderedVariant],
) -> list[RenderedVariant]:
    """``still`` with its WebP variants made again from every frame: each frame filtered and fitted as the
    first was, the durations and loop count as the file states them."""
    animation.check_total(header, limits)
    timing = animation.timing(data, header)
    frames = [_filtered(frame, recipe.filters) for frame in _frames(data, header)]
    cap, rendered = limits.max_output_dimension, {v.name: v for v in still}
    for variant in animation.animated_variants(recipe, header):
        size = geometry.scaled(frames[0].size, geometry.scale(variant, frames[0].size, cap))
        region = analysis.cut(small, variant, recipe.focus, frames[0].size, cap)
        fitted = [_fitted(frame, variant, geometry.box(variant, cap), size, region) for frame in frames]
        buffer = io.BytesIO()
        fitted[0].save(
            buffer,
            "WEBP",
            save_all=True,
            append_images=fitted[1:],
            duration=timing.durations,
            loop=timing.loop,
            quality=variant.quality,
            method=4,
        )
        first = fitted[0]
        rendered[variant.name] = RenderedVariant(
            variant.name, buffer.getvalue(), first.width, first.height, variant.format
        )
    return [rendered[v.name] for v in recipe.variants]


def _frames(data: bytes, header: probe.Header) -> list[Image.Image]:
    """Every frame as shown (Pillow composites a GIF's frames), upright, sRGB, RGBA."""
    frames: list[Image.Image] = []
    with probe.pillow_errors(), probe.open_image(data) as im:
        for frame in ImageSequence.Iterator(im):
            rgba = _to_srgb(frame.convert("RGBA"), header.icc_profile)
            turn = _UPRIGHT.get(header.orientation)
            frames.append(rgba.transpose(turn) if turn is not None else rgba)
    for frame in frames:
        frame.info = {}
    return frames


def _filtered_source(source: Decoded, filters: Sequence[Filter]) -> Decoded:
    return Decoded(_filtered(source.pixels, filters), source.size) if filters else source


def _render_variants(
    decoded: Decoded, recipe: Recipe, cap: int, small: AnalysisImage, report: ReportProgress
) -> list[RenderedVariant]:
    """Largest first, each from the last inside-fit result: the full-size image is resampled about once, and
    small variants come from small intermediates; the sizes from the decoded size, whatever the pixels were
    reduced to."""
    image_size, source, variants = decoded.size, decoded.pixels, recipe.variants
    rendered: dict[str, RenderedVariant] = {}
    for variant in sorted(variants, key=lambda v: geometry.scale(v, image_size, cap), reverse=True):
        size = geometry.scaled(image_size, geometry.scale(variant, image_size, cap))
        region = analysis.cut(small, variant, recipe.focus, source.size, cap)
        fitted = _fitted(source, variant, geometry.box(variant, cap), size, region)
        if variant.fit is Fit.INSIDE:
            source = fitted  # sorted by scale: no later variant needs more pixels than this one has
        report("rendering", len(rendered), len(variants))
        rendered[variant.name] = _encode(fitted, variant)
    report("rendering", len(rendered), len(variants))
    return [rendered[v.name] for v in variants]


def _fitted(
    source: Image.Image, variant: Variant, box: geometry.Size, size: geometry.Size, region: Box | None = None
) -> Image.Image:
    """``size`` is the whole image scaled for the variant; cover crops it to ``box`` (at ``region`` of the
    source when smart gravity or a focus chose one), contain pads it."""
    if region is not None:
        # cut, then resample: libvips does the same, so neither engine reads pixels outside the region
        left, top, width, height = region
        return source.crop((left, top, left + width, top + height)).resize(box, _RESAMPLE, reducing_gap=_GAP)
    if variant.fit is Fit.COVER:
        # the centred region with the box's aspect, resampled in one pass: ImageOps.fit, with reducing_gap
        centred = geometry.cover_region(source.size, box)
        return source.resize(box, _RESAMPLE, box=centred, reducing_gap=_GAP)
    resized = source if source.size == size else source.resize(size, _RESAMPLE, reducing_gap=_GAP)
    if variant.fit is Fit.INSIDE or resized.size == box:
        return resized
    # contain: centred on transparency where the format keeps it, on white where it does not (JPEG)
    mode = resized.mode if variant.format is OutputFormat.JPEG or resized.mode.endswith("A") else resized.mode + "A"
    bands = Image.getmodebands(mode)
    canvas = Image.new(mode, box, (255,) * (bands - 1) + (0 if mode.endswith("A") else 255,))
    canvas.paste(resized, geometry.padding(resized.size, box))
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


def analysis_image(source: Decoded) -> AnalysisImage:
    """The engine-neutral analysis image of the decoded source (``imagepipe_analysis``), from its pixels as
    decoded, which may already be reduced to the largest variant (``analysis.reduced_size``)."""
    return from_pil(source.pixels)


def _steps() -> flow.Steps[Decoded]:
    # built per call, from the module's functions as they are then (a test may stand in for one)
    return flow.Steps(can_encode_avif, decode, analysis_image, _filtered_source, _render_variants, _animated)
