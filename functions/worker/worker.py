"""arq worker settings: ``arq worker.WorkerSettings`` from this folder."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.worker import Function, func
from pipeline import WorkerContext, process_image

import imaging
from imagepipe import jobs
from imagepipe.aws import dynamodb_client, s3_client
from imagepipe.records import ImageRecords
from imagepipe.settings import Settings, get_settings
from imagepipe.storage import ImageStore

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")


def imaging_executor(settings: Settings) -> Executor:
    """Where Pillow runs: never on the event loop."""
    workers = settings.imaging_workers or os.cpu_count() or 1
    if settings.imaging_executor == "thread":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imaging")
    # spawn: forking a process that runs threads (boto3, asyncio) is unsafe
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def build_context(settings: Settings) -> WorkerContext:
    return WorkerContext(
        settings=settings,
        store=ImageStore(s3_client()),
        records=ImageRecords(dynamodb_client(), settings.table_name),
        executor=imaging_executor(settings),
        limits=imaging.Limits(
            max_pixels=settings.max_pixels,
            max_frames=settings.max_frames,
            max_output_dimension=settings.max_output_dimension,
        ),
    )


async def startup(ctx: dict[str, Any]) -> None:
    ctx["imagepipe"] = build_context(get_settings())


async def shutdown(ctx: dict[str, Any]) -> None:
    wctx: WorkerContext | None = ctx.get("imagepipe")
    if wctx is not None:
        wctx.executor.shutdown(wait=True, cancel_futures=True)


_settings = get_settings()


class WorkerSettings:
    """Read by ``arq``; every value comes from :class:`imagepipe.settings.Settings`."""

    functions: ClassVar[list[Function]] = [
        func(process_image, name=jobs.PROCESS_IMAGE, max_tries=_settings.max_tries)  # type: ignore[arg-type]
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
