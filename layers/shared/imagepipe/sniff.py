"""Content type from the bytes themselves: a client's content type (or a file's name) is never trusted.
Shared by the API (what it stores) and the CLI (which files it submits)."""

from __future__ import annotations

UNKNOWN = "application/octet-stream"
HEIC = "image/heic"
FORMATS = "JPEG, PNG, GIF, WebP, AVIF, HEIC, TIFF, BMP"
"""what :func:`sniff_content_type` recognises, as a refusal names them"""
HEAD_BYTES = 32
"""how many leading bytes :func:`sniff_content_type` looks at"""

SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypavif", 4, "image/avif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
)


# ISO base media files (HEIF, AVIF): the ftyp box's major brand, then its compatible brands
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"miaf"})  # the container's own: decided by the other brands
ISO_BRANDS: tuple[tuple[str, frozenset[bytes]], ...] = (
    ("image/avif", _AVIF_BRANDS),
    (HEIC, _HEIC_BRANDS | _HEIF_BRANDS),
)
"""the first type with any of its brands in the ftyp box wins (the upload page reads the same table)"""


def _iso_media_type(head: bytes) -> str | None:
    if head[4:8] != b"ftyp":
        return None
    end = min(len(head), int.from_bytes(head[:4], "big"))
    brands = [head[8:12]] + [head[at : at + 4] for at in range(16, end - 3, 4)]
    return next((kind for kind, known in ISO_BRANDS if any(brand in known for brand in brands)), None)


def sniff_content_type(head: bytes) -> str:
    """The image type the first :data:`HEAD_BYTES` bytes announce, else :data:`UNKNOWN`."""
    iso = _iso_media_type(head)
    if iso is not None:
        return iso
    for signature, offset, content_type in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    return UNKNOWN
