"""The imagepipe HTTP API as the CLI speaks it: one async httpx client for the API (with the key) and one
for S3's presigned URLs (without it: S3 refuses a second authentication)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from imagepipe.keys import is_image_id, is_key_id
from imagepipe.models import VARIANT_NAME_PATTERN

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

Record = dict[str, Any]
"""an image record as ``GET /images/{id}`` returns it"""
OnBytes = Callable[[int], None]


class ApiError(Exception):
    """The API (or S3) answered with an error: its HTTP status and the contract's ``{code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class InvalidId(ApiError):
    """An id (or variant name) the API never issues, refused before any request is sent (status 0): whatever a
    user types, it cannot change the path a request goes to."""

    def __init__(self, what: str, value: str, form: str) -> None:
        super().__init__(0, "invalid_id", f"not {what} ({form}): {value!r}")


class AuthError(ApiError):
    """401 or 403: no key, a wrong key, or a key without the scope; nothing else will work either."""


class Unreachable(Exception):
    """No answer from the API at all."""


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str | None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class CountingReader(io.BytesIO):
    """Bytes in memory whose reads (as httpx sends them) are reported: upload progress without a thread."""

    def __init__(self, data: bytes, on_bytes: OnBytes) -> None:
        super().__init__(data)
        self._on_bytes = on_bytes

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self._on_bytes(len(chunk))
        return chunk


def _image_path(image_id: str, *rest: str) -> str:
    """``/images/{image_id}/...`` for an id of the API's form only."""
    if not is_image_id(image_id):
        raise InvalidId("an image id", image_id, "32 lower-case hex digits")
    return _path("images", image_id, *rest)


def _path(*segments: str) -> str:
    """Each segment percent-encoded (``/``, ``?``, ``#`` and ``%`` too): a second guard after the checks of form."""
    return "".join(f"/{quote(segment, safe='')}" for segment in segments)


def _error(response: httpx.Response) -> ApiError:
    code, message = f"http_{response.status_code}", response.reason_phrase or "error"
    try:
        body = response.json()
        code, message = str(body["error"]["code"]), str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        pass
    kind = AuthError if response.status_code in (401, 403) else ApiError
    return kind(response.status_code, code, message)


class ImagepipeApi:
    """``async with ImagepipeApi(connection) as api: await api.image(image_id)``."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._api = httpx.AsyncClient(base_url=connection.url, headers=connection.headers(), timeout=TIMEOUT)
        self._s3 = httpx.AsyncClient(timeout=TIMEOUT)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._api.aclose()
        await self._s3.aclose()

    async def _call(self, method: str, path: str, redirect: bool = False, **kwargs: Any) -> httpx.Response:
        """The API's answer to one request; an error unless it is a 2xx, or the 3xx asked for with ``redirect``
        (redirects are never followed: a 3xx from anywhere else is not what the request was for)."""
        try:
            response = await self._api.request(method, path, follow_redirects=False, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"no answer from {self.connection.url}: {exc or type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _error(response)
        if not (response.is_redirect if redirect else response.is_success):
            where = f" to {response.headers['Location']}" if "Location" in response.headers else ""
            message = f"{method} {path} answered {response.status_code} {response.reason_phrase}{where}"
            raise ApiError(response.status_code, "unexpected_answer", message)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The body of a 2xx answer, which must be JSON."""
        response = await self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            message = f"{method} {path} answered {response.status_code} without JSON: is {self.connection.url} the API?"
            raise ApiError(response.status_code, "unexpected_answer", message) from exc

    async def upload(self, filename: str, data: bytes, recipe: dict[str, Any] | None, on_bytes: OnBytes) -> str:
        """``POST /images``: the file in the request; its image id."""
        form = {"recipe": json.dumps(recipe)} if recipe else None
        files = {"file": (filename, CountingReader(data, on_bytes), "application/octet-stream")}
        return str((await self._json("POST", "/images", files=files, data=form))["image_id"])

    async def upload_via_s3(
        self, filename: str, data: bytes, content_type: str, recipe: dict[str, Any] | None, on_bytes: OnBytes
    ) -> str:
        """``POST /images/uploads`` then the presigned POST straight to S3; its image id."""
        request = {"filename": filename, "content_type": content_type, "size": len(data), "recipe": recipe}
        form = await self._json("POST", "/images/uploads", json=request)
        files = {"file": (filename, CountingReader(data, on_bytes), content_type)}
        try:
            response = await self._s3.post(form["url"], data=form["fields"], files=files)
        except httpx.TransportError as exc:
            raise Unreachable(f"no answer from S3 at {form['url']}: {exc or type(exc).__name__}") from exc
        if not response.is_success:
            raise ApiError(response.status_code, "upload_refused", f"S3 refused the upload: {response.text[:300]}")
        return str(form["image_id"])

    async def image(self, image_id: str) -> Record:
        return dict(await self._json("GET", _image_path(image_id)))

    async def images(self, status: str | None, limit: int) -> list[Record]:
        """Newest first, following the cursor until ``limit`` records."""
        found: list[Record] = []
        cursor: str | None = None
        while len(found) < limit:
            params: dict[str, str | int] = {"limit": min(100, limit - len(found))}
            if status:
                params["status"] = status
            if cursor:
                params["next"] = cursor
            page = await self._json("GET", "/images", params=params)
            found.extend(page["items"])
            cursor = page.get("next")
            if not cursor:
                break
        return found[:limit]

    async def delete(self, image_id: str) -> None:
        await self._call("DELETE", _image_path(image_id))

    async def reprocess(self, image_id: str, recipe: dict[str, Any] | None) -> None:
        await self._call("POST", _image_path(image_id, "reprocess"), json={"recipe": recipe} if recipe else None)

    async def queue(self) -> dict[str, int]:
        return dict(await self._json("GET", "/queue"))

    async def create_key(self, tenant: str, scopes: list[str], name: str | None) -> Record:
        """``POST /keys``: the new key, its secret shown this once."""
        body: dict[str, Any] = {"tenant": tenant, "scopes": scopes, **({"name": name} if name else {})}
        return dict(await self._json("POST", "/keys", json=body))

    async def keys(self) -> list[Record]:
        """``GET /keys``: every key, without secrets."""
        return list((await self._json("GET", "/keys"))["items"])

    async def revoke_key(self, key_id: str) -> None:
        if not is_key_id(key_id):
            raise InvalidId("a key id", key_id, "16 lower-case hex digits, as `keys ls` lists them")
        await self._call("DELETE", _path("keys", key_id))

    async def variant_url(self, image_id: str, name: str) -> str:
        """The short-lived URL ``GET /images/{id}/variants/{name}`` redirects to."""
        if not re.fullmatch(VARIANT_NAME_PATTERN, name):
            raise InvalidId("a variant name", name, "lower-case letters, digits, '_' and '-'")
        response = await self._call("GET", _image_path(image_id, "variants", name), redirect=True)
        return response.headers["Location"]

    async def fetch(self, url: str) -> bytes:
        """A presigned URL's bytes."""
        try:
            response = await self._s3.get(url)
        except httpx.TransportError as exc:
            raise Unreachable(f"no answer from {url.split('?')[0]}: {exc or type(exc).__name__}") from exc
        if not response.is_success:
            raise ApiError(response.status_code, "download_failed", f"{url.split('?')[0]}: {response.text[:200]}")
        return response.content
