"""GET /healthz: can this process reach Redis, S3 and DynamoDB, and is any worker alive?"""

from __future__ import annotations

import asyncio

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import OptionalAdmin
from api.services import Services, ServicesDep
from imagepipe import liveness

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, str] | None = None
    """which dependency fails, and how: shown to admin keys only"""


async def _redis(services: Services) -> dict[str, str]:
    try:
        pool = await services.queue()
        await asyncio.wait_for(pool.ping(), timeout=2)
        workers = await liveness.alive(pool, services.settings.heartbeat_ttl_seconds)
    except Exception as exc:  # any failure means unhealthy; the message says which
        return {"redis": f"error: {type(exc).__name__}: {exc}", "workers": "error: unknown (no Redis)"}
    return {"redis": "ok", "workers": f"ok: {len(workers)} alive" if workers else "error: no worker alive"}


def _aws(services: Services) -> dict[str, str]:
    checks = {}
    settings = services.settings
    for name, bucket in (("s3_uploads", settings.upload_bucket), ("s3_outputs", settings.output_bucket)):
        checks[name] = "ok" if services.store.reachable(bucket) else f"error: bucket {bucket} unreachable"
    try:
        services.records.describe()
        checks["dynamodb"] = "ok"
    except (ClientError, BotoCoreError) as exc:
        checks["dynamodb"] = f"error: {exc}"
    return checks


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(services: ServicesDep, admin: OptionalAdmin) -> JSONResponse:
    """200 when every dependency answers, else 503; with an admin key, the checks say which fails."""
    checks = {**await _redis(services), **await run_in_threadpool(_aws, services)}
    healthy = all(v.startswith("ok") for v in checks.values())
    body = Health(status="ok" if healthy else "unavailable", checks=checks if admin else None)
    return JSONResponse(status_code=200 if healthy else 503, content=body.model_dump(exclude_none=True))
