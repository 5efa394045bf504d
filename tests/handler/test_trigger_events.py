"""``sam local invoke S3TriggerFunction``, emulated, with every sample event: the shared corpus's real
payloads and ours in ``events/``. Each is enqueued or skipped for a stated reason."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS, REPO, Handler, load_event
from factories import aimed
from imagepipe import jobs
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from sam import LambdaRuntime

CORPUS_EVENTS = sorted(
    [*(CORPUS / "events" / "s3").glob("*.json"), *(CORPUS / "events" / "eventbridge").glob("*.json")]
)
OUR_EVENTS = sorted(p for p in (REPO / "events").glob("*.json") if p.name.startswith(("s3-", "sqs-", "eventbridge-")))
QUEUED = "queued"  # enqueued, or a duplicate of a version another sample already announced
SQS_OK = "sqs: no failed message"
NOT_OURS = "is not the upload bucket"
OUTSIDE = "key outside"
# What each sample must come to, as sent (its own bucket) and re-aimed at this test's upload bucket
EXPECTED: dict[str, tuple[str, str]] = {
    "S3Put.json": (NOT_OURS, NOT_OURS),  # SAM's template: bucket "{{{bucket}}}"
    "s3-event.json": (NOT_OURS, OUTSIDE),
    "s3Event.json": (NOT_OURS, OUTSIDE),
    "s3EventDecodedKey.json": (NOT_OURS, OUTSIDE),
    "s3EventDeleteObject.json": ("ObjectRemoved:Delete", "ObjectRemoved:Delete"),
    "s3SqsEvent.json": (SQS_OK, SQS_OK),
    "s3EventBridgeNotificationObjectCreatedEvent.json": (NOT_OURS, OUTSIDE),
    "s3EventBridgeNotificationObjectDeletedEvent.json": ("'Object Deleted'", "'Object Deleted'"),
    "eventbridge-object-created.json": (NOT_OURS, QUEUED),
    "s3-delete.json": ("ObjectRemoved:Delete", "ObjectRemoved:Delete"),
    "s3-put-many.json": (NOT_OURS, QUEUED),
    "s3-put-outside-prefix.json": (NOT_OURS, OUTSIDE),
    "s3-put.json": (NOT_OURS, QUEUED),
    "s3-test-event.json": ("s3:TestEvent", "s3:TestEvent"),
    "sqs-s3-batch.json": (SQS_OK, SQS_OK),
}


@pytest.fixture(autouse=True)
async def empty_queue(stack_env: dict[str, str]) -> AsyncIterator[None]:
    """Jobs announced here point at objects that do not exist: leave none for the worker tests."""
    yield
    pool = await jobs.connect(get_settings())
    try:
        await pool.delete(get_settings().queue_name)
    finally:
        await pool.aclose()


def outcomes(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(response) == {"results"}, response
    results: list[dict[str, Any]] = response["results"]
    for result in results:
        assert result["outcome"] in {"enqueued", "duplicate", "skipped"}
        assert result["reason"], result
    return results


def test_every_sample_event_has_an_expectation() -> None:
    assert {p.name for p in CORPUS_EVENTS + OUR_EVENTS} == set(EXPECTED)


@pytest.mark.parametrize("path", CORPUS_EVENTS + OUR_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_every_sample_event_is_enqueued_or_skipped_for_its_reason(
    path: Path, trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    event = json.loads(path.read_text())
    for candidate, expected in zip(
        (event, aimed(event, stack_env["IMAGEPIPE_UPLOAD_BUCKET"])), EXPECTED[path.name], strict=True
    ):
        response = await runtime.invoke(trigger, candidate)
        if expected == SQS_OK:
            assert response == {"batchItemFailures": []}
            continue
        results = outcomes(response)
        if expected == QUEUED:
            assert {r["outcome"] for r in results} <= {"enqueued", "duplicate"}, results
        else:
            assert [r["outcome"] for r in results] == ["skipped"] * len(results), results
            assert all(expected in r["reason"] for r in results), results


async def test_s3_put_is_enqueued_with_its_key_decoded(
    trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str], records: ImageRecords
) -> None:
    event = aimed(load_event("s3-put.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    event["Records"][0]["s3"]["object"]["key"] = "uploads/photos/only+here.jpg"
    first = outcomes(await runtime.invoke(trigger, event))
    assert [r["outcome"] for r in first] == ["enqueued"]
    record = records.get(first[0]["image_id"])
    assert record is not None
    assert record.source.key == "uploads/photos/only here.jpg"
    assert record.source.version == "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    again = outcomes(await runtime.invoke(trigger, event))
    assert [(r["image_id"], r["outcome"]) for r in again] == [(first[0]["image_id"], "duplicate")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("s3-test-event.json", "s3:TestEvent"),
        ("s3-delete.json", "ObjectRemoved:Delete"),
        ("s3-put-outside-prefix.json", "key outside"),
    ],
)
async def test_skips_say_why(
    name: str, reason: str, trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    results = outcomes(await runtime.invoke(trigger, aimed(load_event(name), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])))
    assert [r["outcome"] for r in results] == ["skipped"]
    assert reason in results[0]["reason"]


async def test_oversized_object_is_refused_on_its_record(
    trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str], records: ImageRecords
) -> None:
    event = aimed(load_event("s3-put.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    obj = event["Records"][0]["s3"]["object"]
    obj.update(key="uploads/huge.tif", size=10**12, versionId="huge-version")
    results = outcomes(await runtime.invoke(trigger, event))
    assert results[0]["outcome"] == "skipped" and "limit" in results[0]["reason"]
    record = records.get(results[0]["image_id"])
    assert record is not None and record.error is not None
    assert (record.status.value, record.error.code) == ("failed", "too_large")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": [{"eventSource": "aws:s3"}]},
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]},
        {"Records": "x"},
        {"source": "aws.s3"},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "uploads/a"}}},
        ["not", "an", "object"],
    ],
    ids=[
        "empty",
        "no-records",
        "no-s3",
        "creation-without-object",
        "records-not-a-list",
        "bridge-no-detail",
        "bridge-without-etag",
        "not-an-object",
    ],
)
async def test_malformed_events_are_skipped_not_crashes(event: Any, trigger: Handler, runtime: LambdaRuntime) -> None:
    results = outcomes(await runtime.invoke(trigger, event))
    assert [r["outcome"] for r in results] == ["skipped"]
    assert "malformed" in results[0]["reason"]


async def test_sqs_batch_reports_only_the_poisoned_message(
    trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    event = aimed(load_event("sqs-s3-batch.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    poisoned = copy.deepcopy(event["Records"][0])
    poisoned["messageId"] = "poisoned-message"
    poisoned["body"] = "{not json"
    event["Records"].insert(1, poisoned)
    response = await runtime.invoke(trigger, event)
    assert response == {"batchItemFailures": [{"itemIdentifier": "poisoned-message"}]}


@pytest.mark.parametrize("path", OUR_EVENTS, ids=lambda p: p.name)
def test_our_sample_events_are_filled_in(path: Path) -> None:
    # `sam local generate-event` leaves {{{placeholders}}} for what it was not told; a sample shows real values
    assert "{{{" not in path.read_text()
