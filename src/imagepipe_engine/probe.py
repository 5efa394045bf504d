"""What a source is, read from its headers before any engine decodes a pixel: format, mode, size, frames,
orientation and a few EXIF fields, with the pixel and frame limits applied per frame. Both engines describe a
source through this one reader, so their metadata agree by construction; each then decodes the pixels itself.

Pillow's openers are lazy (``Image.open`` reads headers only), and only the formats the API accepts are tried.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, ImageFile, UnidentifiedImageError

from imagepipe.errors import ImagePipeError, InvalidImage, TooManyFrames, TooManyPixels
from imagepipe.models import ImageMetadata
from imagepipe.sniff import HEAD_BYTES, UNKNOWN, sniff_content_type
from imagepipe_engine import heic
from imagepipe_engine.analysis import Findings
from imagepipe_engine.contract import Limits

# Our limits are checked per frame from the headers; Pillow's global guard would only warn or refuse by
# another number, so it is off (and its DecompressionBombWarning never fires).
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is refused, never rendered half grey

# What the API accepts. Bytes can also land straight in S3, and Pillow's rarer plugins (EPS runs Ghostscript)
# are attack surface we do not need. JPEG covers MPO: Pillow's JPEG opener turns into MPO itself.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP")

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

ORIENTATIONS = range(1, 9)


@dataclass(frozen=True)
class Header:
    """The source as its headers describe it; width and height are upright (after the EXIF orientation)."""

    format: str
    mode: str
    width: int
    height: int
    frames: int
    orientation: int  # 1..8, 1 when absent or nonsense
    exif: dict[str, str] = field(default_factory=dict)
    icc_profile: bytes | None = None
    decoded: bool = False  # reading it decoded the pixels (a PNG with metadata after them, or a broken one)


SUPPORTED = f"JPEG, PNG, GIF, WebP, AVIF, TIFF, BMP; HEIC with the {heic.EXTRA} extra"
"""the formats a source may be in, as an error tells them"""


@contextmanager
def pillow_errors() -> Iterator[None]:
    """Turn any Pillow decoder failure into InvalidImage, letting our own errors through. Pillow's warnings
    (broken EXIF, malformed MPO headers) are silenced: the outcome says all that matters."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except ImagePipeError:
        raise
    except Image.DecompressionBombError as exc:  # only if someone re-enables Pillow's guard
        raise TooManyPixels(f"the image is too large to decode: {exc}") from exc
    except _DECODE_ERRORS as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise InvalidImage(f"not an image in a supported format ({SUPPORTED})") from exc
        if "truncated" in str(exc):
            raise InvalidImage("the image data is truncated") from exc
        if "Decompressed data too large" in str(exc):  # Pillow's bound on a PNG text chunk (a zlib bomb)
            raise InvalidImage("a metadata chunk decompresses past Pillow's bound (a decompression bomb)") from exc
        raise InvalidImage(f"the image data is corrupt ({type(exc).__name__}: {exc})"[:200]) from exc


def open_image(data: bytes) -> Image.Image:
    """Pillow's lazy view of ``data``: headers read, no pixel decoded. Call inside :func:`pillow_errors`."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS + heic.formats(data))
    except UnidentifiedImageError as exc:
        kind = sniff_content_type(data[:HEAD_BYTES])
        if kind == UNKNOWN:
            raise  # not an image at all: pillow_errors says which formats are
        # the bytes begin as an image of this type does, but its header cannot be read (a GIF 0 px wide, say)
        name = kind.removeprefix("image/").upper()
        raise InvalidImage(f"the {name} header is broken: no image can be read from it") from exc


def read_header(im: Image.Image, data: bytes, limits: Limits) -> Header:
    """Check the limits, then describe the source. A PNG whose chunks after the pixels may hold EXIF (ImageMagick
    writes it there), or whose chunks do not add up, is decoded to read them, as Pillow's getexif() does."""
    frames = _check_limits(im, data, limits)
    source_format, source_mode = im.format or "unknown", im.mode
    icc = im.info.get("icc_profile")
    decode = im.format == "PNG" and not _png_metadata_before_pixels(data)
    orientation, exif = _read_exif(im, decode)
    width, height = im.size[::-1] if orientation >= 5 else im.size
    icc_profile = icc if isinstance(icc, bytes) else None
    return Header(source_format, source_mode, width, height, frames, orientation, exif, icc_profile, decode)


def _png_metadata_before_pixels(data: bytes) -> bool:
    """Whether a PNG's chunks are whole, end in IEND, and only image data follows the first IDAT: then all
    its metadata is in the header Pillow has read, and nothing needs decoding to find more."""
    pos, pixels = 8, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return False
        if kind == b"IEND":
            return True
        if kind == b"IDAT":
            pixels = True
        elif pixels:
            return False
        pos = end
    return False


def check_pixels(size: tuple[int, int], limits: Limits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixels(f"a frame of {width}x{height} pixels is more than the limit of {limits.max_pixels}")


def _check_limits(im: Image.Image, data: bytes, limits: Limits) -> int:
    """Refuse too many pixels or frames from the headers alone; a bomb can hide in a later frame."""
    check_pixels(im.size, limits)  # first: counting frames reads through the whole file
    frames = int(getattr(im, "n_frames", 1))
    if frames > limits.max_frames:
        raise TooManyFrames(f"the image has {frames} frames; the limit is {limits.max_frames}")
    if frames > 1:
        for size in _frame_sizes(im, data, frames):
            check_pixels(size, limits)
    return frames


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
    pos = 13 + colour_table_size(data[10])
    while pos < len(data) and data[pos] != 0x3B:  # trailer
        if data[pos] == 0x21:  # extension: label, then data sub-blocks
            pos = after_sub_blocks(data, pos + 2)
        elif data[pos] == 0x2C and pos + 10 <= len(data):  # image descriptor: x, y, w, h, flags
            x, y, w, h, flags = struct.unpack_from("<4HB", data, pos + 1)
            width, height = max(width, x + w), max(height, y + h)
            yield width, height
            pos = after_sub_blocks(data, pos + 11 + colour_table_size(flags))  # past the LZW code size
        else:
            pos += 1  # Pillow skips stray bytes between blocks, so a frame may follow them


def colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def after_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _read_exif(im: Image.Image, decode: bool) -> tuple[int, dict[str, str]]:
    """The orientation and a few descriptive fields. Broken EXIF counts as what could be read: the pixels may
    be fine, and if they are not, the decoder says so. ``decode``: let a PNG load its pixels to find EXIF."""
    fields: dict[str, str] = {}
    try:
        exif = im.getexif() if decode else Image.Image.getexif(im)  # the base method: from the header only
        _collect(exif, _EXIF_TAGS, fields)
        _collect(exif.get_ifd(_EXIF_IFD), _EXIF_IFD_TAGS, fields)
    except _DECODE_ERRORS:
        pass
    orientation = fields.get("Orientation", "1")
    return (int(orientation) if orientation.isdigit() and int(orientation) in ORIENTATIONS else 1), fields


def _collect(ifd: Mapping[int, object], names: Mapping[int, str], into: dict[str, str]) -> None:
    for tag, name in names.items():
        value = ifd.get(tag)
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)
        text = "".join(ch for ch in text if ch.isprintable()).strip()[:_MAX_EXIF_TEXT]
        if text:
            into[name] = text


def metadata(header: Header, data: bytes, found: Findings) -> ImageMetadata:
    """The record's description of a source: its header, its bytes, and what analysis found."""
    return ImageMetadata(
        width=header.width,
        height=header.height,
        format=header.format,
        mode=header.mode,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=header.frames,
        exif=header.exif,
        dominant_color=found.dominant_color,
        placeholder=found.placeholder,
        phash=found.phash,
    )
