"""Routes under /images: upload, status, variant downloads."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, ReadPrincipal, WritePrincipal
from api.errors import documented, quoted
from api.observability import count, logger
from api.services import Services, ServicesDep
from imagepipe.announce import Outcome, announce
from imagepipe.errors import (
    Busy,
    ImagePipeError,
    ImageTooLarge,
    InvalidImage,
    NotFound,
    NotReady,
    UnsupportedMediaType,
)
from imagepipe.keys import image_folder, is_image_id, new_image_id, output_folder, upload_key
from imagepipe.models import ImageRecord, SourceObject, Status, VariantOutput
from imagepipe.progress import Progress, read_progress
from imagepipe.recipes import parse_recipe
from imagepipe.records import PENDING_VERSION
from imagepipe.sniff import FORMATS, HEAD_BYTES, UNKNOWN, sniff_content_type

router = APIRouter(prefix="/images", tags=["images"])

_ERRORS = documented(400, 404, 409, 413, 422, 503)
_CHUNK = 1024 * 1024


class ImageAccepted(BaseModel):
    image_id: str
    status: Status
    location: str


class VariantView(VariantOutput):
    url: str


class ImageView(ImageRecord):
    variants: list[VariantView]  # type: ignore[assignment]
    progress: Progress | None = None
    """while ``processing``: the stage, and variants rendered or stored so far (kept in Redis, not the record)"""
    distance: int | None = Field(default=None, description="?similar_to= only: Hamming distance of the phash")


def accepted(response: Response, image_id: str) -> ImageAccepted:
    """``202``: the image is queued; its record is at ``Location``."""
    location = f"/images/{image_id}"
    response.headers["Location"] = location
    return ImageAccepted(image_id=image_id, status=Status.QUEUED, location=location)


def correlation_id(request: Request) -> str:
    """The caller's ``X-Correlation-Id``, else API Gateway's request id (set on the logger by the Lambda
    handler), else a new one. It travels with the job into the worker's logs."""
    return request.headers.get("x-correlation-id") or logger.get_correlation_id() or uuid.uuid4().hex


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """Read an upload, refusing it as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise ImageTooLarge(f"the upload exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("", status_code=202, response_model=ImageAccepted, responses=documented(400, 404, 409, 413, 415, 422, 503))
async def upload_image(
    services: ServicesDep,
    request: Request,
    principal: WritePrincipal,
    response: Response,
    file: Annotated[UploadFile, File(description="the image")],
    recipe: Annotated[str | None, Form(description="a Recipe as JSON; the default recipe if absent")] = None,
) -> ImageAccepted:
    """Store the original, record it ``queued`` and queue its processing."""
    settings = services.settings
    parsed = parse_recipe(recipe, settings)
    data = await _read_limited(file, settings.max_upload_bytes)
    if not data:
        raise InvalidImage("the file is empty")
    image_id = new_image_id()
    key = upload_key(principal.tenant, image_id, file.filename, settings.upload_prefix)
    content_type = sniff_content_type(data[:HEAD_BYTES])
    if content_type == UNKNOWN:  # refused here, not stored to fail in the worker
        raise UnsupportedMediaType(f"not an image: its bytes are none of the formats imagepipe takes ({FORMATS})")
    # The record, with the caller's recipe, exists before the object does: the upload's S3 event may reach
    # the trigger before this request announces the version, and must then queue it with this recipe, not
    # create a record of its own with the default one. Whichever comes second finds the version registered.
    pending = SourceObject(
        bucket=settings.upload_bucket, key=key, version=PENDING_VERSION, size=len(data), content_type=content_type
    )
    await run_in_threadpool(services.records.create, image_id, pending, parsed, principal.tenant)
    try:
        source = await run_in_threadpool(services.store.put_source, settings.upload_bucket, key, data, content_type)
    except Exception:
        await _forget(services, image_id)  # no object: no record left waiting for one
        raise
    announced = await announce(
        source,
        services,
        image_id=image_id,
        recipe=parsed,
        tenant=principal.tenant,
        correlation_id=correlation_id(request),
    )
    count("Enqueued" if announced.outcome is Outcome.ENQUEUED else "Duplicates")
    logger.info("upload accepted", extra={"image_id": image_id, "bytes": len(data), "key": key})
    return accepted(response, image_id)


async def _forget(services: Services, image_id: str) -> None:
    """Delete the record of an upload that failed, best effort: the upload's own error is the one to report,
    and a record left behind is failed by the sweep (``upload_missing``)."""
    try:
        await run_in_threadpool(services.records.delete, image_id)
    except Exception:
        logger.exception("the record of a failed upload was not deleted", extra={"image_id": image_id})


async def _record(services: ServicesDep, principal: Principal, image_id: str) -> ImageRecord:
    """The caller's image; another tenant's answers 404 like a missing one, so ids cannot be probed."""
    record = None
    if is_image_id(image_id):
        record = await run_in_threadpool(services.records.owned, image_id, principal.tenant)
    if record is None:
        raise NotFound(f"no image {quoted(image_id)}")
    return record


@router.get("/{image_id}", response_model=ImageView, responses=_ERRORS)
async def get_image(services: ServicesDep, principal: ReadPrincipal, image_id: str) -> ImageView:
    """The record: status, source, recipe, variants with short-lived URLs, metadata, error; progress while
    it is processed."""
    record = await _record(services, principal, image_id)
    [shown] = await with_progress(services, [view(services, record)])
    return shown


async def with_progress(services: Services, views: list[ImageView]) -> list[ImageView]:
    """``views`` with the progress of those ``processing`` (one Redis read each, together)."""
    busy = [i for i, v in enumerate(views) if v.status is Status.PROCESSING]
    found = await asyncio.gather(*(_progress(services, views[i].image_id) for i in busy))
    shown = list(views)
    for i, progress in zip(busy, found, strict=True):
        shown[i] = views[i].model_copy(update={"progress": progress})
    return shown


async def _progress(services: Services, image_id: str) -> Progress | None:
    """Best effort: the record is worth showing without its progress while Redis is away."""
    from redis.exceptions import RedisError

    try:
        return await read_progress(await services.queue(), image_id)
    except (RedisError, OSError):
        return None


def view(services: Services, record: ImageRecord) -> ImageView:
    """A record as clients see it: variants with short-lived URLs."""
    settings = services.settings
    variants = [
        VariantView(
            **v.model_dump(),
            url=services.store.presigned_get(settings.output_bucket, v.key, settings.presign_expiry_seconds),
        )
        for v in record.variants
    ]
    return ImageView(**record.model_dump(exclude={"variants"}), variants=variants)


@router.get(
    "/{image_id}/variants/{name}",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "redirect to a short-lived URL of the variant"}, **_ERRORS},
)
async def get_variant(services: ServicesDep, principal: ReadPrincipal, image_id: str, name: str) -> RedirectResponse:
    """Redirect to a presigned URL of one variant."""
    record = await _record(services, principal, image_id)
    if record.status is not Status.SUCCEEDED:
        error: ImagePipeError = NotReady(f"image {image_id} is {record.status.value}")
        raise error
    for variant in record.variants:
        if variant.name == name:
            settings = services.settings
            url = services.store.presigned_get(settings.output_bucket, variant.key, settings.presign_expiry_seconds)
            return RedirectResponse(url, status_code=307)
    raise NotFound(f"image {image_id} has no variant {name!r}")


class ReprocessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    recipe: dict[str, Any] | None = None
    """a new recipe; the image's own if absent"""


@router.post("/{image_id}/reprocess", status_code=202, response_model=ImageAccepted, responses=_ERRORS)
async def reprocess_image(
    services: ServicesDep,
    principal: WritePrincipal,
    image_id: str,
    http: Request,
    response: Response,
    request: ReprocessRequest | None = None,
) -> ImageAccepted:
    """Process a finished image again (with a new recipe, if given); 409 while it is queued or processing."""
    record = await _record(services, principal, image_id)
    recipe = parse_recipe(request.recipe, services.settings) if request and request.recipe else record.recipe
    requeued = await run_in_threadpool(
        lambda: services.records.requeue(
            image_id, record.source.version, finished=(Status.SUCCEEDED, Status.FAILED), recipe=recipe
        )
    )
    if not requeued:
        raise Busy(f"image {image_id} is {record.status.value}: it can be reprocessed once it is finished")
    await announce(
        record.source, services, image_id=image_id, tenant=record.tenant, correlation_id=correlation_id(http)
    )
    count("Enqueued")
    return accepted(response, image_id)


@router.delete("/{image_id}", status_code=204, response_class=Response, responses=_ERRORS)
async def delete_image(services: ServicesDep, principal: WritePrincipal, image_id: str) -> Response:
    """Delete the image: its variants (those of earlier recipes too), its originals (every version, for good:
    none is left to become current again and be taken for a new upload) and its record."""
    record = await _record(services, principal, image_id)
    settings, store, source = services.settings, services.store, record.source
    folder = image_folder(source.key, settings.upload_prefix)
    await run_in_threadpool(store.purge, source.bucket, folder or source.key, exact=folder is None)
    outputs = output_folder(record.tenant, image_id, settings.output_prefix)
    await run_in_threadpool(store.delete_under, settings.output_bucket, outputs)
    for variant in record.variants:  # stored elsewhere before tenants
        if not variant.key.startswith(outputs):
            await run_in_threadpool(store.delete, settings.output_bucket, variant.key)
    await run_in_threadpool(services.records.delete, image_id)
    logger.info("image deleted", extra={"image_id": image_id})
    return Response(status_code=204)
