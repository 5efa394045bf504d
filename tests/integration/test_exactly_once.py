"""Exactly-once effect with real Redis, moto and the real worker: repeated announcements of one version
are processed once, a new version wins, and a late event for an older version changes nothing."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import RunWorker, corpus, load_event
from imagepipe import aws
from imagepipe.models import ImageRecord
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from sam import LambdaRuntime, resolve_handler


@pytest.fixture
def trigger(stack_env: dict[str, str]) -> Any:
    return resolve_handler("S3TriggerFunction")


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime()
    yield rt
    rt.close()


@pytest.fixture
def records(stack_env: dict[str, str]) -> ImageRecords:
    return ImageRecords(aws.dynamodb_client(), stack_env["IMAGEPIPE_TABLE_NAME"])


def put(key: str, image: str) -> dict[str, Any]:
    """Write an object into the upload bucket as any client would; returns its head."""
    bucket = get_settings().upload_bucket
    aws.s3_client().put_object(Bucket=bucket, Key=key, Body=corpus("images", *image.split("/")).read_bytes())
    head = aws.s3_client().head_object(Bucket=bucket, Key=key)
    return {"key": key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"'), "versionId": head["VersionId"]}


def notification(obj: dict[str, Any], sequencer: str) -> dict[str, Any]:
    """The S3 notification S3 would send for ``obj`` (key URL-encoded, as S3 does)."""
    event = copy.deepcopy(load_event("s3-put.json"))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = get_settings().upload_bucket
    record["s3"]["object"] = {**obj, "key": obj["key"].replace(" ", "+"), "sequencer": sequencer}
    return event


async def announce(runtime: LambdaRuntime, trigger: Any, event: dict[str, Any]) -> list[str]:
    response = await runtime.invoke(trigger, event)
    return [r["outcome"] for r in response["results"]]


async def api_upload(api: httpx.AsyncClient, records: ImageRecords, image: str) -> tuple[ImageRecord, dict[str, Any]]:
    """Upload through the API; returns the record and the object as an S3 event describes it."""
    path = corpus("images", *image.split("/"))
    accepted = (await api.post("/images", files={"file": (path.name, path.read_bytes(), "image/png")})).json()
    record = records.get(accepted["image_id"])
    assert record is not None
    head = aws.s3_client().head_object(Bucket=record.source.bucket, Key=record.source.key)
    obj = {"key": record.source.key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}
    return record, {**obj, "versionId": head["VersionId"]}


async def test_repeated_deliveries_and_the_api_process_once(
    api: httpx.AsyncClient, run_worker: RunWorker, runtime: LambdaRuntime, trigger: Any, records: ImageRecords
) -> None:
    record, obj = await api_upload(api, records, "baseline/hopper.jpg")
    accepted = {"image_id": record.image_id}
    event = notification(obj, "0062A1B2C3D4E5F601")
    for _ in range(3):  # S3 delivers at least once
        assert await announce(runtime, trigger, event) == ["duplicate"]

    worker = await run_worker()
    assert worker.jobs_complete == 1
    done = records.get(accepted["image_id"])
    assert done is not None and done.status.value == "succeeded" and done.attempts == 1
    assert done.source.sequencer == "0062A1B2C3D4E5F601"  # the event filled in what the API could not know
    assert await announce(runtime, trigger, event) == ["duplicate"]
    assert (await run_worker()).jobs_complete == 0


async def test_a_new_version_is_processed_and_wins_and_a_late_old_event_is_ignored(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Any, records: ImageRecords
) -> None:
    key = f"uploads/camera roll/{uuid.uuid4().hex}.jpg"
    v1 = put(key, "baseline/hopper.jpg")
    assert await announce(runtime, trigger, notification(v1, "0062A1B2C3D4E5F601")) == ["enqueued"]
    await run_worker()
    image_id = (await runtime.invoke(trigger, notification(v1, "0062A1B2C3D4E5F601")))["results"][0]["image_id"]
    first = records.get(image_id)
    assert first is not None and first.metadata is not None
    assert (first.status.value, first.metadata.width, first.source.key) == ("succeeded", 128, key)

    v2 = put(key, "orientation/Landscape_1.jpg")  # overwrite: a new version of the same key
    assert await announce(runtime, trigger, notification(v2, "0062A1B2C3D4E5F6FF")) == ["enqueued"]
    await run_worker()
    second = records.get(image_id)
    assert second is not None and second.metadata is not None
    assert (second.status.value, second.source.version, second.metadata.width) == ("succeeded", v2["versionId"], 1800)
    assert second.attempts == 1

    # S3's late, duplicate delivery of the first version's event
    assert await announce(runtime, trigger, notification(v1, "0062A1B2C3D4E5F601")) == ["skipped"]
    assert (await run_worker()).jobs_complete == 0
    assert records.get(image_id) == second


async def test_an_older_version_queued_behind_a_newer_one_is_skipped(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Any, records: ImageRecords
) -> None:
    key = f"uploads/{uuid.uuid4().hex}.png"
    v1 = put(key, "baseline/hopper.png")
    v2 = put(key, "modes/transparent.png")
    assert await announce(runtime, trigger, notification(v1, "00AA01")) == ["enqueued"]
    assert await announce(runtime, trigger, notification(v2, "00AA02")) == ["enqueued"]
    worker = await run_worker()
    assert worker.jobs_complete == 2  # v1's job ran and stood down: its version is no longer the record's
    image_id = (await runtime.invoke(trigger, notification(v2, "00AA02")))["results"][0]["image_id"]
    record = records.get(image_id)
    assert record is not None and record.metadata is not None
    assert (record.status.value, record.source.version, record.metadata.width) == ("succeeded", v2["versionId"], 200)
    assert record.attempts == 1


async def test_an_event_without_version_id_keeps_the_uploads_version(
    api: httpx.AsyncClient, run_worker: RunWorker, runtime: LambdaRuntime, trigger: Any, records: ImageRecords
) -> None:
    """moto (and S3 for an unversioned bucket) leave versionId out: the trigger looks it up by ETag."""
    record, obj = await api_upload(api, records, "baseline/hopper.png")
    accepted = {"image_id": record.image_id}
    del obj["versionId"]
    assert await announce(runtime, trigger, notification(obj, "")) == ["duplicate"]
    assert (await run_worker()).jobs_complete == 1
    done = records.get(accepted["image_id"])
    assert done is not None and (done.status.value, done.source.version) == ("succeeded", record.source.version)
