"""The worker's recovery sweep, in process: an upload whose S3 event was lost is found, recorded and
processed; a presigned upload never received is given up, and its webhook told. Run as the worker's code, so
its AWS calls (listing, batch reads, HEAD) meet the worker's list."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import processes
import worker
from conftest import REPO, RunWorker, corpus
from imagepipe import jobs
from imagepipe.keys import image_id_for_object
from imagepipe.settings import get_settings
from receiver import receiver
from sam import RUNNING
from sweeper import sweep


@pytest.fixture
def own_bucket_and_table(stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh upload bucket and table, so the sweep sees this test's objects and records only."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "IMAGEPIPE_UPLOAD_BUCKET": f"sweep-uploads-{suffix}",
        "IMAGEPIPE_TABLE_NAME": f"sweep-images-{suffix}",
        "IMAGEPIPE_WEBHOOKS_TABLE": f"sweep-webhooks-{suffix}",
        "IMAGEPIPE_STUCK_AFTER_SECONDS": "1",
    }
    processes.provision(
        stack_env["AWS_ENDPOINT_URL"],
        upload_bucket=env["IMAGEPIPE_UPLOAD_BUCKET"],
        output_bucket=f"sweep-outputs-{suffix}",
        table_name=env["IMAGEPIPE_TABLE_NAME"],
        webhooks_table=env["IMAGEPIPE_WEBHOOKS_TABLE"],
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


async def test_an_upload_never_received_is_given_up_and_its_webhook_posted(
    own_bucket_and_table: None, api: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    with receiver() as hook_receiver:
        resp = await api.post("/webhooks", json={"url": hook_receiver.url()})
        assert resp.status_code == 201, resp.text
        webhook_id = resp.json()["webhook_id"]
        resp = await api.post(
            "/images/uploads", json={"filename": "never.jpg", "content_type": "image/jpeg", "size": 1000}
        )
        assert resp.status_code == 201, resp.text
        image_id = resp.json()["image_id"]
        await asyncio.sleep(2)  # older than IMAGEPIPE_STUCK_AFTER_SECONDS

        report = await _sweep_once()
        await run_worker()
        assert (await api.delete(f"/webhooks/{webhook_id}")).status_code == 204

    assert report["given_up"] == 1
    (delivery,) = hook_receiver.received
    body = json.loads(delivery.body)
    assert (body["image_id"], body["status"], body["error"]["code"]) == (image_id, "failed", "upload_missing")


async def _sweep_once() -> dict[str, int]:
    """One sweep as the worker's cron runs it."""
    settings = get_settings()
    pool = await jobs.connect(settings)
    context = worker.build_context(settings, pool)
    token = RUNNING.set(REPO / "functions" / "worker")
    try:
        return await sweep({"redis": pool, "imagepipe": context})
    finally:
        RUNNING.reset(token)
        context.executor.shutdown()
        await pool.aclose()
