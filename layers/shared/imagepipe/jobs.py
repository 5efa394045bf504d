"""The job contract shared by every producer and the worker: msgpack payloads, deterministic ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack

if TYPE_CHECKING:
    from arq.connections import ArqRedis, RedisSettings

    from imagepipe.models import ImageRecord, Recipe
    from imagepipe.settings import Settings

# arq and the Redis client load on first use, not at import: the API and the trigger's cold start pay for
# them only when a request needs the queue.

PROCESS_IMAGE = "process_image"


def serialize(payload: dict[str, Any]) -> bytes:
    """arq job serializer: msgpack, never pickle."""
    return msgpack.packb(payload, use_bin_type=True, datetime=False)  # type: ignore[no-any-return]


def deserialize(data: bytes) -> dict[str, Any]:
    """arq job deserializer, the inverse of :func:`serialize`."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)  # type: ignore[no-any-return]


def job_id(image_id: str, version: str) -> str:
    """One id per object version: however often a version is announced, it is queued once."""
    return f"{PROCESS_IMAGE}:{image_id}:{version}"


def redis_settings(settings: Settings) -> RedisSettings:
    """Connection settings from the URL, with the auth token from the environment or Secrets Manager."""
    from arq.connections import RedisSettings
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    result = RedisSettings.from_dsn(settings.redis_url)
    # ride out a Redis blip (restart, failover) instead of crashing the worker: every command retries
    result.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    result.retry = Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=settings.redis_retries)
    if settings.redis_password is not None:
        result.password = settings.redis_password.get_secret_value()
    elif settings.redis_auth_secret_arn:
        result.password = _secret(settings.redis_auth_secret_arn)
    return result


def _secret(arn: str) -> str:
    import boto3  # only deployed functions read the token this way, once per cold start

    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


async def connect(settings: Settings) -> ArqRedis:
    """An arq pool that speaks the msgpack job contract."""
    from arq.connections import create_pool

    return await create_pool(
        redis_settings(settings),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )


async def enqueue_processing(
    pool: ArqRedis,
    *,
    image_id: str,
    bucket: str,
    key: str,
    version: str,
    recipe: Recipe,
    tenant: str | None = None,
    correlation_id: str | None = None,
) -> bool:
    """Queue ``process_image`` for one object version of ``tenant``'s record; True when newly queued, False
    when the same version is already queued, running or recently done (arq refuses a job id it still knows)."""
    payload: dict[str, Any] = {
        "image_id": image_id,
        "bucket": bucket,
        "key": key,
        "version": version,
        "recipe": recipe.model_dump(mode="json"),
    }
    # optional: workers take a payload with or without them, and ignore optional keywords they do not know yet
    # (workers from before `tenant` refuse it: docs/deploy.md)
    if tenant is not None:
        payload["tenant"] = tenant
    if correlation_id:
        payload["correlation_id"] = correlation_id
    job = await pool.enqueue_job(PROCESS_IMAGE, _job_id=job_id(image_id, version), **payload)
    return job is not None


async def enqueue_record(pool: ArqRedis, record: ImageRecord, correlation_id: str | None = None) -> bool:
    """Queue the version and recipe a record tracks unless its job is queued or running now (a kept
    result of an earlier run, which would make arq refuse the id, is forgotten); True when queued."""
    from arq.jobs import Job, JobStatus

    source = record.source
    jid = job_id(record.image_id, source.version)
    status = await Job(jid, pool, _queue_name=pool.default_queue_name).status()
    if status in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
        return False
    if status is JobStatus.complete:
        await pool.delete(_result_key(jid))
    return await enqueue_processing(
        pool,
        image_id=record.image_id,
        bucket=source.bucket,
        key=source.key,
        version=source.version,
        recipe=record.recipe,
        tenant=record.tenant,
        correlation_id=correlation_id,
    )


def _result_key(jid: str) -> str:
    # arq has no public way to forget a kept result, which makes enqueue_job refuse the id
    from arq.constants import result_key_prefix

    return result_key_prefix + jid


async def queue_depth(pool: ArqRedis, queue_name: str) -> tuple[int, int]:
    """(jobs in the queue, jobs running now). arq keeps a running job in the queue until it ends; it also keeps
    a finished cron job's (the sweep's) in-progress key for a while, so that no other worker runs it again that
    minute: only an in-progress key whose job is still queued counts as running."""
    # arq has no public count of running jobs (only Job(id).status() one id at a time)
    from arq.constants import in_progress_key_prefix

    depth = await pool.zcard(queue_name)
    held = [key async for key in pool.scan_iter(match=f"{in_progress_key_prefix}*", count=1000)]
    if not held:
        return int(depth), 0
    async with pool.pipeline(transaction=False) as pipe:  # one round trip: at most max_jobs per worker
        for key in held:
            name = key.decode() if isinstance(key, bytes) else key
            pipe.zscore(queue_name, name.removeprefix(in_progress_key_prefix))
        scores = await pipe.execute()
    return int(depth), sum(score is not None for score in scores)
