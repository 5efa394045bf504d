"""HEIC/HEIF input, an opt-in extra (``pip install imagepipe[heic]``): pillow-heif registers a Pillow opener
for it. Its wheels bundle libheif and libde265 (LGPL-3.0) and x265 (GPL-2.0), so the worker image installs it
only when built with ``--build-arg WITH_HEIC=1``. libvips in pyvips-binary cannot decode HEVC, so both
engines decode HEIC through Pillow (the vips engine then continues in libvips, as it does for BMP).

Without the extra a HEIC source is refused as ``invalid_image`` with a message naming it.
"""

from __future__ import annotations

import importlib
from functools import cache

from imagepipe.errors import InvalidImage
from imagepipe.sniff import HEAD_BYTES, HEIC, sniff_content_type

EXTRA = "imagepipe[heic]"
FORMAT = "HEIF"  # what Pillow calls it once pillow-heif is registered


@cache
def available() -> bool:
    """Whether pillow-heif imports here; registers its Pillow opener the first time it does."""
    try:
        pillow_heif = importlib.import_module("pillow_heif")
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def formats(data: bytes) -> tuple[str, ...]:
    """The Pillow format to offer for ``data`` besides the built-in ones: HEIF when its first bytes say
    HEIC/HEIF (only then is pillow-heif imported, 25 ms a process), else none. InvalidImage naming the extra
    when they say so and this interpreter cannot decode it."""
    if sniff_content_type(data[:HEAD_BYTES]) != HEIC:
        return ()
    if not available():
        raise InvalidImage(f"HEIC/HEIF images need the {EXTRA} extra, which this worker does not have")
    return (FORMAT,)
