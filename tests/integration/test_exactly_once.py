"""Exactly-once effect with real Redis, moto and the real worker: repeated announcements of one version
are processed once, a new version wins, an identical re-put is not processed again, and a late event for
an older version changes nothing."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from typing import Any

import httpx
import pytest
from arq.jobs import Job

from conftest import Handler, RunWorker, corpus
from factories import head, put, s3_notification, upload, uploaded
from imagepipe import jobs
from imagepipe.errors import TransientError
from imagepipe.models import ImageRecord
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from imagepipe.storage import ImageStore
from sam import LambdaRuntime


def image(name: str) -> bytes:
    return corpus("images", *name.split("/")).read_bytes()


async def announce(runtime: LambdaRuntime, trigger: Handler, event: dict[str, Any]) -> list[str]:
    response = await runtime.invoke(trigger, event)
    return [r["outcome"] for r in response["results"]]


async def image_id_of(runtime: LambdaRuntime, trigger: Handler, event: dict[str, Any]) -> str:
    return str((await runtime.invoke(trigger, event))["results"][0]["image_id"])


async def first_version(
    runtime: LambdaRuntime, trigger: Handler, run_worker: RunWorker, records: ImageRecords, key: str, name: str
) -> tuple[dict[str, Any], ImageRecord]:
    """Put ``name`` under ``key``, announce it as S3 would and process it; the object and its record."""
    v1 = put(key, image(name))
    assert await announce(runtime, trigger, s3_notification(v1, "0062A1B2C3D4E5F601")) == ["enqueued"]
    assert (await run_worker()).jobs_complete == 1
    record = records.get(await image_id_of(runtime, trigger, s3_notification(v1, "0062A1B2C3D4E5F601")))
    assert record is not None and record.status.value == "succeeded"
    return v1, record


async def test_repeated_deliveries_and_the_api_process_once(
    api: httpx.AsyncClient, run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    image_id = await uploaded(api, "images", "baseline", "hopper.jpg")
    uploaded_record = records.get(image_id)
    assert uploaded_record is not None
    event = s3_notification(head(uploaded_record.source.key), "0062A1B2C3D4E5F601")
    for _ in range(3):  # S3 delivers at least once; the API registered the version already
        assert await announce(runtime, trigger, event) == ["duplicate"]

    worker = await run_worker()
    assert worker.jobs_complete == 1
    done = records.get(image_id)
    assert done is not None and done.status.value == "succeeded" and done.attempts == 1
    assert done.source.sequencer == "0062A1B2C3D4E5F601"  # the event filled in what the API could not know
    assert await announce(runtime, trigger, event) == ["duplicate"]
    assert (await run_worker()).jobs_complete == 0


async def test_a_new_version_is_processed_and_wins_and_a_late_old_event_is_ignored(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    key = f"uploads/camera roll/{uuid.uuid4().hex}.jpg"
    v1, first = await first_version(runtime, trigger, run_worker, records, key, "baseline/hopper.jpg")
    image_id = first.image_id
    assert first.metadata is not None
    assert (first.metadata.width, first.source.key) == (128, key)

    v2 = put(key, image("orientation/Landscape_1.jpg"))  # overwrite: a new version of the same key
    assert await announce(runtime, trigger, s3_notification(v2, "0062A1B2C3D4E5F6FF")) == ["enqueued"]
    await run_worker()
    second = records.get(image_id)
    assert second is not None and second.metadata is not None
    assert (second.status.value, second.source.version, second.metadata.width) == ("succeeded", v2["versionId"], 1800)
    assert second.attempts == 1

    # S3's late, duplicate delivery of the first version's event
    assert await announce(runtime, trigger, s3_notification(v1, "0062A1B2C3D4E5F601")) == ["skipped"]
    assert (await run_worker()).jobs_complete == 0
    assert records.get(image_id) == second


async def test_the_same_bytes_put_again_are_not_processed_again(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    key = f"uploads/sync/{uuid.uuid4().hex}.png"
    v1, processed = await first_version(runtime, trigger, run_worker, records, key, "baseline/hopper.png")
    image_id = processed.image_id

    v2 = put(key, image("baseline/hopper.png"))  # `aws s3 sync` or a client retry: a new version, same bytes
    assert v2["versionId"] != v1["versionId"] and v2["eTag"] == v1["eTag"]
    assert await announce(runtime, trigger, s3_notification(v2, "0062A1B2C3D4E5F6FF")) == ["duplicate"]
    assert (await run_worker()).jobs_complete == 0
    kept = records.get(image_id)
    assert kept is not None
    assert (kept.status.value, kept.source.version, kept.attempts) == ("succeeded", v2["versionId"], 1)
    assert (kept.variants, kept.metadata) == (processed.variants, processed.metadata)
    assert await announce(runtime, trigger, s3_notification(v2, "0062A1B2C3D4E5F6FF")) == ["duplicate"]  # redelivered

    v3 = put(key, image("modes/transparent.png"))  # different bytes: processed again
    assert await announce(runtime, trigger, s3_notification(v3, "0062A1B2C3D4E5F700")) == ["enqueued"]
    assert (await run_worker()).jobs_complete == 1
    redone = records.get(image_id)
    assert redone is not None and redone.metadata is not None
    assert (redone.status.value, redone.source.version, redone.metadata.width) == ("succeeded", v3["versionId"], 200)


async def test_an_older_version_queued_behind_a_newer_one_is_skipped(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    key = f"uploads/{uuid.uuid4().hex}.png"
    v1 = put(key, image("baseline/hopper.png"))
    v2 = put(key, image("modes/transparent.png"))
    assert await announce(runtime, trigger, s3_notification(v1, "00AA01")) == ["enqueued"]
    assert await announce(runtime, trigger, s3_notification(v2, "00AA02")) == ["enqueued"]
    worker = await run_worker()
    assert worker.jobs_complete == 2  # v1's job ran and stood down: its version is no longer the record's
    record = records.get(await image_id_of(runtime, trigger, s3_notification(v2, "00AA02")))
    assert record is not None and record.metadata is not None
    assert (record.status.value, record.source.version, record.metadata.width) == ("succeeded", v2["versionId"], 200)
    assert record.attempts == 1


async def test_a_superseded_job_whose_original_is_gone_stands_down_without_failing(
    run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords, s3: Any
) -> None:
    """The worker fetches a job's original while it writes the record's start: when the start says the record
    moved on, that fetch's failure (here the old version was deleted) is nobody's, and the job only stands down."""
    key = f"uploads/{uuid.uuid4().hex}.png"
    v1 = put(key, image("baseline/hopper.png"))
    v2 = put(key, image("modes/transparent.png"))
    assert await announce(runtime, trigger, s3_notification(v1, "00AB01")) == ["enqueued"]
    assert await announce(runtime, trigger, s3_notification(v2, "00AB02")) == ["enqueued"]
    s3.delete_object(Bucket=get_settings().upload_bucket, Key=key, VersionId=v1["versionId"])
    worker = await run_worker()
    assert (worker.jobs_complete, worker.jobs_failed, worker.jobs_retried) == (2, 0, 0)
    image_id = await image_id_of(runtime, trigger, s3_notification(v2, "00AB02"))
    pool = await jobs.connect(get_settings())
    try:
        stood_down = await Job(jobs.job_id(image_id, v1["versionId"]), pool, _deserializer=jobs.deserialize).result(
            timeout=5
        )
    finally:
        await pool.aclose()
    assert stood_down == {"image_id": image_id, "status": "skipped", "reason": "superseded"}
    record = records.get(image_id)
    assert record is not None and record.error is None
    assert (record.status.value, record.source.version, record.attempts) == ("succeeded", v2["versionId"], 1)


async def test_an_event_without_version_id_is_the_same_upload_by_its_etag(
    api: httpx.AsyncClient, run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    """moto (and S3 for an unversioned bucket) leave versionId out: the event names the version by its
    ETag, which is also the content the API registered, so it is a duplicate and processed once."""
    image_id = await uploaded(api, "images", "baseline", "hopper.png")
    record = records.get(image_id)
    assert record is not None
    obj = head(record.source.key)
    del obj["versionId"]
    assert await announce(runtime, trigger, s3_notification(obj)) == ["duplicate"]
    assert (await run_worker()).jobs_complete == 1
    done = records.get(image_id)
    assert done is not None and done.status.value == "succeeded"


@pytest.mark.parametrize("named_by", ["version id", "etag"])
async def test_an_upload_whose_event_arrives_first_keeps_its_recipe(
    api: httpx.AsyncClient,
    run_worker: RunWorker,
    runtime: LambdaRuntime,
    trigger: Handler,
    records: ImageRecords,
    monkeypatch: pytest.MonkeyPatch,
    named_by: str,
) -> None:
    """S3 may deliver the upload's event to the trigger before the API announces the version it just put
    (locally, the bridge often does). The event must queue the upload with the caller's recipe, not make a
    record of its own with the default one; the API's announcement is then the duplicate. The event names the
    version by its versionId (S3) or, as moto's do, by its ETag."""
    loop = asyncio.get_running_loop()
    put_source = ImageStore.put_source

    def put_then_deliver(self: ImageStore, *args: Any, **kwargs: Any) -> Any:
        source = put_source(self, *args, **kwargs)
        obj = contextvars.Context().run(head, source.key)  # the test's call, not the API's
        if named_by == "etag":
            del obj["versionId"]
        delivered = asyncio.run_coroutine_threadsafe(announce(runtime, trigger, s3_notification(obj)), loop)
        assert delivered.result(timeout=30) == ["enqueued"]  # the event won the race
        return source

    monkeypatch.setattr(ImageStore, "put_source", put_then_deliver)
    recipe = {"variants": [{"name": "sq", "width": 50, "height": 50, "fit": "cover", "format": "png"}]}
    image_id = await uploaded(api, "images", "baseline", "hopper.jpg", recipe=recipe)
    monkeypatch.undo()

    assert (await run_worker()).jobs_complete == 1
    done = records.get(image_id)
    assert done is not None and done.status.value == "succeeded" and done.attempts == 1
    assert [(v.name, v.width, v.height) for v in done.variants] == [("sq", 50, 50)]
    assert done.source.content_type == "image/jpeg"  # what the API sniffed, which an event cannot say


async def test_an_upload_whose_put_fails_leaves_no_record(
    api: httpx.AsyncClient, records: ImageRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is written before the object: when the object cannot be stored, the caller gets the error
    and no record is left waiting for an object that will never come."""

    keys: list[str] = []

    def down(self: ImageStore, bucket: str, key: str, *args: Any) -> Any:
        keys.append(key)  # uploads/{tenant}/{image_id}/{name}
        raise TransientError("S3 is unreachable")

    monkeypatch.setattr(ImageStore, "put_source", down)
    resp = await upload(api, "images", "baseline", "hopper.jpg")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "transient"
    [key] = keys
    assert records.get(key.split("/")[2]) is None


async def test_a_folder_marker_is_skipped_not_failed(
    runtime: LambdaRuntime, trigger: Handler, records: ImageRecords
) -> None:
    """The S3 console's "Create folder" writes an empty object named like the folder: not an upload."""
    folder = put(f"uploads/holiday-{uuid.uuid4().hex[:8]}/", b"")
    response = await runtime.invoke(trigger, s3_notification(folder, "00AC01"))
    [result] = response["results"]
    assert (result["outcome"], result["image_id"]) == ("skipped", None), result
    assert "folder marker" in result["reason"]
