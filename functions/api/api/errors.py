"""HTTP mapping of errors: the one place an exception becomes a response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from imagepipe.errors import ImagePipeError, InternalError, RateLimited, Unauthorized

log = logging.getLogger("imagepipe.api")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


AUTH_ERRORS = (401, 403, 429)
"""what every route behind a key may answer"""


def documented(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for these error statuses (and those of authentication)."""
    return {code: {"model": ErrorBody} for code in sorted({*codes, *AUTH_ERRORS})}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}}, headers=headers)


def domain_error(exc: ImagePipeError) -> JSONResponse:
    """The answer to an imagepipe error, with what a client needs to act on it: how to authenticate, how
    long to wait."""
    headers = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.http_status, exc.code, exc.message, headers)


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def quoted(value: str, limit: int = 64) -> str:
    """A value the caller sent, quoted back in a message: cut after ``limit`` characters, not echoed whole."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f" (and {len(value) - limit} more)"


def _plainly(err: Mapping[str, Any]) -> str:
    """A validation error as the caller can act on it, not as pydantic words it for a programmer."""
    loc, message = tuple(err.get("loc", ())), str(err.get("msg", "invalid"))
    if loc == ("body", "file") and "UploadFile" in message:
        return "send the image as a file part of multipart/form-data (curl -F file=@photo.jpg), not as text"
    if loc == ("body", "recipe") and err.get("type") == "string_type":  # curl -F recipe=@recipe.json
        return "send the recipe as a text field, not a file part (curl -F 'recipe=<recipe.json')"
    if loc == ("body",) and err.get("type") in ("model_attributes_type", "dict_type"):
        return "a JSON object is expected, sent as Content-Type: application/json"
    return message


def install(app: FastAPI) -> None:
    @app.exception_handler(ImagePipeError)
    async def _domain(_: Request, exc: ImagePipeError) -> JSONResponse:
        return domain_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {_plainly(err)}")
        return error_response(422, "invalid_request", "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        # its headers too: a 405 names the methods the route has (Allow, which HTTP requires of a 405)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return await _domain(request, InternalError("an unexpected error occurred"))
