"""Retry or give up: the one place a failure's fate is decided and a record is failed.

The worker asks :func:`retry_delay` after a failed try (:func:`delivery_delay` after a failed webhook
delivery), the sweeper asks :func:`stuck_verdict` about a record that stopped moving, and the intake asks
:func:`intake_verdict` about an announced version; all three give up through :func:`give_up`, which tells
``ended`` when the record did become final.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from imagepipe.completion import ImageSummary
from imagepipe.errors import ImagePipeError, ImageTooLarge, UploadMissing, WorkerCrashed
from imagepipe.models import ErrorInfo, ImageRecord, SourceObject, Status
from imagepipe.records import PENDING_VERSION, ImageRecords
from imagepipe.settings import Settings

Ended = Callable[[ImageSummary], Awaitable[None]]
"""Told of a record that just became final (the worker's :class:`hooks.Completion`): webhooks, the event."""

CRASH_BUDGET = 2
"""Each worker crash costs an attempt; past this many times the retry budget, the image is the suspect."""


def backoff(job_try: int, *, base: float, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (job_try - 1)))


def retry_delay(error: ImagePipeError, job_try: int, settings: Settings) -> float | None:
    """Seconds until the next try of a job that raised ``error`` on try ``job_try``; None to give up."""
    if error.retryable and job_try < settings.max_tries:
        return backoff(job_try, base=settings.retry_base_seconds)
    return None


def delivery_delay(error: ImagePipeError, job_try: int, settings: Settings) -> float | None:
    """Seconds until the next try of a webhook delivery that raised ``error``; None for a dead letter."""
    if error.retryable and job_try < settings.webhook_max_tries:
        return backoff(job_try, base=settings.webhook_retry_base_seconds, cap=600.0)
    return None


def intake_verdict(source: SourceObject, settings: Settings) -> ImagePipeError | None:
    """Why an announced version must be failed without processing it; None to queue it."""
    if source.size is not None and source.size > settings.max_upload_bytes:
        return ImageTooLarge(f"the object has {source.size} bytes; the limit is {settings.max_upload_bytes}")
    return None


def stuck_verdict(record: ImageRecord, settings: Settings) -> ImagePipeError | None:
    """Why a record that stopped moving must be given up rather than queued again; None to queue it."""
    if record.source.version == PENDING_VERSION:
        return UploadMissing("the upload was not received")  # a presigned one, or a POST whose put failed
    if record.attempts >= CRASH_BUDGET * settings.max_tries:
        return WorkerCrashed(f"processing stopped its worker {record.attempts} times; given up")
    return None


async def give_up(
    records: ImageRecords, image_id: str, version: str, error: ImagePipeError, *, ended: Ended | None = None
) -> bool:
    """Record ``error`` as the version's final failure and tell ``ended``; False (and nobody told) when the
    record had moved on."""
    info = ErrorInfo(**error.as_dict())
    failed = await asyncio.to_thread(records.fail, image_id, version, info)
    if failed is None:
        return False
    if ended is not None:
        summary = ImageSummary(image_id=image_id, tenant=failed.tenant, status=Status.FAILED, variants=[], error=info)
        await ended(summary)
    return True
