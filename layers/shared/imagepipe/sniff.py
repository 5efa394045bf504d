"""Content type from the bytes themselves: a client's content type (or a file's name) is never trusted.
Shared by the API (what it stores) and the CLI (which files it submits)."""

from __future__ import annotations

UNKNOWN = "application/octet-stream"
HEAD_BYTES = 16
"""how many leading bytes :func:`sniff_content_type` looks at"""

SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypavif", 4, "image/avif"),
    (b"ftypheic", 4, "image/heic"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
)


def sniff_content_type(head: bytes) -> str:
    """The image type the first :data:`HEAD_BYTES` bytes announce, else :data:`UNKNOWN`."""
    for signature, offset, content_type in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    return UNKNOWN
