"""The one intake: an object version announced by the API upload, an S3 event, the recovery sweep, a
replay or a reprocess becomes at most one job. Exactly-once lives here and in the job id
(:func:`imagepipe.jobs.job_id`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from imagepipe.completion import ImageSummary, enqueue_ended
from imagepipe.jobs import enqueue_record
from imagepipe.keys import image_id_for_object, tenant_segment
from imagepipe.models import Recipe, SourceObject, Status
from imagepipe.records import Registration
from imagepipe.retries import Ended, give_up, intake_verdict
from imagepipe.services import Services


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


async def announce(
    source: SourceObject,
    services: Services,
    *,
    image_id: str | None = None,
    recipe: Recipe | None = None,
    tenant: str | None = None,
    correlation_id: str | None = None,
    ended: Ended | None = None,
) -> Announced:
    """Register ``source`` on its record and queue it unless its job is queued or running. ``image_id`` and
    ``recipe`` are the API's (a new image); anything else derives the id from the key and gets the
    record's recipe (the default for a new one). ``tenant`` is the owner the caller knows (the API's caller, a
    record's tenant); otherwise :func:`owner` decides, and a key the API wrote for one tenant never reaches
    another tenant's record. A record put back to ``queued`` (replay, reprocess) or
    stuck (sweep) is announced with its own source and runs again. Stale, foreign, oversized and
    identical re-put versions are not queued; an oversized one is failed and ``ended`` told of it (by default
    an ``image_ended`` job: the API and the trigger reach neither webhooks nor events; the worker passes its own)."""
    settings = services.settings
    if source.bucket != settings.upload_bucket:
        return Announced(None, Outcome.SKIPPED, f"bucket {source.bucket!r} is not the upload bucket")
    if not source.key.startswith(settings.upload_prefix):
        return Announced(None, Outcome.SKIPPED, f"key outside {settings.upload_prefix!r}")
    if source.key.endswith("/") and not source.size:  # what "Create folder" in the S3 console writes
        return Announced(None, Outcome.SKIPPED, "a folder marker (an empty object whose key ends in '/')")
    image_id = image_id or image_id_for_object(source.bucket, source.key, settings.upload_prefix)
    tenant_of: str = tenant if tenant is not None else await asyncio.to_thread(owner, source.key, services)
    registration, record = await asyncio.to_thread(
        services.records.register, image_id, source, recipe or settings.default_recipe, tenant_of
    )
    if registration is Registration.FOREIGN:
        return Announced(image_id, Outcome.SKIPPED, "the image belongs to another tenant than the key names")
    if registration is Registration.STALE:
        return Announced(image_id, Outcome.SKIPPED, "an older version than the one already tracked")
    if registration is Registration.IDENTICAL:
        return Announced(image_id, Outcome.DUPLICATE, "the same content as the processed version (ETag and size)")
    if refusal := intake_verdict(source, settings):
        await give_up(services.records, image_id, source.version, refusal, ended=ended or _by_worker(services))
        return Announced(image_id, Outcome.SKIPPED, refusal.message)
    if registration is Registration.DUPLICATE and record.status not in (Status.QUEUED, Status.PROCESSING):
        return Announced(image_id, Outcome.DUPLICATE, f"this version is already {record.status.value}")
    if not await enqueue_record(await services.queue(), record, correlation_id):
        return Announced(image_id, Outcome.DUPLICATE, "this version is already queued or running")
    return Announced(image_id, Outcome.ENQUEUED, registration.value)


def _by_worker(services: Services) -> Ended:
    async def ended(summary: ImageSummary) -> None:
        await enqueue_ended(await services.queue(), summary)

    return ended


def owner(key: str, services: Services) -> str:
    """The tenant of an object in the upload bucket: the tenant an API-written key names
    (``uploads/{tenant}/{image_id}/{name}``); else the first path segment after the prefix when that tenant has
    keys (one GetItem); else the default tenant (``uploads/photo.jpg``, ``uploads/holiday/x.jpg``)."""
    settings = services.settings
    named, written_by_api = tenant_segment(key, settings.upload_prefix)
    if named is not None and (written_by_api or services.keys.has_tenant(named)):
        return named
    return settings.default_tenant
