"""The ``deliver_webhook`` task: one signed POST per try, retried with backoff, and a dead letter in the webhooks
table once the tries run out (``POST /webhooks/{id}/redeliver`` sends it again)."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import Retry

from imagepipe.errors import ImagePipeError
from imagepipe.models import ErrorInfo
from imagepipe.records import now
from imagepipe.retries import delivery_delay
from imagepipe.services import Services
from imagepipe.webhooks import DeadDelivery
from observability import logger
from sender import post_signed


async def deliver_webhook(
    ctx: dict[str, Any], *, tenant: str, webhook_id: str, delivery_id: str, body: str
) -> dict[str, Any]:
    """arq task: POST one delivery; Retry on a failure worth another try, a dead letter after the last."""
    services: Services = ctx["imagepipe"].services
    settings, store = services.settings, services.webhooks
    job_try: int = ctx.get("job_try", 1)
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
        where = {"delivery_id": delivery_id, "webhook_id": webhook_id, "job_try": job_try, "error": str(exc)}
        delay = delivery_delay(exc, job_try, settings)
        if delay is not None:
            logger.info("delivery failed, will retry", extra={**where, "delay": delay})
            raise Retry(defer=delay) from exc
        logger.warning("delivery given up: a dead letter", extra=where)
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
