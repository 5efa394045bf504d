"""The worker's recovery sweep, in process: an upload whose S3 event was lost is found, recorded and
processed. Run as the worker's code, so its AWS calls (listing, batch reads, HEAD) meet the worker's list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import processes
import worker
from conftest import REPO, RunWorker, corpus
from imagepipe import jobs
from imagepipe.keys import image_id_for_object
from imagepipe.settings import get_settings
from sam import RUNNING
from sweeper import sweep


@pytest.fixture
def own_bucket_and_table(stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh upload bucket and table, so the sweep sees this test's objects and records only."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "IMAGEPIPE_UPLOAD_BUCKET": f"sweep-uploads-{suffix}",
        "IMAGEPIPE_TABLE_NAME": f"sweep-images-{suffix}",
        "IMAGEPIPE_STUCK_AFTER_SECONDS": "1",
    }
    processes.provision(
        stack_env["AWS_ENDPOINT_URL"],
        upload_bucket=env["IMAGEPIPE_UPLOAD_BUCKET"],
        output_bucket=f"sweep-outputs-{suffix}",
        table_name=env["IMAGEPIPE_TABLE_NAME"],
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_an_upload_whose_event_was_lost_is_adopted_and_processed(
    own_bucket_and_table: None, run_worker: RunWorker, s3: Any
) -> None:
    settings = get_settings()
    key = "uploads/camera/lost-event.jpg"
    s3.put_object(Bucket=settings.upload_bucket, Key=key, Body=corpus("images", "baseline", "hopper.jpg").read_bytes())
    await asyncio.sleep(2)  # the sweep leaves objects younger than IMAGEPIPE_STUCK_AFTER_SECONDS to their event

    pool = await jobs.connect(settings)
    context = worker.build_context(settings, pool)
    token = RUNNING.set(REPO / "functions" / "worker")
    try:
        report = await sweep({"redis": pool, "imagepipe": context})
    finally:
        RUNNING.reset(token)
        context.executor.shutdown()
        await pool.aclose()
    assert report["orphans"] == 1

    await run_worker()
    image_id = image_id_for_object(settings.upload_bucket, key, settings.upload_prefix)
    record = context.services.records.get(image_id)
    assert record is not None and record.status.value == "succeeded", record
