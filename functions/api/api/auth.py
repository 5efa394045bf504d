"""Who is calling: the API key of a request, checked against the keys table, its scopes and its rate.

With ``IMAGEPIPE_JWT_TENANT_CLAIM`` set, a request that came through the HTTP API's JWT authorizer (API Gateway
verified the token; its claims are in the Lambda event Mangum hands over as ``scope["aws.event"]``) is the
tenant its claim names, with ``images:read`` and ``images:write``; no key is needed then. Nothing a client
sends can set ``aws.event``: uvicorn never does, and Mangum sets it from the event API Gateway made.

Routes name what they need once: ``principal: ReadPrincipal`` (images:read), ``WritePrincipal``
(images:write) or ``AdminPrincipal`` (admin); each yields the caller's :class:`Principal`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from api.errors import domain_error
from api.services import Services, ServicesDep, get_services
from imagepipe import ratelimit
from imagepipe.apikeys import ApiKey, Scope
from imagepipe.errors import Forbidden, ImagePipeError, RateLimited, Unauthorized
from imagepipe.keys import is_tenant

log = logging.getLogger("imagepipe.api")

# How long a request waits for the rate counter before going on without it (Redis down: fail open).
RATE_CHECK_TIMEOUT_SECONDS = 1.0

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key in `X-API-Key`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
HeaderDep = Annotated[str | None, Depends(_header)]


@dataclass(frozen=True)
class Principal:
    """The caller, as routes see it."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]

    @classmethod
    def of(cls, key: ApiKey) -> Principal:
        return cls(key_id=key.key_id, tenant=key.tenant, scopes=frozenset(key.scopes))

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


JWT_SCOPES = frozenset({Scope.IMAGES_READ, Scope.IMAGES_WRITE})


def jwt_principal(scope: AsgiScope, claim: str) -> Principal | None:
    """The tenant the JWT authorizer's verified claims name (``claim``), when ``claim`` is set and the
    request came through the authorizer; None otherwise. A claim that is not a tenant name is 401."""
    if not claim:
        return None
    event: Any = scope.get("aws.event")
    claims: Any = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims") if event else None
    if not isinstance(claims, dict) or claim not in claims:
        return None
    tenant = claims[claim]
    if not isinstance(tenant, str) or not is_tenant(tenant):
        raise Unauthorized(f"the token's {claim!r} claim is not a tenant name")
    subject = claims.get("sub")
    return Principal(key_id=f"jwt:{tenant}:{subject}", tenant=tenant, scopes=JWT_SCOPES)


async def _principal(
    services: Services, scope: AsgiScope, bearer: HTTPAuthorizationCredentials | None, header: str | None
) -> Principal:
    """The holder of the key in ``X-API-Key``, else the JWT authorizer's tenant, else the bearer key's holder.
    (Behind the authorizer ``Authorization`` carries the token, so a key, an admin's say, goes in ``X-API-Key``.)"""
    if not header and (principal := jwt_principal(scope, services.settings.jwt_tenant_claim)):
        return principal
    return Principal.of(await _identify(services, bearer, header))


async def _identify(services: Services, bearer: HTTPAuthorizationCredentials | None, header: str | None) -> ApiKey:
    presented = header or (bearer.credentials if bearer else None)  # X-API-Key wins, as behind the authorizer
    if not presented:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    key = await run_in_threadpool(services.keys.verify, presented, local_mode=services.settings.local_mode)
    if key is None:
        raise Unauthorized("the API key is unknown or revoked")
    return key


async def _count(services: Services, key_id: str) -> None:
    """Count the request against the key's rate; 429 over it. Fails open when Redis does not answer."""
    limit = services.settings.rate_limit_per_minute
    try:
        async with asyncio.timeout(RATE_CHECK_TIMEOUT_SECONDS):
            wait = await ratelimit.over_limit(await services.queue(), key_id, limit)
    except Exception as exc:  # Redis down or slow: the limit is skipped, never the request
        log.warning("rate limit not checked: %s: %s", type(exc).__name__, exc)
        return
    if wait is not None:
        raise RateLimited(f"more than {limit} requests per minute with this key; retry in {wait} s", wait)


class KeyBeforeBody:
    """A request with a body shows a valid key before a byte of the body is read (FastAPI reads a body
    before it solves dependencies). No open route takes a body. Pure ASGI, like the other middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_body(scope):
            request = Request(scope)  # its headers only
            try:
                principal = await _principal(get_services(), scope, await _bearer(request), await _header(request))
            except ImagePipeError as exc:
                await domain_error(exc)(scope, receive, send)
                return
            scope.setdefault("state", {})[_VERIFIED] = principal
        await self.app(scope, receive, send)


_VERIFIED = "imagepipe.api_key"


def _has_body(scope: AsgiScope) -> bool:
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


async def authenticate(request: Request, services: ServicesDep, bearer: BearerDep, header: HeaderDep) -> Principal:
    """The caller's principal; 401 without a valid key, 429 over its rate."""
    verified: Principal | None = request.scope.get("state", {}).get(_VERIFIED)
    principal = verified or await _principal(services, request.scope, bearer, header)
    await _count(services, principal.key_id)
    return principal


async def admin_or_none(services: ServicesDep, bearer: BearerDep, header: HeaderDep) -> Principal | None:
    """The caller when it presents a valid admin key, else None: for routes open to everyone."""
    if not (bearer or header):
        return None
    try:
        principal = Principal.of(await _identify(services, bearer, header))
    except Unauthorized:
        return None
    return principal if principal.allows(Scope.ADMIN) else None


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller's principal if it holds ``scope``, else 403."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.allows(scope):
            raise Forbidden(f"this key lacks the scope {scope.value!r}")
        return principal

    return check


ReadPrincipal = Annotated[Principal, Depends(require(Scope.IMAGES_READ))]
WritePrincipal = Annotated[Principal, Depends(require(Scope.IMAGES_WRITE))]
AdminPrincipal = Annotated[Principal, Depends(require(Scope.ADMIN))]
OptionalAdmin = Annotated[Principal | None, Depends(admin_or_none)]
