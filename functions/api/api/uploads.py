"""Direct-to-S3 uploads (POST /images/uploads) and the listing of the caller's images (GET /images)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import ReadPrincipal, WritePrincipal
from api.errors import documented, quoted
from api.images import ImageView, view, with_progress
from api.services import ServicesDep
from imagepipe import similar
from imagepipe.errors import ImagePipeError, ImageTooLarge, InvalidRequest, NotFound, NotReady, UnsupportedMediaType
from imagepipe.keys import image_id_for_object, is_image_id, new_image_id, upload_key
from imagepipe.models import ImageRecord, SourceObject, Status
from imagepipe.recipes import parse_recipe
from imagepipe.records import PENDING_VERSION

router = APIRouter(prefix="/images", tags=["images"])

_CONTENT_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",  # decoded by workers built with the imagepipe[heic] extra; refused clearly by others
    "image/heif",
    "image/tiff",
    "image/bmp",
)


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(description=f"one of {', '.join(_CONTENT_TYPES)}")
    size: int = Field(gt=0, description="bytes; the upload may not be larger")
    recipe: dict[str, Any] | None = None


class UploadForm(BaseModel):
    """POST ``fields`` plus the file (as the last field, named ``file``) to ``url`` before ``expires_in`` s."""

    image_id: str
    key: str
    url: str
    fields: dict[str, str]
    expires_in: int
    location: str


class ImagePage(BaseModel):
    items: list[ImageView]
    next: str | None


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadForm,
    responses=documented(400, 413, 415, 422),
)
async def create_upload(services: ServicesDep, principal: WritePrincipal, request: UploadRequest) -> UploadForm:
    """A presigned POST for uploads too large for the API (Lambda takes 6 MB): the S3 event queues it."""
    settings = services.settings
    if request.content_type not in _CONTENT_TYPES:
        raise UnsupportedMediaType(f"content_type must be one of {', '.join(_CONTENT_TYPES)}")
    if request.size > settings.max_upload_bytes:
        raise ImageTooLarge(f"{request.size} bytes exceeds the limit of {settings.max_upload_bytes}")
    recipe = parse_recipe(request.recipe, settings)
    image_id = new_image_id()
    key = upload_key(principal.tenant, image_id, request.filename, settings.upload_prefix)
    # the record waits for the upload: the S3 event fills in the version and queues it with this recipe
    source = SourceObject(
        bucket=settings.upload_bucket,
        key=key,
        version=PENDING_VERSION,
        size=request.size,
        content_type=None,  # the client's claim; what the bytes are shows in the metadata once processed
    )
    await run_in_threadpool(services.records.create, image_id, source, recipe, principal.tenant)
    url, fields = services.store.presigned_post(
        settings.upload_bucket, key, request.content_type, request.size, settings.presign_expiry_seconds
    )
    return UploadForm(
        image_id=image_id,
        key=key,
        url=url,
        fields=fields,
        expires_in=settings.presign_expiry_seconds,
        location=f"/images/{image_id}",
    )


async def _similar(
    services: ServicesDep, tenant: str, image_id: str, max_distance: int, limit: int, cursor: str | None
) -> ImagePage:
    record = await run_in_threadpool(services.records.owned, image_id, tenant) if is_image_id(image_id) else None
    if record is None:
        raise NotFound(f"no image {quoted(image_id)}")  # another tenant's image is not there for this caller
    phash = record.metadata.phash if record.metadata else None
    if phash is None:
        error: ImagePipeError = NotReady(f"image {image_id} has no perceptual hash (is it processed?)")
        raise error
    skip = _similar_skip(cursor)
    # the nearest skip + limit, one more to know whether a page follows, and one for the image itself
    wanted = skip + limit + 2
    found = await run_in_threadpool(services.records.similar, tenant, phash, max_distance, wanted)
    others = [(r, d) for r, d in found if r.image_id != image_id]
    items = [view(services, r).model_copy(update={"distance": d}) for r, d in others[skip : skip + limit]]
    more = len(others) > skip + limit
    return ImagePage(items=items, next=_cursor({"similar": {"skip": skip + limit}}) if more else None)


def _similar_skip(cursor: str | None) -> int:
    """How many of the nearest a ``?similar_to=`` cursor has already given."""
    after = _after(cursor)
    if after is None:
        return 0
    skip = after.get("similar", {}).get("skip")
    if list(after) != ["similar"] or not isinstance(skip, int) or isinstance(skip, bool) or not 0 <= skip <= 10_000:
        raise InvalidRequest("next: not a cursor this API gave out for similar_to")
    return skip


def _cursor(after: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode() if after else None


def _after(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("next: not a cursor this API gave out") from exc
    if not isinstance(after, dict) or not all(isinstance(v, dict) for v in after.values()):
        raise InvalidRequest("next: not a cursor this API gave out")
    return after


@router.get("", response_model=ImagePage, responses=documented(404, 409, 422))
async def list_images(
    services: ServicesDep,
    principal: ReadPrincipal,
    status: Status | None = None,
    source_key: Annotated[str | None, Query(max_length=1024, description="the object key in the upload bucket")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next: Annotated[str | None, Query(description="the cursor of the previous page")] = None,
    similar_to: Annotated[str | None, Query(description="an image id: its near-duplicates, nearest first")] = None,
    max_distance: Annotated[
        int, Query(ge=0, le=similar.MAX_DISTANCE, description="with similar_to: Hamming distance of the phash")
    ] = similar.MAX_DISTANCE,
) -> ImagePage:
    """The caller's images, newest first; ``?status=`` filters by status, ``?source_key=`` finds the image of
    an object, ``?similar_to=`` lists near-duplicates of one of them (nearest first, through the band index)."""
    settings = services.settings
    if similar_to is not None:
        if status not in (None, Status.SUCCEEDED):  # only a processed image has a hash to be near
            return ImagePage(items=[], next=None)
        return await _similar(services, principal.tenant, similar_to, max_distance, limit, next)
    if source_key is not None:
        # an object's image id derives from its key: one lookup, no scan
        image_id = image_id_for_object(settings.upload_bucket, source_key, settings.upload_prefix)
        record = await run_in_threadpool(services.records.owned, image_id, principal.tenant)
        found: list[ImageRecord] = [record] if record and record.source.key == source_key else []
        return ImagePage(items=[view(services, r) for r in found if status is None or r.status is status], next=None)
    records, after = await run_in_threadpool(
        lambda: services.records.page(principal.tenant, status=status, limit=limit, after=_after(next))
    )
    items = await with_progress(services, [view(services, r) for r in records])
    return ImagePage(items=items, next=_cursor(after))
