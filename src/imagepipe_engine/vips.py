"""The libvips engine (pyvips with the pyvips-binary wheel): the default wherever it imports.

Hardened for untrusted bytes: only the loaders of the formats we accept may run (everything else, and every
operation libvips marks untrusted, is blocked); a loader fails on truncated or corrupt data instead of padding
with grey; limits are checked from the headers (probe.py, then libvips' own) before a pixel is decoded; the
operation cache is off (a worker never renders the same bytes twice); one libvips thread per process, since
the worker's process pool gives the parallelism. A large source is resampled to its largest variant while the
loader streams its rows (``analysis.reduced_size``), after the reduction a JPEG can decode to (shrink-on-load): the
whole decoded picture is never held, which is most of this engine's lead over Pillow in time and memory.
"""

from __future__ import annotations

import os

# before libvips starts: its thread pool is sized once, from this
os.environ["VIPS_CONCURRENCY"] = "1"

from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import pyvips
from PIL import Image

from imagepipe.errors import ImagePipeError, InvalidImage, TooManyFrames
from imagepipe.models import (
    Autocontrast,
    Blur,
    Filter,
    Fit,
    Grayscale,
    OutputFormat,
    Recipe,
    Sharpen,
    Variant,
)
from imagepipe_analysis import MAX_SIDE, AnalysisImage, Box, box_reduction, from_pil
from imagepipe_engine import analysis, animation, colour, flow, geometry, pillow, probe
from imagepipe_engine.contract import Limits, Rendered, RenderedVariant, ReportProgress

NAME = "vips"

pyvips.concurrency_set(1)
pyvips.cache_set_max(0)
pyvips.cache_set_max_mem(0)
pyvips.cache_set_max_files(0)
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoad", True)
# the loaders of the formats the API accepts (AVIF is read by the HEIF loader); no other may run
_ALLOWED_LOADERS = ("Jpeg", "Png", "Nsgif", "Webp", "Heif", "Tiff")
for _loader in _ALLOWED_LOADERS:
    pyvips.operation_block_set(f"VipsForeignLoad{_loader}", False)

_Loader = Callable[..., pyvips.Image]
# format (as probe.py names it) -> libvips loader. Pillow decodes BMP, which libvips lacks, and a PNG whose
# pixels the header reader had to decode already (metadata after them, or chunks that do not add up):
# decoding those twice would cost more, and could disagree on a damaged file.
_LOADERS: dict[str, _Loader] = {
    "JPEG": pyvips.Image.jpegload_buffer,
    "MPO": pyvips.Image.jpegload_buffer,
    "PNG": pyvips.Image.pngload_buffer,
    "GIF": pyvips.Image.gifload_buffer,
    "WEBP": pyvips.Image.webpload_buffer,
    "AVIF": pyvips.Image.heifload_buffer,
    "TIFF": pyvips.Image.tiffload_buffer,
}
_FAIL_ON = "truncated"  # truncated data refuses the file, as does any decoder error
# TIFF photometric interpretations libvips reads as Pillow does: min-is-white, min-is-black, RGB, palette, CMYK,
# and YCbCr inside JPEG compression (7), which libjpeg converts. Others it gets wrong, where Pillow converts
# them: plain or LZW YCbCr comes out as its raw Y, Cb and Cr read as R, G and B, and CIELAB is refused as
# corrupt. Pillow decodes those.
_TIFF_PHOTOMETRIC = frozenset({0, 1, 2, 3, 5})
_TIFF_YCBCR, _TIFF_JPEG = 6, 7

# EXIF orientation -> the turns that make it upright (clockwise, then a horizontal flip)
_UPRIGHT: dict[int, tuple[str | None, bool]] = {
    2: (None, True),
    3: ("d180", False),
    4: ("d180", True),
    5: ("d90", True),
    6: ("d90", False),
    7: ("d270", True),
    8: ("d270", False),
}
# Catmull-Rom, as Pillow's BICUBIC: the pixels of both engines stay close
_KERNEL = "cubic"
_SHARPEN = [[-2, -2, -2], [-2, 32, -2], [-2, -2, -2]]  # Pillow's ImageFilter.SHARPEN, scale 16
_NO_METADATA = 0  # ForeignKeep.NONE: outputs carry pixels only (no EXIF, XMP, ICC or comments)


def render(data: bytes, recipe: Recipe, limits: Limits, progress: ReportProgress | None = None) -> Rendered:
    """The libvips engine's :func:`imagepipe_engine.flow.render`."""
    return flow.render(_steps(), data, recipe, limits, progress)


@cache
def can_encode_avif() -> bool:
    """Whether this libvips has an AV1 encoder (pyvips-binary's does)."""
    try:
        pyvips.Image.black(2, 2, bands=3).heifsave_buffer(compression="av1")
    except pyvips.Error:
        return False
    return True


_WHOLE_ANALYSIS_PIXELS = 16_000_000  # above this, analysis_image box-shrinks in libvips before Pillow sees it


@dataclass(frozen=True)
class Source:
    """The decoded source as the vips engine keeps it: ``pixels`` upright, sRGB, in memory, and ``size``, what
    the variants' sizes are worked out from (the decoded size, as the Pillow engine's, so both round alike).
    The pixels may be smaller than ``size``: already resampled to the largest variant (``analysis.reduced_size``)."""

    pixels: pyvips.Image
    size: geometry.Size
    memory: bytes | None = None
    """the bytes ``pixels`` reads, when it is exactly them (upright as loaded, unfiltered): shared with Pillow"""


def decode(data: bytes, recipe: Recipe, limits: Limits) -> tuple[probe.Header, Source]:
    """The header (one reader for every engine) and the pixels: upright, sRGB, 8-bit L, LA, RGB or RGBA, in
    memory. Every failure in here is the file's fault; one after it is ours."""
    with probe.pillow_errors(), probe.open_image(data) as im:
        loader = _LOADERS.get(im.format or "") if _reads_as_pillow(im) else None
        header = probe.read_header(im, data, limits) if loader is not None else None
    if loader is None or header is None or header.decoded:
        header, decoded = pillow.decode(data, recipe, limits)
        image = decoded.pixels
        return header, Source(_from_pillow(image.tobytes(), image.width, image.height, len(image.mode)), decoded.size)
    options: dict[str, object] = {"access": "sequential", "fail_on": _FAIL_ON}
    if header.format in ("JPEG", "MPO"):
        upright = (header.width, header.height)
        factor = geometry.decode_scale(recipe.variants, upright, limits.max_output_dimension, MAX_SIDE)
        options["shrink"] = geometry.jpeg_shrink(upright, factor)  # the reduction Pillow's draft() picks
    turned = header.orientation >= 5  # the file's pixels lie on their side
    with _vips_errors():
        image = loader(data, **options)
        _check_header(image, limits)
        image = _normalised(_to_srgb(image, header.icc_profile), header.format)
        size = (image.height, image.width) if turned else (image.width, image.height)
        reduced = analysis.reduced_size(recipe, size, limits.max_output_dimension)
        if reduced is not None:  # resampled as the loader streams rows out: no full-size copy is made
            image = _resized(image, reduced[::-1] if turned else reduced)
        # held in a Python buffer rather than by copy_memory(): the analysis image reads the same bytes
        raw = image.write_to_memory()
        held = pyvips.Image.new_from_memory(raw, image.width, image.height, image.bands, image.format)
        held = held.copy(interpretation=image.interpretation, xres=image.xres, yres=image.yres)
    upright = _upright(held, header.orientation)
    return header, Source(upright, size, raw if upright is held else None)


def _reads_as_pillow(im: Image.Image) -> bool:
    """Whether libvips reads this file's pixels as Pillow does (TIFF: by its photometric interpretation)."""
    if im.format != "TIFF":
        return True
    tags = getattr(im, "tag_v2", {})
    photometric, compression = tags.get(262), tags.get(259)
    return photometric in _TIFF_PHOTOMETRIC or (photometric == _TIFF_YCBCR and compression == _TIFF_JPEG)


@contextmanager
def _vips_errors() -> Iterator[None]:
    """libvips' failures while reading untrusted bytes are InvalidImage; our own errors pass through."""
    try:
        yield
    except ImagePipeError:
        raise
    except pyvips.Error as exc:
        text = f"{exc.message} {exc.detail}".strip()
        if any(word in text.lower() for word in ("truncated", "premature end", "unexpected end", "out of data")):
            raise InvalidImage("the image data is truncated") from exc
        raise InvalidImage(f"the image data is corrupt (libvips: {' '.join(text.split())})"[:200]) from exc


def _check_header(image: pyvips.Image, limits: Limits) -> None:
    """What libvips will decode must be within the limits too: two parsers, neither trusted alone."""
    probe.check_pixels((image.width, image.height), limits)
    pages = image.get("n-pages") if image.get_typeof("n-pages") else 1
    if int(pages) > limits.max_frames:
        raise TooManyFrames(f"the image has {pages} frames; the limit is {limits.max_frames}")


def _to_srgb(image: pyvips.Image, icc: bytes | None) -> pyvips.Image:
    """RGB or CMYK pixels tagged with another profile, converted to sRGB (colour.py has the rules)."""
    cmyk = image.interpretation == "cmyk"
    usable = icc is not None and colour.colour_space(icc) == ("CMYK" if cmyk else "RGB")
    if usable and colour.needs_conversion(icc) and image.bands in ((4, 5) if cmyk else (3, 4)):
        return image.icc_transform("srgb", embedded=True, intent="relative", depth=8)
    if cmyk:  # no usable profile: the plain inversion Pillow does, R = (255 - C) * (255 - K) / 255
        ink = image.cast("uchar") if image.format != "uchar" else image
        keyed = (255 - ink[3]) / 255
        rgb = ((255 - ink[0:3]) * keyed + 0.5).cast("uchar")
        return rgb.bandjoin(ink[4]) if image.bands > 4 else rgb
    return image


def _normalised(image: pyvips.Image, source_format: str) -> pyvips.Image:
    """L, LA, RGB or RGBA, 8 bits per channel, any transparency as an alpha channel."""
    if image.format in ("ushort", "short"):
        image = (image >> 8).cast("uchar")  # 16 bits to 8, by the high byte, as Pillow does
    elif image.format != "uchar":  # 32-bit int or float: no implied range, so stretch the one it has
        image = image.copy_memory()  # two passes (min, max) over a loader that streams its rows once
        low, high = image.min(), image.max()
        image = ((image - low) * (255 / (high - low) if high > low else 1.0)).cast("uchar")
    if image.bands == 4 and source_format == "GIF" and image[3].min() == 255:
        image = image[0:3]  # libvips gives every GIF an alpha channel; Pillow only one with transparency
    if image.bands > 4:
        image = image[0:4]
    return image.copy(interpretation="b-w" if image.bands <= 2 else "srgb")


def _upright(image: pyvips.Image, orientation: int) -> pyvips.Image:
    turn, flip = _UPRIGHT.get(orientation, (None, False))
    if turn is not None:
        image = image.rot(turn)
    return image.fliphor() if flip else image


def _from_pillow(pixels: bytes, width: int, height: int, bands: int) -> pyvips.Image:
    image = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar")  # keeps ``pixels`` alive
    return image.copy(interpretation="b-w" if bands <= 2 else "srgb")


def _split_alpha(image: pyvips.Image) -> tuple[pyvips.Image, pyvips.Image | None]:
    return (image[0 : image.bands - 1], image[image.bands - 1]) if image.bands in (2, 4) else (image, None)


def _filtered_source(source: Source, filters: Sequence[Filter]) -> Source:
    return Source(_filtered(source.pixels, filters), source.size) if filters else source


def _filtered(image: pyvips.Image, filters: Sequence[Filter]) -> pyvips.Image:
    """The recipe's filters, in order, on colour only: alpha is set aside and put back unchanged."""
    if not filters:
        return image
    pixels, alpha = _split_alpha(image)
    for step in filters:
        if isinstance(step, Grayscale) and pixels.bands == 3:
            pixels = (pixels.recomb([[0.299, 0.587, 0.114]]) + 0.5).cast("uchar")  # ITU-R 601-2, as Pillow's L
        elif isinstance(step, Autocontrast):
            pixels = pixels.maplut(_autocontrast_lut(pixels, step.cutoff))
        elif isinstance(step, Sharpen):
            pixels = pixels.conv(pyvips.Image.new_from_array(_SHARPEN, scale=16), precision="integer")
        elif isinstance(step, Blur):
            pixels = pixels.gaussblur(step.radius)
        pixels = pixels.cast("uchar").copy(interpretation="b-w" if pixels.bands == 1 else "srgb")
    filtered = pixels if alpha is None else pixels.bandjoin(alpha)
    return filtered.copy_memory()


def _autocontrast_lut(pixels: pyvips.Image, cutoff: float) -> pyvips.Image:
    """Per band, the stretch that maps the darkest and lightest levels (after ``cutoff`` % at each end) to 0
    and 255: the table Pillow's ImageOps.autocontrast builds."""
    counts = array("I")
    counts.frombytes(bytes(pixels.hist_find().write_to_memory()))  # 256 bins, bands interleaved
    bands, table = pixels.bands, bytearray(256 * pixels.bands)
    for band in range(bands):
        histogram = list(counts[band::bands])
        low, high = _stretch_bounds(histogram, cutoff)
        for level in range(256):
            value = level if high <= low else int(level * 255 / (high - low) - low * 255 / (high - low))
            table[level * bands + band] = min(255, max(0, value))
    return pyvips.Image.new_from_memory(bytes(table), 256, 1, bands, "uchar")


def _stretch_bounds(histogram: list[int], cutoff: float) -> tuple[int, int]:
    cut = int(sum(histogram) * cutoff // 100)
    trimmed = histogram[:]
    for order in (range(256), range(255, -1, -1)):
        left = cut
        for level in order:
            taken = min(left, trimmed[level])
            trimmed[level] -= taken
            left -= taken
            if left <= 0:
                break
    used = [level for level, count in enumerate(trimmed) if count]
    return (used[0], used[-1]) if used else (0, 0)


def _animated(
    data: bytes,
    header: probe.Header,
    recipe: Recipe,
    limits: Limits,
    small: AnalysisImage,
    still: list[RenderedVariant],
) -> list[RenderedVariant]:
    """``still`` with its WebP variants made again from every frame, as the Pillow engine does: libvips
    loads every page (``n=-1``) as one tall strip, each frame is cut from it, filtered and fitted, and the
    fitted frames are joined into a strip again with the file's own durations and loop count."""
    animation.check_total(header, limits)
    timing = animation.timing(data, header)
    frames = [_filtered(frame, recipe.filters) for frame in _frames(data, header, limits)]
    cap, rendered = limits.max_output_dimension, {v.name: v for v in still}
    size = (frames[0].width, frames[0].height)
    for variant in animation.animated_variants(recipe, header):
        target = geometry.scaled(size, geometry.scale(variant, size, cap))
        region = analysis.cut(small, variant, recipe.focus, size, cap)
        fitted = [_fitted(frame, variant, geometry.box(variant, cap), target, region) for frame in frames]
        strip = pyvips.Image.arrayjoin(fitted, across=1).copy()
        strip.set_type(pyvips.GValue.gint_type, "page-height", fitted[0].height)
        strip.set_type(pyvips.GValue.array_int_type, "delay", timing.durations)
        strip.set_type(pyvips.GValue.gint_type, "loop", timing.loop)
        data_out = strip.webpsave_buffer(Q=variant.quality, effort=4, keep=_NO_METADATA)
        width, height = fitted[0].width, fitted[0].height
        rendered[variant.name] = RenderedVariant(variant.name, data_out, width, height, variant.format)
    return [rendered[v.name] for v in recipe.variants]


def _frames(data: bytes, header: probe.Header, limits: Limits) -> list[pyvips.Image]:
    """Every frame as shown (libvips composites a GIF's frames), upright, sRGB, in memory."""
    loader = _LOADERS[header.format]
    with _vips_errors():
        strip = loader(data, n=-1, access="sequential", fail_on=_FAIL_ON)
        page = int(strip.get("page-height")) if strip.get_typeof("page-height") else strip.height
        raw_width = header.height if header.orientation >= 5 else header.width  # the header's is upright
        if page * header.frames != strip.height or strip.width != raw_width:
            raise InvalidImage(f"the animation's frames do not add up ({header.frames} of {strip.width}x{page})")
        probe.check_pixels((strip.width, page), limits)
        strip = _normalised(_to_srgb(strip, header.icc_profile), header.format).copy_memory()
    return [_upright(strip.crop(0, i * page, strip.width, page), header.orientation) for i in range(header.frames)]


def _render_variants(
    decoded: Source, recipe: Recipe, cap: int, small: AnalysisImage, report: ReportProgress
) -> list[RenderedVariant]:
    """Largest first, each from the last inside-fit result, as the Pillow engine does; the sizes from the
    decoded size, whatever the pixels were reduced to on the way in."""
    size, source, variants = decoded.size, decoded.pixels, recipe.variants
    rendered: dict[str, RenderedVariant] = {}
    for variant in sorted(variants, key=lambda v: geometry.scale(v, size, cap), reverse=True):
        target = geometry.scaled(size, geometry.scale(variant, size, cap))
        region = analysis.cut(small, variant, recipe.focus, (source.width, source.height), cap)
        fitted = _fitted(source, variant, geometry.box(variant, cap), target, region)
        if variant.fit is Fit.INSIDE:
            source = fitted.copy_memory()  # sorted by scale: no later variant needs more pixels than this
            fitted = source
        report("rendering", len(rendered), len(variants))
        rendered[variant.name] = _encode(fitted, variant)
    report("rendering", len(rendered), len(variants))
    return [rendered[v.name] for v in variants]


def _resized(image: pyvips.Image, size: geometry.Size) -> pyvips.Image:
    """``image`` resampled to exactly ``size``, alpha premultiplied so edges keep their colour."""
    if (image.width, image.height) == size:
        return image
    alpha = _split_alpha(image)[1]
    work = image.premultiply() if alpha is not None else image
    if size[0] < image.width or size[1] < image.height:  # libvips' reduce: Pillow's bicubic, within 1 level
        down = min(size[0], image.width), min(size[1], image.height)
        work = work.resize(down[0] / image.width, vscale=down[1] / image.height, kernel=_KERNEL)
        if (work.width, work.height) != down:  # libvips rounds as we do; this only guards the contract
            work = work.gravity("centre", down[0], down[1], extend="copy")
    if size[0] > work.width or size[1] > work.height:
        # upsizing: resize() samples on another pixel-centre grid than Pillow (6 levels apart on a photo);
        # an affine with the centres aligned matches it to a tenth of a level
        x_scale, y_scale = size[0] / work.width, size[1] / work.height
        work = work.affine(
            [x_scale, 0, 0, y_scale],
            interpolate=_bicubic(),
            odx=(x_scale - 1) / 2,
            ody=(y_scale - 1) / 2,
            oarea=[0, 0, size[0], size[1]],
            extend="copy",
        )
    if alpha is not None:
        work = work.unpremultiply()
    return work.cast("uchar").copy(interpretation=image.interpretation)


@cache
def _bicubic() -> pyvips.Interpolate:
    return pyvips.Interpolate.new("bicubic")


def _fitted(
    source: pyvips.Image, variant: Variant, box: geometry.Size, size: geometry.Size, region: Box | None = None
) -> pyvips.Image:
    """``size`` is the whole image scaled for the variant; cover crops it to ``box`` (at ``region`` of the
    source when smart gravity or a focus chose one), contain pads it."""
    if region is not None:
        return _resized(source.crop(*region), box)
    if variant.fit is Fit.COVER:
        whole, (left, top) = geometry.cover((source.width, source.height), box)
        return _resized(source, whole).crop(left, top, box[0], box[1])
    resized = _resized(source, size)
    if variant.fit is Fit.INSIDE or (resized.width, resized.height) == box:
        return resized
    # contain: centred on transparency where the format keeps it, on white where it does not (JPEG)
    if variant.format is not OutputFormat.JPEG and resized.bands in (1, 3):
        resized = resized.bandjoin(255)
    colours = resized.bands - (1 if resized.bands in (2, 4) else 0)
    background = [255.0] * colours + ([0.0] if resized.bands in (2, 4) else [])
    x, y = geometry.padding((resized.width, resized.height), box)
    return resized.embed(x, y, box[0], box[1], extend="background", background=background)


def _encode(image: pyvips.Image, variant: Variant) -> RenderedVariant:
    fmt = variant.format
    if fmt is OutputFormat.JPEG:
        if image.bands in (2, 4):  # JPEG has no alpha: flatten onto white
            image = image.flatten(background=[255.0] * (image.bands - 1)).cast("uchar")
        data = image.jpegsave_buffer(Q=variant.quality, optimize_coding=False, subsample_mode="on", keep=_NO_METADATA)
    elif fmt is OutputFormat.PNG:
        data = image.pngsave_buffer(compression=6, keep=_NO_METADATA)
    elif fmt is OutputFormat.WEBP:
        data = image.webpsave_buffer(Q=variant.quality, effort=4, keep=_NO_METADATA)
    else:
        if image.bands <= 2:
            grey = image[0]
            image = grey.bandjoin([grey, grey] + ([image[1]] if image.bands == 2 else []))
        data = image.heifsave_buffer(Q=variant.quality, compression="av1", keep=_NO_METADATA)
    return RenderedVariant(variant.name, data, image.width, image.height, fmt)


def analysis_image(source: Source) -> AnalysisImage:
    """The engine-neutral analysis image of the decoded source, made by Pillow's ``from_pil`` as the Pillow
    engine makes it: libvips' own Lanczos, or even its box shrink, differs by a level here and there, enough to
    move a placeholder's digit or a hash bit across a quantisation step. From the pixels as decoded, which are
    usually already reduced to the largest variant (``analysis.reduced_size``); Pillow reads the bytes libvips
    holds (``Source.memory``). A source kept whole and larger than ``_WHOLE_ANALYSIS_PIXELS`` is box-shrunk by
    libvips first, so its pixels are never held twice: its analysis image may then differ by a few levels from
    the Pillow engine's."""
    image, memory = source.pixels, source.memory
    size, reduced_from = (image.width, image.height), None
    if image.width * image.height > _WHOLE_ANALYSIS_PIXELS:  # Pillow would copy it (RGB as 4 bytes a pixel)
        x_factor, y_factor = box_reduction(size)
        image, memory, reduced_from = image.shrink(x_factor, y_factor, ceil=True).cast("uchar"), None, size
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[image.bands]
    data = memory if memory is not None else image.write_to_memory()
    return from_pil(Image.frombuffer(mode, (image.width, image.height), data, "raw", mode, 0, 1), reduced_from)


def _steps() -> flow.Steps[Source]:
    # built per call, from the module's functions as they are then (a test may stand in for one)
    return flow.Steps(can_encode_avif, decode, analysis_image, _filtered_source, _render_variants, _animated)
