"""arq worker settings, which ``python serve.py`` from this folder runs (with claims.py's worker)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, ClassVar

from arq.connections import ArqRedis, RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, func
from redis.exceptions import RedisError

from delivery import deliver_webhook
from hooks import Completion, image_ended
from imagepipe import jobs, liveness
from imagepipe.completion import DELIVER_WEBHOOK, IMAGE_ENDED
from imagepipe.services import Services
from imagepipe.settings import Settings, get_settings
from imagepipe_engine import Limits, engine, engine_name
from imagepipe_engine.select import warm
from observability import logger
from pipeline import WorkerContext, process_image
from sweeper import sweep


def imaging_executor(settings: Settings) -> Executor:
    """Where the engine runs: never on the event loop."""
    workers = settings.imaging_workers or os.cpu_count() or 1
    if settings.imaging_executor == "thread":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imaging")
    # spawn: forking a process that runs threads (boto3, asyncio) is unsafe
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=warm,
        initargs=(engine_name(settings.engine),),
    )
    for _ in range(workers):  # start them all now, each importing its engine, not one by one under the first jobs
        pool.submit(int)
    return pool


def build_context(settings: Settings, pool: ArqRedis) -> WorkerContext:
    """The process's services over arq's own pool, the engine, an imaging executor, the decoder limits and
    what a final record sets off."""
    name = engine_name(settings.engine)
    services = Services.build(settings, pool)
    return WorkerContext(
        services=services,
        make_executor=lambda: imaging_executor(settings),
        limits=Limits(
            max_pixels=settings.max_pixels,
            max_frames=settings.max_frames,
            max_output_dimension=settings.max_output_dimension,
            max_animation_pixels=settings.max_animation_pixels,
        ),
        engine=name,
        render=engine(name),
        completion=Completion(services),
    )


async def _heartbeat(redis: ArqRedis, member: str, settings: Settings, engine: str) -> None:
    """Beat while the event loop is responsive; a blocked loop stops beating and the worker reads as dead."""
    while True:
        try:
            await liveness.beat(redis, member, settings.heartbeat_ttl_seconds, engine)
        except (RedisError, OSError) as exc:  # a Redis blip must not kill the worker
            logger.warning("heartbeat failed", extra={"error": str(exc)})
        await asyncio.sleep(settings.heartbeat_seconds)


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    wctx = ctx["imagepipe"] = build_context(settings, ctx["redis"])
    ctx["worker_id"] = liveness.worker_id()
    logger.info(f"worker {ctx['worker_id']} started: engine {wctx.engine}", extra={"engine": wctx.engine})
    ctx["heartbeat"] = asyncio.create_task(_heartbeat(ctx["redis"], ctx["worker_id"], settings, wctx.engine))


async def shutdown(ctx: dict[str, Any]) -> None:
    heartbeat: asyncio.Task[None] | None = ctx.get("heartbeat")
    if heartbeat is not None:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(RedisError, OSError):
            await liveness.leave(ctx["redis"], ctx["worker_id"])
    wctx: WorkerContext | None = ctx.get("imagepipe")
    if wctx is not None:
        # jobs still running were cancelled and put back by arq; their pixels are not worth waiting for
        wctx.executor.shutdown(wait=False, cancel_futures=True)


_settings = get_settings()


class WorkerSettings:
    """Read by ``arq``; every value comes from :class:`imagepipe.settings.Settings`."""

    functions: ClassVar[list[Function]] = [
        func(process_image, name=jobs.PROCESS_IMAGE, max_tries=_settings.max_tries),
        func(deliver_webhook, name=DELIVER_WEBHOOK, max_tries=_settings.webhook_max_tries),
        func(image_ended, name=IMAGE_ENDED, max_tries=1),  # it logs its own failures; none is worth a retry
    ]
    cron_jobs: ClassVar[list[CronJob]] = [
        cron(
            sweep,
            name="sweep",
            second=set(range(0, 60, _settings.sweep_every_seconds)),
            microsecond=0,
            timeout=_settings.job_timeout_seconds,  # arq's in-progress expiry follows the longest timeout
            max_tries=1,
        )
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings: ClassVar[RedisSettings] = jobs.redis_settings(_settings)
    queue_name = _settings.queue_name
    job_serializer = staticmethod(jobs.serialize)
    job_deserializer = staticmethod(jobs.deserialize)
    max_jobs = _settings.max_jobs
    poll_delay = _settings.poll_delay_seconds
    job_timeout = _settings.job_timeout_seconds
    keep_result = _settings.keep_result_seconds
    max_tries = _settings.max_tries
    # SIGTERM: stop taking jobs, give running ones this long, then cancel them (arq re-queues them)
    job_completion_wait = _settings.graceful_shutdown_seconds
