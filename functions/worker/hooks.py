"""What a final record sets off besides itself: its progress cleared, a webhook delivery queued per endpoint,
and an EventBridge event. None of it may undo the image: the record is what counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from imagepipe import progress
from imagepipe.aws import events_client
from imagepipe.completion import ImageSummary, announce, event_entry
from imagepipe.services import Services
from observability import logger


@dataclass
class Completion:
    """Called once per image that reached a final state (after ``records.succeed`` or ``records.fail``
    returned True): by the pipeline, and through :func:`imagepipe.retries.give_up` by every give-up."""

    services: Services

    async def __call__(self, summary: ImageSummary) -> None:
        image, settings = {"image_id": summary.image_id}, self.services.settings
        try:
            await progress.clear(await self.services.queue(), summary.image_id)
        except (RedisError, OSError) as exc:
            logger.warning("progress not cleared (it lapses)", extra={**image, "error": str(exc)})
        try:
            await announce(await self.services.queue(), self.services.webhooks, summary)
        except Exception:
            logger.exception("webhooks not queued", extra=image)
        if settings.event_bus:
            try:
                entry = event_entry(summary, settings.event_bus)
                put = await asyncio.to_thread(events_client().put_events, Entries=[entry])
                if put.get("FailedEntryCount"):
                    logger.error("ImageProcessed event refused", extra={**image, "entries": put.get("Entries")})
            except Exception:
                logger.exception("ImageProcessed event not put", extra=image)


async def image_ended(ctx: dict[str, Any], *, summary: dict[str, Any]) -> None:
    """arq task: what an image that ended at the API's or trigger's intake sets off (``too_large``)."""
    completion: Completion = ctx["imagepipe"].completion
    await completion(ImageSummary.model_validate(summary))
