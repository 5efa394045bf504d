"""GET /queue: how much work waits, runs and has been given up on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import AdminPrincipal
from api.errors import documented
from api.services import ServicesDep
from imagepipe import jobs, liveness
from imagepipe.models import Status

router = APIRouter(tags=["operations"])


class QueueStats(BaseModel):
    depth: int
    """jobs waiting in the queue (including retries waiting for their backoff)"""
    in_progress: int
    dead_letters: int
    """images failed for good (permanently, or out of retries): see `make replay`"""
    workers: int
    """workers that sent a heartbeat recently"""
    engines: dict[str, str] = {}
    """the image engine (`vips` or `pillow`) of each of those workers, by worker id (host:pid)"""


@router.get("/queue", response_model=QueueStats, responses=documented())
async def queue_stats(services: ServicesDep, principal: AdminPrincipal) -> QueueStats:
    """Queue depth, jobs in progress, dead letters and live workers."""
    settings = services.settings
    pool = await services.queue()
    depth, running = await jobs.queue_depth(pool, settings.queue_name)
    workers = await liveness.alive(pool, settings.heartbeat_ttl_seconds)
    engines = await liveness.engines(pool, workers)
    dead = await run_in_threadpool(services.records.count, Status.FAILED)
    # arq keeps a running job in the queue until it finishes
    return QueueStats(
        depth=max(0, depth - running), in_progress=running, dead_letters=dead, workers=len(workers), engines=engines
    )
