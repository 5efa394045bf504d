"""Animated sources kept animated (the recipe's ``animated: "keep"``): which variants animate, the frames'
timing read from the file's own blocks (one reader for both engines, so durations and loop agree by
construction), and the bound on the pixels every frame decodes to, checked before any is decoded.

Only GIF and WebP sources animate, into WebP variants: JPEG, PNG and AVIF variants take the first frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from imagepipe.errors import InvalidImage, TooManyPixels
from imagepipe.models import OutputFormat, Recipe, Variant
from imagepipe_engine.contract import Limits
from imagepipe_engine.probe import Header, after_sub_blocks, colour_table_size

ANIMATED_SOURCES = ("GIF", "WEBP")
ANIMATED_OUTPUTS = (OutputFormat.WEBP,)
# browsers show a frame of 0 or 10 ms for 100 ms, and libvips' WebP writer turns 0 into 100: both engines
# write what a browser played
FASTEST_SHOWN_MS, SHOWN_INSTEAD_MS = 10, 100


@dataclass(frozen=True)
class Timing:
    """Per-frame durations in milliseconds, and the loop count (0: forever)."""

    durations: list[int]
    loop: int


def animates(recipe: Recipe, header: Header) -> bool:
    """Whether any variant of ``recipe`` comes out animated from this source."""
    return bool(animated_variants(recipe, header))


def animated_variants(recipe: Recipe, header: Header) -> list[Variant]:
    if recipe.animated != "keep" or header.frames < 2 or header.format not in ANIMATED_SOURCES:
        return []
    return [v for v in recipe.variants if v.format in ANIMATED_OUTPUTS]


def check_total(header: Header, limits: Limits) -> None:
    """Every frame decodes to a full canvas: refuse a total past the limit from the header alone."""
    total = header.frames * header.width * header.height
    if total > limits.max_animation_pixels:
        raise TooManyPixels(
            f"{header.frames} frames of {header.width}x{header.height} decode to {total} pixels; "
            f"the limit for an animation is {limits.max_animation_pixels}"
        )


def timing(data: bytes, header: Header) -> Timing:
    """The frames' durations and the loop count, as the file states them."""
    found = _gif_timing(data) if header.format == "GIF" else _webp_timing(data)
    if len(found.durations) != header.frames:
        raise InvalidImage(f"the animation describes {len(found.durations)} of its {header.frames} frames")
    return found


def _shown(milliseconds: int) -> int:
    return SHOWN_INSTEAD_MS if milliseconds <= FASTEST_SHOWN_MS else milliseconds


def _gif_timing(data: bytes) -> Timing:
    """Delays from each frame's graphic control extension (hundredths of a second); the loop from the
    NETSCAPE2.0 extension, absent meaning play once."""
    durations: list[int] = []
    delay, loop = SHOWN_INSTEAD_MS, 1
    pos = 13 + colour_table_size(data[10])
    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21 and pos + 1 < len(data):
            label, block = data[pos + 1], data[pos + 2 : pos + 3 + 255]
            if label == 0xF9 and len(block) >= 5:  # size 4, flags, delay (little-endian), transparent index
                delay = _shown(struct.unpack_from("<H", block, 2)[0] * 10)
            elif label == 0xFF and block[1:12] == b"NETSCAPE2.0" and block[12:14] == b"\x03\x01":
                loop = struct.unpack_from("<H", block, 14)[0]
            pos = after_sub_blocks(data, pos + 2)
        elif data[pos] == 0x2C and pos + 10 <= len(data):
            durations.append(delay)
            delay = SHOWN_INSTEAD_MS
            flags = data[pos + 9]
            pos = after_sub_blocks(data, pos + 11 + colour_table_size(flags))
        else:
            pos += 1
    return Timing(durations, loop)


def _webp_timing(data: bytes) -> Timing:
    """Durations from each ANMF chunk (24-bit milliseconds at byte 12), the loop from the ANIM chunk."""
    durations: list[int] = []
    loop, pos = 0, 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if kind == b"ANIM" and len(body) >= 6:
            loop = struct.unpack_from("<H", body, 4)[0]
        elif kind == b"ANMF" and len(body) >= 15:
            durations.append(_shown(int.from_bytes(body[12:15], "little")))
        pos += 8 + size + (size & 1)
    return Timing(durations, loop)
