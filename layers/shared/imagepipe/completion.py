"""When an image ends (succeeded or failed): one ``deliver_webhook`` job per endpoint of its tenant, and an
``ImageProcessed`` event on EventBridge when a bus is configured. The worker does both (functions/worker/hooks.py);
an intake that ends an image elsewhere (the API's, the trigger's) queues an ``image_ended`` job for it."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from imagepipe.models import ErrorInfo, Status, VariantOutput
from imagepipe.records import now

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

    from imagepipe.webhooks import WebhookStore

DELIVER_WEBHOOK = "deliver_webhook"
IMAGE_ENDED = "image_ended"
EVENT_SOURCE = "imagepipe"
EVENT_DETAIL_TYPE = "ImageProcessed"


class ImageSummary(BaseModel):
    """What a webhook and an event say about an image that ended."""

    model_config = ConfigDict(defer_build=True)

    image_id: str
    status: Status
    variants: list[VariantOutput]
    error: ErrorInfo | None = None
    tenant: str


def delivery_body(summary: ImageSummary, delivery_id: str) -> str:
    """The JSON a receiver gets; fixed once, so every try and a redelivery send the same bytes."""
    event = {
        "type": "image.processed",
        "delivery_id": delivery_id,
        "created_at": now(),
        **summary.model_dump(mode="json", exclude={"tenant"}),
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


async def enqueue_delivery(pool: ArqRedis, *, tenant: str, webhook_id: str, delivery_id: str, body: str) -> None:
    await pool.enqueue_job(DELIVER_WEBHOOK, tenant=tenant, webhook_id=webhook_id, delivery_id=delivery_id, body=body)


async def enqueue_ended(pool: ArqRedis, summary: ImageSummary) -> None:
    """Have the worker tell the world of ``summary``: for processes without webhook or event access."""
    await pool.enqueue_job(IMAGE_ENDED, summary=summary.model_dump(mode="json"))


async def announce(pool: ArqRedis, store: WebhookStore, summary: ImageSummary) -> int:
    """Queue one delivery per endpoint of the image's tenant; the number queued."""
    from imagepipe.webhook_cache import endpoint_ids  # the worker's: the API's and trigger's cold starts skip it

    endpoints = await endpoint_ids(pool, store, summary.tenant)
    for webhook_id in endpoints:
        delivery_id = "dl_" + secrets.token_hex(12)
        body = delivery_body(summary, delivery_id)
        await enqueue_delivery(pool, tenant=summary.tenant, webhook_id=webhook_id, delivery_id=delivery_id, body=body)
    return len(endpoints)


def event_entry(summary: ImageSummary, bus: str) -> PutEventsRequestEntryTypeDef:
    """One ``PutEvents`` entry: source ``imagepipe``, detail type ``ImageProcessed``."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": summary.model_dump_json(),
        "EventBusName": bus,
    }
