"""Recovery sweep, run by the worker as an arq cron job: nothing accepted may stay unprocessed.

- records left ``queued`` or ``processing`` past ``stuck_after`` whose job is no longer in Redis (Redis lost
  its data, or a job ran out of tries in a crash loop) are queued again;
- a record that keeps crashing its worker is failed (``worker_crashed``) rather than retried forever, and
  a presigned upload that never arrived is failed (``upload_missing``);
- objects in the upload bucket that have no record (their S3 event was lost) get one and are queued.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis

from imagepipe import jobs
from imagepipe.announce import Outcome, announce
from imagepipe.keys import image_id_for_object
from imagepipe.models import ErrorInfo, ImageRecord, SourceObject, Status
from imagepipe.records import PENDING_VERSION, ImageRecords
from imagepipe.settings import Settings
from imagepipe.storage import ImageStore
from pipeline import WorkerContext

log = logging.getLogger("imagepipe.sweeper")


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
    await requeue_stuck(ctx["redis"], wctx.records, wctx.settings, report)
    await adopt_orphans(ctx["redis"], wctx.records, wctx.store, wctx.settings, report)
    if report.requeued or report.given_up or report.orphans:
        log.warning("sweep recovered work: %s", report.as_dict())
    return report.as_dict()


async def requeue_stuck(pool: ArqRedis, records: ImageRecords, settings: Settings, report: SweepReport) -> None:
    cutoff = (datetime.now(UTC) - timedelta(seconds=settings.stuck_after_seconds)).isoformat()
    for status in (Status.QUEUED, Status.PROCESSING):
        stuck = await asyncio.to_thread(records.by_status, status, settings.sweep_limit, cutoff)
        for record in stuck:
            await _recover(pool, records, settings, record, report)


async def _recover(
    pool: ArqRedis, records: ImageRecords, settings: Settings, record: ImageRecord, report: SweepReport
) -> None:
    source = record.source
    if source.version == PENDING_VERSION:
        # a presigned upload that never arrived (if it still does, its S3 event revives the record)
        error = ErrorInfo(code="upload_missing", message="the presigned upload was not received")
        if await asyncio.to_thread(records.refuse, record.image_id, source.version, error):
            report.given_up += 1
        return
    # each worker crash costs one attempt; past twice the retry budget the image itself is the suspect
    if record.attempts >= 2 * settings.max_tries:
        error = ErrorInfo(
            code="worker_crashed", message=f"processing stopped its worker {record.attempts} times; given up"
        )
        if await asyncio.to_thread(records.refuse, record.image_id, source.version, error):
            report.given_up += 1
        return
    if await jobs.enqueue_again(pool, record):
        report.requeued += 1


async def adopt_orphans(
    pool: ArqRedis, records: ImageRecords, store: ImageStore, settings: Settings, report: SweepReport
) -> None:
    bucket = settings.upload_bucket
    # younger objects may still have their S3 event (and its recipe) on the way
    older_than = datetime.now(UTC) - timedelta(seconds=settings.stuck_after_seconds)
    objects = await asyncio.to_thread(
        store.list_objects, bucket, settings.upload_prefix, settings.sweep_limit, older_than
    )
    ids = {image_id_for_object(bucket, key, settings.upload_prefix): key for key in objects}
    known = await asyncio.to_thread(records.existing, list(ids))
    for image_id, key in ids.items():
        if image_id in known:
            continue
        head = await asyncio.to_thread(store.head, bucket, key)
        if head is None:
            continue
        source = SourceObject(
            bucket=bucket, key=key, version=head["version"], size=head["size"], content_type=head["content_type"]
        )
        # the path an S3 event takes: registration by version, the size limit, one job
        if (await announce(source, settings, records, pool)).outcome is Outcome.ENQUEUED:
            report.orphans += 1
