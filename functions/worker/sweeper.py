"""Recovery sweep, run by the worker as an arq cron job: nothing accepted may stay unprocessed.

- records left ``queued`` or ``processing`` past ``stuck_after`` whose job is no longer in Redis (Redis lost
  its data, or a job ran out of tries in a crash loop) are queued again, unless
  :func:`imagepipe.retries.stuck_verdict` gives them up (``worker_crashed``, ``upload_missing``);
- objects in the upload bucket that have no record (their S3 event was lost) are announced as an S3
  event would announce them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from imagepipe.announce import Outcome, announce
from imagepipe.keys import image_id_for_object
from imagepipe.models import ImageRecord, Status
from imagepipe.retries import Ended, give_up, stuck_verdict
from imagepipe.services import Services
from observability import logger
from pipeline import WorkerContext


@dataclass
class SweepReport:
    requeued: int = 0
    given_up: int = 0
    orphans: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"requeued": self.requeued, "given_up": self.given_up, "orphans": self.orphans}


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron task: one recovery pass."""
    wctx: WorkerContext = ctx["imagepipe"]
    report = SweepReport()
    await requeue_stuck(wctx.services, report, wctx.completion)
    await adopt_orphans(wctx.services, report, wctx.completion)
    if report.requeued or report.given_up or report.orphans:
        logger.warning("sweep recovered work", extra=report.as_dict())
    return report.as_dict()


async def requeue_stuck(services: Services, report: SweepReport, ended: Ended) -> None:
    settings = services.settings
    cutoff = (datetime.now(UTC) - timedelta(seconds=settings.stuck_after_seconds)).isoformat()
    for status in (Status.QUEUED, Status.PROCESSING):
        stuck = await asyncio.to_thread(services.records.by_status, status, settings.sweep_limit, cutoff)
        for record in stuck:
            await _recover(services, record, report, ended)


async def _recover(services: Services, record: ImageRecord, report: SweepReport, ended: Ended) -> None:
    verdict = stuck_verdict(record, services.settings)
    if verdict is not None:
        if await give_up(services.records, record.image_id, record.source.version, verdict, ended=ended):
            report.given_up += 1
    elif (
        await announce(record.source, services, image_id=record.image_id, tenant=record.tenant, ended=ended)
    ).outcome is Outcome.ENQUEUED:
        report.requeued += 1


async def adopt_orphans(services: Services, report: SweepReport, ended: Ended) -> None:
    settings, store = services.settings, services.store
    bucket = settings.upload_bucket
    # younger objects may still have their S3 event (and its recipe) on the way
    older_than = datetime.now(UTC) - timedelta(seconds=settings.stuck_after_seconds)
    objects = await asyncio.to_thread(
        store.list_objects, bucket, settings.upload_prefix, settings.sweep_limit, older_than
    )
    ids = {image_id_for_object(bucket, key, settings.upload_prefix): key for key in objects}
    known = await asyncio.to_thread(services.records.existing, list(ids))
    for image_id, key in ids.items():
        if image_id in known:
            continue
        source = await asyncio.to_thread(store.head, bucket, key)
        if source is not None and (await announce(source, services, ended=ended)).outcome is Outcome.ENQUEUED:
            report.orphans += 1
