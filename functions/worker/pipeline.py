"""The ``process_image`` task: fetch, render off the event loop, store, record. Retry-or-fail is
decided here and nowhere else."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from typing import Any

from arq import Retry

import imaging
from hooks import JobHooks
from imagepipe.completion import ImageSummary
from imagepipe.errors import ImagePipeError, ProcessingTimeout, TransientError
from imagepipe.keys import output_key
from imagepipe.models import ErrorInfo, Status, VariantOutput
from imagepipe.recipes import parse_recipe
from imagepipe.records import ImageRecords, StartOutcome
from imagepipe.settings import Settings
from imagepipe.storage import ImageStore

log = logging.getLogger("imagepipe.worker")


@dataclass
class WorkerContext:
    """What every job of this worker process shares, built once at start-up."""

    settings: Settings
    store: ImageStore
    records: ImageRecords
    make_executor: Callable[[], Executor]
    limits: imaging.Limits
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = self.make_executor()

    def renew_executor(self, broken: Executor) -> None:
        """A pool whose process died (the kernel's OOM killer, a codec crash) takes no more work."""
        if self.executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self.executor = self.make_executor()


def backoff(job_try: int, *, base: float, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter for transient failures."""
    return random.uniform(0, min(cap, base * 2 ** (job_try - 1)))


async def process_image(
    ctx: dict[str, Any], *, image_id: str, bucket: str, key: str, version: str, recipe: dict[str, Any]
) -> dict[str, Any]:
    """arq task: one object version in, its variants and a ``succeeded`` or ``failed`` record out."""
    wctx: WorkerContext = ctx["imagepipe"]
    job_try: int = ctx.get("job_try", 1)
    hooks = JobHooks.of(ctx, wctx.settings, image_id)  # progress while it runs, notices once it ends
    # Our own limit, inside arq's: a job arq times out would leave its record in `processing`.
    limit = wctx.settings.job_timeout_seconds * 0.9
    try:
        try:
            async with asyncio.timeout(limit):
                return await _process(wctx, hooks, image_id, bucket, key, version, recipe)
        except TimeoutError as exc:
            raise ProcessingTimeout(f"processing took longer than {limit:.0f}s") from exc
    except ImagePipeError as exc:
        if exc.retryable and job_try < wctx.settings.max_tries:
            delay = backoff(job_try, base=wctx.settings.retry_base_seconds)
            log.warning("transient failure of %s (try %d), retrying in %.1fs: %s", image_id, job_try, delay, exc)
            raise Retry(defer=delay) from exc
        await _fail(wctx, hooks, image_id, version, exc.code, exc.message)
        return {"image_id": image_id, "status": "failed", "code": exc.code}
    except Exception as exc:
        log.exception("unexpected failure of %s", image_id)
        await _fail(wctx, hooks, image_id, version, "internal_error", f"{type(exc).__name__}: {exc}")
        return {"image_id": image_id, "status": "failed", "code": "internal_error"}


async def _process(
    wctx: WorkerContext,
    hooks: JobHooks,
    image_id: str,
    bucket: str,
    key: str,
    version: str,
    raw_recipe: dict[str, Any],
) -> dict[str, Any]:
    settings = wctx.settings
    outcome = await asyncio.to_thread(wctx.records.start, image_id, version)
    if outcome is not StartOutcome.STARTED:
        log.info("skipping %s version %s: %s", image_id, version, outcome.value)
        return {"image_id": image_id, "status": "skipped", "reason": outcome.value}
    recipe = parse_recipe(raw_recipe, settings)  # payloads are data too: validated like any input
    hooks.progress.total = len(recipe.variants)
    await hooks.progress.stage("downloading")
    data = await asyncio.to_thread(wctx.store.get_original, bucket, key, version, settings.max_upload_bytes)
    loop = asyncio.get_running_loop()
    executor = wctx.executor
    try:
        rendered = await loop.run_in_executor(
            executor, imaging.render, data, recipe, wctx.limits, hooks.progress.for_render()
        )
    except BrokenExecutor as exc:
        wctx.renew_executor(executor)
        raise TransientError("the imaging process died while rendering; a new one will retry") from exc
    del data
    outputs = await hooks.progress.storing([_store_variant(wctx, image_id, v) for v in rendered.variants])
    if not await asyncio.to_thread(wctx.records.succeed, image_id, version, list(outputs), rendered.metadata):
        log.info("record of %s moved on while version %s was processed", image_id, version)
        return {"image_id": image_id, "status": "skipped", "reason": "superseded"}
    await hooks.ended(ImageSummary(image_id=image_id, status=Status.SUCCEEDED, variants=outputs))
    return {"image_id": image_id, "status": "succeeded", "variants": [o.name for o in outputs]}


async def _store_variant(wctx: WorkerContext, image_id: str, variant: imaging.RenderedVariant) -> VariantOutput:
    settings = wctx.settings
    key = output_key(image_id, variant.name, variant.format.extension, settings.output_prefix)
    await asyncio.to_thread(
        wctx.store.put_variant, settings.output_bucket, key, variant.data, variant.format.content_type
    )
    return VariantOutput(
        name=variant.name,
        key=key,
        width=variant.width,
        height=variant.height,
        format=variant.format,
        bytes=len(variant.data),
    )


async def _fail(wctx: WorkerContext, hooks: JobHooks, image_id: str, version: str, code: str, message: str) -> None:
    log.warning("image %s failed: %s: %s", image_id, code, message)
    error = ErrorInfo(code=code, message=message)
    if await asyncio.to_thread(wctx.records.fail, image_id, version, error):
        await hooks.ended(ImageSummary(image_id=image_id, status=Status.FAILED, variants=[], error=error))
