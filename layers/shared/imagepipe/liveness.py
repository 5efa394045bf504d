"""Per-worker heartbeats in Redis. arq's shared health-check key cannot tell how many workers live:
each worker refreshes its own member of one sorted set, scored by the time of its last beat."""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis


WORKERS_KEY = "imagepipe:workers"


def worker_id() -> str:
    """This process's identity: host (the container) and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(redis: Redis, member: str, ttl: float) -> None:
    """Record a beat and forget workers silent for longer than ``ttl``."""
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(WORKERS_KEY, {member: now})
        pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * ttl)
        await pipe.execute()


async def leave(redis: Redis, member: str) -> None:
    await redis.zrem(WORKERS_KEY, member)


async def alive(redis: Redis, ttl: float, host: str | None = None) -> list[str]:
    """Workers whose last beat is younger than ``ttl``; only those on ``host`` when given."""
    members = await redis.zrangebyscore(WORKERS_KEY, time.time() - ttl, "+inf")
    names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    return [n for n in names if host is None or n.rsplit(":", 1)[0] == host]
