"""An object version announced (by the API, an S3 event or a recovery sweep) becomes at most one job."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from imagepipe.jobs import enqueue_processing
from imagepipe.keys import image_id_for_object
from imagepipe.models import ErrorInfo, SourceObject, Status
from imagepipe.records import ImageRecords, Registration
from imagepipe.settings import Settings

if TYPE_CHECKING:
    from arq.connections import ArqRedis


class Outcome(StrEnum):
    ENQUEUED = "enqueued"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Announced:
    image_id: str | None
    outcome: Outcome
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {"image_id": self.image_id, "outcome": self.outcome.value, "reason": self.reason}


def etag_version(etag: str) -> str:
    """S3 events carry the ETag bare; the API stores it quoted, as S3 returns it from PUT."""
    bare = etag.strip('"')
    return f'"{bare}"'


async def announce(source: SourceObject, settings: Settings, records: ImageRecords, pool: ArqRedis) -> Announced:
    """Register ``source`` on its record and queue it, once per version; stale and foreign objects are
    skipped with a reason."""
    if source.bucket != settings.upload_bucket:
        return Announced(None, Outcome.SKIPPED, f"bucket {source.bucket!r} is not the upload bucket")
    if not source.key.startswith(settings.upload_prefix):
        return Announced(None, Outcome.SKIPPED, f"key outside {settings.upload_prefix!r}")
    image_id = image_id_for_object(source.bucket, source.key, settings.upload_prefix)
    registration, record = await asyncio.to_thread(records.register, image_id, source, settings.default_recipe)
    if registration is Registration.STALE:
        return Announced(image_id, Outcome.SKIPPED, "an older version than the one already tracked")
    if source.size is not None and source.size > settings.max_upload_bytes:
        error = ErrorInfo(
            code="too_large", message=f"the object has {source.size} bytes; the limit is {settings.max_upload_bytes}"
        )
        await asyncio.to_thread(records.refuse, image_id, source.version, error)
        return Announced(image_id, Outcome.SKIPPED, error.message)
    if registration is Registration.DUPLICATE and record.status is not Status.QUEUED:
        return Announced(image_id, Outcome.DUPLICATE, f"this version is already {record.status.value}")
    queued = await enqueue_processing(
        pool, image_id=image_id, bucket=source.bucket, key=source.key, version=source.version, recipe=record.recipe
    )
    if not queued:
        return Announced(image_id, Outcome.DUPLICATE, "this version is already queued or running")
    return Announced(image_id, Outcome.ENQUEUED, registration.value)
