"""The API's content sniffing is the shared library's (the CLI uses it too)."""

from imagepipe.sniff import sniff_content_type

__all__ = ["sniff_content_type"]
