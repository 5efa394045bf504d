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
ENGINE_KEY = "imagepipe:worker-engine:{member}"  # what each worker renders with, expiring with its beats


def worker_id() -> str:
    """This process's identity: host (the container) and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(redis: Redis, member: str, ttl: float, engine: str = "") -> None:
    """Record a beat (and the worker's image engine) and forget workers silent for longer than ``ttl``."""
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(WORKERS_KEY, {member: now})
        pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * ttl)
        if engine:
            pipe.set(ENGINE_KEY.format(member=member), engine, px=max(1, int(10 * ttl * 1000)))
        await pipe.execute()


async def leave(redis: Redis, member: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(WORKERS_KEY, member)
        pipe.delete(ENGINE_KEY.format(member=member))
        await pipe.execute()


async def alive(redis: Redis, ttl: float, host: str | None = None) -> list[str]:
    """Workers whose last beat is younger than ``ttl``; only those on ``host`` when given."""
    members = await redis.zrangebyscore(WORKERS_KEY, time.time() - ttl, "+inf")
    names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    return [n for n in names if host is None or n.rsplit(":", 1)[0] == host]


async def engines(redis: Redis, members: list[str]) -> dict[str, str]:
    """The image engine each of ``members`` last reported ('' when it did not say)."""
    if not members:
        return {}
    values = await redis.mget([ENGINE_KEY.format(member=m) for m in members])
    return {m: v.decode() if isinstance(v, bytes) else str(v or "") for m, v in zip(members, values, strict=True)}
