"""Progress of an image while it is processed: one short-lived Redis string per image, written by the worker
(and by its imaging process, variant by variant), read by the API in one round trip. Never DynamoDB: a step
is not worth a write there, and the key is deleted once the record is final."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from redis import Redis as SyncRedis
    from redis.asyncio import Redis

log = logging.getLogger("imagepipe.progress")

T = TypeVar("T")
Stage = Literal["downloading", "decoding", "rendering", "storing"]


class Progress(BaseModel):
    """Where processing is: the stage, and variants rendered (or stored) so far out of the recipe's."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    done: int
    total: int


def progress_key(image_id: str) -> str:
    return f"imagepipe:progress:{image_id}"


async def publish(redis: Redis, image_id: str, progress: Progress, ttl: int) -> None:
    """Set the image's progress; it lapses after ``ttl`` seconds should nobody clear it."""
    await redis.set(progress_key(image_id), progress.model_dump_json(), ex=ttl)


async def read_progress(redis: Redis, image_id: str) -> Progress | None:
    """The image's progress, if one is kept (one GET)."""
    raw = await redis.get(progress_key(image_id))
    if raw is None:
        return None
    try:
        return Progress.model_validate_json(raw)
    except ValidationError:
        return None  # a value written by another version of the code: no progress beats a wrong one


async def clear(redis: Redis, image_id: str) -> None:
    await redis.delete(progress_key(image_id))


@dataclass(frozen=True)
class RenderProgress:
    """A picklable callable the imaging process calls after each step: it writes the progress to Redis itself,
    synchronously, so each step lands before ``render`` returns and the worker never waits on a channel.
    Progress is best effort: a Redis error is logged and the render goes on."""

    image_id: str
    ttl: int

    def __call__(self, stage: str, done: int, total: int) -> None:
        value = Progress.model_validate({"stage": stage, "done": done, "total": total}).model_dump_json()
        try:
            _process_redis().set(progress_key(self.image_id), value, ex=self.ttl)
        except Exception as exc:  # any failure here must not fail the image
            log.warning("progress of %s not reported: %s", self.image_id, exc)


@lru_cache(maxsize=1)
def _process_redis() -> SyncRedis:
    """One blocking Redis client per imaging process, from the same settings as the worker's pool."""
    from redis import Redis as SyncRedis

    from imagepipe.jobs import redis_settings
    from imagepipe.settings import get_settings

    rs = redis_settings(get_settings())
    return SyncRedis(
        host=str(rs.host),  # one host: the primary endpoint
        port=rs.port,
        db=rs.database,
        username=rs.username,
        password=rs.password,
        ssl=rs.ssl,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
    )


@dataclass
class JobProgress:
    """The worker's side for one job: stages it sets itself, and the callable it hands to the imaging process."""

    redis: Redis
    image_id: str
    ttl: int
    total: int = 0

    async def stage(self, stage: Stage, done: int = 0) -> None:
        """Best effort, like the imaging process's reports: a Redis blip must not fail the image."""
        from redis.exceptions import RedisError

        try:
            await publish(self.redis, self.image_id, Progress(stage=stage, done=done, total=self.total), self.ttl)
        except (RedisError, OSError) as exc:
            log.warning("progress of %s not reported: %s", self.image_id, exc)

    async def storing(self, steps: Sequence[Awaitable[T]]) -> list[T]:
        """Run the uploads of the variants together, counting each one done."""
        stored = 0

        async def step(upload: Awaitable[T]) -> T:
            nonlocal stored
            result = await upload
            stored += 1
            await self.stage("storing", stored)
            return result

        await self.stage("storing", 0)
        return list(await asyncio.gather(*(step(s) for s in steps)))

    def for_render(self) -> RenderProgress:
        return RenderProgress(self.image_id, self.ttl)

    async def clear(self) -> None:
        await clear(self.redis, self.image_id)
