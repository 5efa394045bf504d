"""Routes under /keys (admin): make a key, list keys, revoke one."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import AdminPrincipal
from api.errors import documented, quoted
from api.services import ServicesDep
from imagepipe.apikeys import ApiKey, Scope, Tenant
from imagepipe.errors import NotFound

router = APIRouter(prefix="/keys", tags=["keys"])


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    tenant: Tenant
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    name: str | None = Field(default=None, max_length=100)


class NewKey(BaseModel):
    """The key's secret is in ``key``: shown this once, stored only as a hash."""

    key_id: str
    key: str
    tenant: str
    scopes: list[Scope]
    name: str | None


class KeyList(BaseModel):
    items: list[ApiKey]


@router.post("", status_code=201, response_model=NewKey, responses=documented(400, 422))
async def create_key(services: ServicesDep, principal: AdminPrincipal, request: KeyRequest) -> NewKey:
    """Make a key for a tenant; the answer is the only time its secret is shown."""
    issued = await run_in_threadpool(services.keys.create, request.tenant, request.scopes, request.name)
    return NewKey(key_id=issued.key_id, key=issued.key, tenant=issued.tenant, scopes=issued.scopes, name=issued.name)


@router.get("", response_model=KeyList, responses=documented(422))
async def list_keys(services: ServicesDep, principal: AdminPrincipal) -> KeyList:
    """Every key, revoked ones too, without secrets."""
    return KeyList(items=await run_in_threadpool(services.keys.list))


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=documented(404, 422))
async def revoke_key(services: ServicesDep, principal: AdminPrincipal, key_id: str) -> Response:
    """Revoke a key: the next request with it is refused."""
    if await run_in_threadpool(services.keys.revoke, key_id) is None:
        raise NotFound(f"no key {quoted(key_id)}")
    return Response(status_code=204)
