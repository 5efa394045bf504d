"""The ``deliver_webhook`` task: one signed POST per try, retried with backoff, and a dead letter in the webhooks
table once the tries run out (``POST /webhooks/{id}/redeliver`` sends it again)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import Retry

from hooks import webhook_store
from imagepipe.errors import ImagePipeError
from imagepipe.models import ErrorInfo
from imagepipe.records import now
from imagepipe.settings import get_settings
from imagepipe.webhooks import DeadDelivery
from pipeline import backoff
from sender import post_signed

log = logging.getLogger("imagepipe.webhooks")


async def deliver_webhook(
    ctx: dict[str, Any], *, tenant: str, webhook_id: str, delivery_id: str, body: str
) -> dict[str, Any]:
    """arq task: POST one delivery; Retry on a failure worth another try, a dead letter after the last."""
    settings = get_settings()
    job_try: int = ctx.get("job_try", 1)
    store = webhook_store(settings.webhooks_table)
    endpoint = await asyncio.to_thread(store.endpoint, tenant, webhook_id)
    if endpoint is None:  # deleted since: nobody to tell
        return {"delivery_id": delivery_id, "status": "dropped"}
    try:
        status = await post_signed(
            endpoint.url,
            body,
            secret=endpoint.secret,
            delivery_id=delivery_id,
            timeout_seconds=settings.webhook_timeout_seconds,
            local=settings.local_mode,
        )
    except ImagePipeError as exc:
        if exc.retryable and job_try < settings.webhook_max_tries:
            delay = backoff(job_try, base=settings.webhook_retry_base_seconds, cap=600.0)
            log.info(
                "delivery %s to %s failed (try %d), again in %.1fs: %s", delivery_id, webhook_id, job_try, delay, exc
            )
            raise Retry(defer=delay) from exc
        log.warning("delivery %s to %s given up after %d tries: %s", delivery_id, webhook_id, job_try, exc)
        dead = DeadDelivery(
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            body=body,
            error=ErrorInfo(code=exc.code, message=exc.message),
            attempts=job_try,
            failed_at=now(),
        )
        await asyncio.to_thread(store.bury, tenant, dead)
        return {"delivery_id": delivery_id, "status": "dead", "code": exc.code}
    return {"delivery_id": delivery_id, "status": "delivered", "http_status": status}
