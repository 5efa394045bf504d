"""The ``process_image`` task: fetch, render off the event loop, store, record. A failure's fate (retry
or give up) is asked of :mod:`imagepipe.retries`, the one place it is decided."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from arq import Retry
from aws_lambda_powertools.metrics import MetricUnit

from hooks import Completion
from imagepipe.completion import ImageSummary
from imagepipe.errors import ImagePipeError, InternalError, ProcessingTimeout, TransientError
from imagepipe.jobs import job_id
from imagepipe.keys import output_key
from imagepipe.models import Status, VariantOutput
from imagepipe.progress import JobProgress
from imagepipe.recipes import parse_recipe
from imagepipe.records import StartOutcome
from imagepipe.retries import give_up, retry_delay
from imagepipe.services import Services
from imagepipe_engine import EngineName, Limits, Render, RenderedVariant
from observability import JobTelemetry

T = TypeVar("T")


@dataclass
class WorkerContext:
    """What every job of this worker process shares, built once at start-up."""

    services: Services
    make_executor: Callable[[], Executor]
    limits: Limits
    engine: EngineName
    render: Render
    completion: Completion
    """what a final record sets off: progress cleared, webhooks queued, the ImageProcessed event put"""
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = self.make_executor()

    def renew_executor(self, broken: Executor) -> None:
        """A pool whose process died (the kernel's OOM killer, a codec crash) takes no more work."""
        if self.executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self.executor = self.make_executor()


async def process_image(
    ctx: dict[str, Any],
    *,
    image_id: str,
    bucket: str,
    key: str,
    version: str,
    recipe: dict[str, Any],
    correlation_id: str | None = None,
    tenant: str | None = None,
    **later: Any,
) -> dict[str, Any]:
    """arq task: one object version in, its variants and a ``succeeded`` or ``failed`` record out (or
    nothing, when the record no longer tracks this version, already finished it, or is another tenant's).
    Optional, newer producers send them: ``correlation_id`` ties the job's logs to the request or event;
    ``tenant``, the record's, spares the record's start from sending the record back (records.start). Keywords
    this worker does not know yet (``later``: a newer producer's optional ones) are logged and ignored, so that a
    producer deployed before the workers loses no job."""
    wctx: WorkerContext = ctx["imagepipe"]
    settings = wctx.services.settings
    job_try: int = ctx.get("job_try", 1)
    jid = ctx.get("job_id") or job_id(image_id, version)
    telemetry = JobTelemetry(image_id, jid, correlation_id or jid, wctx.engine)
    if later:
        telemetry.info("job keywords ignored", keywords=sorted(later))
    # a stage cannot outlast the job's time limit; the key lapses then should nobody clear it
    progress = JobProgress(ctx["redis"], image_id, ttl=settings.job_timeout_seconds)
    # Our own limit, inside arq's: a job arq times out would leave its record in `processing`.
    limit = settings.job_timeout_seconds * 0.9
    try:
        try:
            async with asyncio.timeout(limit):
                return await _process(wctx, telemetry, progress, bucket, key, version, recipe, tenant)
        except TimeoutError as exc:
            raise ProcessingTimeout(f"processing took longer than {limit:.0f}s") from exc
        except ImagePipeError:
            raise
        except Exception as exc:
            telemetry.exception("unexpected failure")
            raise InternalError(f"{type(exc).__name__}: {exc}") from exc
    except ImagePipeError as exc:
        delay = retry_delay(exc, job_try, settings)
        if delay is not None:
            telemetry.warning("failed, will retry", code=exc.code, error=exc.message, job_try=job_try, delay=delay)
            telemetry.count("Retries")
            raise Retry(defer=delay) from exc
        telemetry.warning("failed", code=exc.code, error=exc.message, job_try=job_try)
        telemetry.failed(exc.code)
        await give_up(wctx.services.records, image_id, version, exc, ended=wctx.completion)
        return {"image_id": image_id, "status": "failed", "code": exc.code}
    finally:
        telemetry.flush()


async def _process(
    wctx: WorkerContext,
    telemetry: JobTelemetry,
    progress: JobProgress,
    bucket: str,
    key: str,
    version: str,
    raw_recipe: dict[str, Any],
    job_tenant: str | None,
) -> dict[str, Any]:
    services, image_id = wctx.services, telemetry.image_id
    settings = services.settings
    # The original is fetched while the record's start is written, not after it: every job saves the write's
    # round trip, and a job the start skips wastes one GET, its bytes dropped.
    fetch = _in_background(_fetch_original(services, bucket, key, version))
    try:
        if job_tenant is None or isinstance(job_tenant, str):  # payloads are data too
            outcome, tenant = await asyncio.to_thread(services.records.start, image_id, version, job_tenant)
        else:
            outcome, tenant = StartOutcome.FOREIGN, None
        if outcome is not StartOutcome.STARTED or tenant is None:
            say = telemetry.warning if outcome is StartOutcome.FOREIGN else telemetry.info
            say("skipped", version=version, reason=outcome.value)
            return {"image_id": image_id, "status": "skipped", "reason": outcome.value}
        recipe = parse_recipe(raw_recipe, settings)  # payloads are data too: validated like any input
        progress.total = len(recipe.variants)
        await progress.stage("downloading")
        data, download_ms = await fetch
    finally:
        fetch.cancel()  # nothing once it has finished; its failure, unless the job started, is no one's
    telemetry.took("download", download_ms)
    telemetry.count("BytesIn", len(data), MetricUnit.Bytes)
    loop = asyncio.get_running_loop()
    executor = wctx.executor
    try:
        with telemetry.stage("render"):
            rendered = await loop.run_in_executor(
                executor, wctx.render, data, recipe, wctx.limits, progress.for_render()
            )
    except BrokenExecutor as exc:
        wctx.renew_executor(executor)
        raise TransientError("the imaging process died while rendering; a new one will retry") from exc
    del data
    with telemetry.stage("store"):
        outputs = await progress.storing([_store_variant(services, tenant, image_id, v) for v in rendered.variants])
        stored = await asyncio.to_thread(services.records.succeed, image_id, version, list(outputs), rendered.metadata)
    telemetry.count("BytesOut", sum(o.bytes for o in outputs), MetricUnit.Bytes)
    if not stored:
        if await asyncio.to_thread(services.records.get, image_id) is None:  # deleted meanwhile: so are these
            bucket = services.settings.output_bucket
            await asyncio.gather(*(asyncio.to_thread(services.store.delete, bucket, o.key) for o in outputs))
            telemetry.info("image deleted while this version was processed", version=version)
            return {"image_id": image_id, "status": "skipped", "reason": "deleted"}
        telemetry.info("record moved on while this version was processed", version=version)
        return {"image_id": image_id, "status": "skipped", "reason": "superseded"}
    telemetry.info("processed", variants=[o.name for o in outputs])
    await wctx.completion(ImageSummary(image_id=image_id, tenant=tenant, status=Status.SUCCEEDED, variants=outputs))
    return {"image_id": image_id, "status": "succeeded", "variants": [o.name for o in outputs]}


async def _fetch_original(services: Services, bucket: str, key: str, version: str) -> tuple[bytes, float]:
    """The original's bytes, and the milliseconds fetching them took."""
    started = time.perf_counter()
    limit = services.settings.max_upload_bytes
    data = await asyncio.to_thread(services.store.get_original, bucket, key, version, limit)
    return data, (time.perf_counter() - started) * 1000


def _in_background(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """``work`` started now, awaited later or not at all: a failure nobody awaits is not reported as lost."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


async def _store_variant(services: Services, tenant: str, image_id: str, variant: RenderedVariant) -> VariantOutput:
    """Store one variant under its record's tenant's prefix."""
    settings = services.settings
    key = output_key(tenant, image_id, variant.name, variant.format.extension, settings.output_prefix)
    await asyncio.to_thread(
        services.store.put_variant, settings.output_bucket, key, variant.data, variant.format.content_type
    )
    return VariantOutput(
        name=variant.name,
        key=key,
        width=variant.width,
        height=variant.height,
        format=variant.format,
        bytes=len(variant.data),
    )
