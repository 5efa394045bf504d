"""Colour rules both engines follow, read from the embedded ICC profile's bytes (no image library needed).

- An RGB or CMYK source with an embedded profile is converted to sRGB, relative colorimetric, before any
  resizing or filtering: pixels in Display P3 or Adobe RGB keep their colours instead of losing saturation.
- A profile that already describes sRGB is not applied: converting sRGB to sRGB costs a pass for nothing.
- No profile means sRGB (the web's default), and for CMYK the plain inversion Pillow has always done.
- Grey sources stay grey: a grey profile changes tone, not hue, and converting would triple the output.
- Outputs are sRGB and untagged: every browser and decoder reads untagged pixels as sRGB, and outputs carry
  pixels only (a profile would cost bytes on every thumbnail and leak nothing useful).
"""

from __future__ import annotations

import struct

CONVERTED_SPACES = frozenset({"RGB", "CMYK"})  # the ICC colour spaces an engine converts to sRGB
_HEADER = 128


def colour_space(icc: bytes) -> str:
    """The profile's data colour space signature ('RGB', 'CMYK', 'GRAY', ...), '' when unreadable."""
    return icc[16:20].decode("ascii", "replace").strip() if len(icc) >= _HEADER else ""


def description(icc: bytes) -> str:
    """The profile's 'desc' text (ICC v2 'desc' or v4 'mluc'), '' when absent or unreadable."""
    try:
        (count,) = struct.unpack_from(">I", icc, _HEADER)
        for index in range(min(count, 100)):
            signature, offset, size = struct.unpack_from(">4sII", icc, _HEADER + 4 + 12 * index)
            if signature == b"desc":
                return _text(icc[offset : offset + size])
    except struct.error:
        pass
    return ""


def _text(tag: bytes) -> str:
    if tag[:4] == b"desc":  # v2: a counted ASCII string
        (length,) = struct.unpack_from(">I", tag, 8)
        return tag[12 : 12 + length].split(b"\0", 1)[0].decode("ascii", "replace")
    if tag[:4] == b"mluc":  # v4: UTF-16BE records; the first one will do
        (records,) = struct.unpack_from(">I", tag, 8)
        if records:
            length, offset = struct.unpack_from(">II", tag, 16 + 4)
            return tag[offset : offset + length].decode("utf-16-be", "replace")
    return ""


def needs_conversion(icc: bytes | None) -> bool:
    """Whether an engine must convert pixels tagged with ``icc`` to sRGB."""
    if not icc or colour_space(icc) not in CONVERTED_SPACES:
        return False
    return not (colour_space(icc) == "RGB" and "srgb" in description(icc).lower().replace(" ", ""))
