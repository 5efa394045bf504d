"""What a ``process_image`` job tells the world besides its record: progress while it runs, and once the record
is final, webhooks and an EventBridge event. None of it may fail the image: the record is what counts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from imagepipe.aws import dynamodb_client, events_client
from imagepipe.completion import ImageSummary, announce, event_entry
from imagepipe.progress import JobProgress
from imagepipe.settings import Settings
from imagepipe.webhooks import WebhookStore

log = logging.getLogger("imagepipe.worker")


@lru_cache(maxsize=4)
def webhook_store(table: str) -> WebhookStore:
    """The webhooks table's client, one per process and table name."""
    return WebhookStore(dynamodb_client(), table)


@dataclass
class JobHooks:
    settings: Settings
    redis: ArqRedis
    progress: JobProgress

    @classmethod
    def of(cls, ctx: dict[str, Any], settings: Settings, image_id: str) -> JobHooks:
        redis: ArqRedis = ctx["redis"]
        # a stage cannot outlast the job's time limit; the key lapses then should nobody delete it
        return cls(settings, redis, JobProgress(redis, image_id, ttl=settings.job_timeout_seconds))

    async def ended(self, summary: ImageSummary) -> None:
        """The record is final: drop the progress, queue the webhooks, put the event."""
        try:
            await self.progress.clear()
        except (RedisError, OSError) as exc:
            log.warning("progress of %s not cleared (it lapses): %s", summary.image_id, exc)
        try:
            await announce(self.redis, webhook_store(self.settings.webhooks_table), summary)
        except Exception:
            log.exception("webhooks of %s not queued", summary.image_id)
        if self.settings.event_bus:
            try:
                entry = event_entry(summary, self.settings.event_bus)
                put = await asyncio.to_thread(events_client().put_events, Entries=[entry])
                if put.get("FailedEntryCount"):
                    log.error("ImageProcessed event of %s refused: %s", summary.image_id, put.get("Entries"))
            except Exception:
                log.exception("ImageProcessed event of %s not put", summary.image_id)
