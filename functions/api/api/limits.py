"""Request bodies larger than an upload may be are refused before they are read."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

# Room for the multipart framing and the recipe field around a file of the largest allowed size.
FORM_OVERHEAD_BYTES = 64 * 1024


class BodyLimit:
    """``413`` for a declared ``Content-Length`` over the limit, without reading a byte of the body; a body
    without one (chunked), or longer than declared, is counted as it arrives and cut off at the limit.
    Pure ASGI, so uvicorn and Mangum behave alike."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit() + FORM_OVERHEAD_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await too_large(limit)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # raised inside the route's body parsing: the app's handler answers 413 too_large
                    raise HTTPException(413, f"the request body exceeds {limit} bytes")
            return message

        await self.app(scope, counted, send)


def too_large(limit: int) -> ASGIApp:
    return error_response(413, "too_large", f"the request body exceeds {limit} bytes")


def _content_length(scope: Scope) -> int | None:
    """The declared length; an unreadable one counts as infinite (refused)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 1 << 62
    return None
