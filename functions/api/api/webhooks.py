"""Routes under /webhooks: the caller's tenant's completion callbacks, and redelivery of those that ran out of
tries. Registering, deleting and redelivering need ``images:write`` (an endpoint receives every image of the
tenant, signed); listing needs ``images:read``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.auth import ReadPrincipal, WritePrincipal
from api.errors import documented, quoted
from api.services import ServicesDep
from imagepipe.completion import enqueue_delivery
from imagepipe.egress import parse_target, resolve
from imagepipe.errors import NotFound
from imagepipe.webhook_cache import endpoints_changed
from imagepipe.webhooks import Webhook

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    url: str
    """https (http to loopback in local mode); its host must resolve to public addresses only"""


class WebhookCreated(BaseModel):
    webhook_id: str
    url: str
    secret: str
    """signs every delivery (``Imagepipe-Signature``); shown this once"""


class WebhookList(BaseModel):
    items: list[Webhook]


class Redelivered(BaseModel):
    redelivered: int


@router.post("", status_code=201, response_model=WebhookCreated, responses=documented(400, 409, 422))
async def create_webhook(services: ServicesDep, principal: WritePrincipal, request: WebhookRequest) -> WebhookCreated:
    """Register an endpoint for completion callbacks; its signing secret is in this answer only."""
    tenant = principal.tenant
    local = services.settings.local_mode
    await resolve(parse_target(request.url, local=local), local=local)  # the sender checks again every time
    webhook, secret = await run_in_threadpool(services.webhooks.create, tenant, request.url.strip())
    await endpoints_changed(services, tenant)  # the workers' lists of the tenant's endpoints
    return WebhookCreated(webhook_id=webhook.webhook_id, url=webhook.url, secret=secret)


@router.get("", response_model=WebhookList, responses=documented())
async def list_webhooks(services: ServicesDep, principal: ReadPrincipal) -> WebhookList:
    """The tenant's endpoints (never their secrets), each with its count of dead letters."""
    return WebhookList(items=await run_in_threadpool(services.webhooks.listing, principal.tenant))


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=documented(404))
async def delete_webhook(services: ServicesDep, principal: WritePrincipal, webhook_id: str) -> Response:
    """Stop calling an endpoint; its dead letters go with it."""
    if not await run_in_threadpool(services.webhooks.delete, principal.tenant, webhook_id):
        raise NotFound(f"no webhook {quoted(webhook_id)}")
    await endpoints_changed(services, principal.tenant)
    return Response(status_code=204)


@router.post("/{webhook_id}/redeliver", status_code=202, response_model=Redelivered, responses=documented(404))
async def redeliver(services: ServicesDep, principal: WritePrincipal, webhook_id: str) -> Redelivered:
    """Send an endpoint's dead letters again, each with its original body and delivery id."""
    tenant = principal.tenant
    store = services.webhooks
    if await run_in_threadpool(store.endpoint, tenant, webhook_id) is None:
        raise NotFound(f"no webhook {quoted(webhook_id)}")
    pool = await services.queue()
    dead = await run_in_threadpool(store.dead_letters, tenant, webhook_id)
    for letter in dead:
        await enqueue_delivery(
            pool, tenant=tenant, webhook_id=webhook_id, delivery_id=letter.delivery_id, body=letter.body
        )
        await run_in_threadpool(store.forget, tenant, letter)
    return Redelivered(redelivered=len(dead))
