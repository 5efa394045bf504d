"""``sam local invoke S3TriggerFunction``, emulated, with every sample event: the shared corpus's real
payloads and ours in ``events/``. Each is enqueued or skipped for a stated reason."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS, REPO, load_event
from imagepipe import aws, jobs
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from sam import LambdaRuntime, resolve_handler

Handler = Any
CORPUS_EVENTS = sorted(
    [*(CORPUS / "events" / "s3").glob("*.json"), *(CORPUS / "events" / "eventbridge").glob("*.json")]
)
OUR_EVENTS = sorted(p for p in (REPO / "events").glob("*.json") if not p.name.startswith("api-"))


@pytest.fixture
def trigger(stack_env: dict[str, str]) -> Handler:
    return resolve_handler("S3TriggerFunction")


@pytest.fixture(autouse=True)
async def empty_queue(stack_env: dict[str, str]) -> AsyncIterator[None]:
    """Jobs announced here point at objects that do not exist: leave none for the worker tests."""
    yield
    pool = await jobs.connect(get_settings())
    try:
        await pool.delete(get_settings().queue_name)
    finally:
        await pool.aclose()


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime()
    yield rt
    rt.close()


def aimed(event: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The event re-aimed at this test's upload bucket (sample events name another bucket)."""
    text = json.dumps(event)
    for name in ("imagepipe-uploads", "example-bucket", "xxx", "lambda-artifacts-deafc19498e3f2df", "sourcebucket"):
        text = text.replace(f'"{name}"', f'"{bucket}"').replace(f'\\"{name}\\"', f'\\"{bucket}\\"')
    return json.loads(text)  # type: ignore[no-any-return]


def outcomes(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(response) == {"results"}, response
    results: list[dict[str, Any]] = response["results"]
    for result in results:
        assert result["outcome"] in {"enqueued", "duplicate", "skipped"}
        assert result["reason"], result
    return results


@pytest.mark.parametrize("path", CORPUS_EVENTS + OUR_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_every_sample_event_is_enqueued_or_skipped_with_a_reason(
    path: Path, trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    event = json.loads(path.read_text())
    for candidate in (event, aimed(event, stack_env["IMAGEPIPE_UPLOAD_BUCKET"])):
        response = await runtime.invoke(trigger, candidate)
        if "batchItemFailures" in response:
            assert response == {"batchItemFailures": []}
        else:
            assert outcomes(response)


async def test_s3_put_is_enqueued_with_its_key_decoded(
    trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    event = aimed(load_event("s3-put.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    event["Records"][0]["s3"]["object"]["key"] = "uploads/photos/only+here.jpg"
    first = outcomes(await runtime.invoke(trigger, event))
    assert [r["outcome"] for r in first] == ["enqueued"]
    record = ImageRecords(aws.dynamodb_client(), stack_env["IMAGEPIPE_TABLE_NAME"]).get(first[0]["image_id"])
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
    trigger: Handler, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    event = aimed(load_event("s3-put.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    obj = event["Records"][0]["s3"]["object"]
    obj.update(key="uploads/huge.tif", size=10**12, versionId="huge-version")
    results = outcomes(await runtime.invoke(trigger, event))
    assert results[0]["outcome"] == "skipped" and "limit" in results[0]["reason"]
    record = ImageRecords(aws.dynamodb_client(), stack_env["IMAGEPIPE_TABLE_NAME"]).get(results[0]["image_id"])
    assert record is not None and record.error is not None
    assert (record.status.value, record.error.code) == ("failed", "too_large")


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": []}, {"Records": [{"eventSource": "aws:s3"}]}, {"Records": "x"}, {"source": "aws.s3"}],
    ids=["empty", "no-records", "no-s3", "records-not-a-list", "bridge-no-detail"],
)
async def test_malformed_events_are_skipped_not_crashes(
    event: dict[str, Any], trigger: Handler, runtime: LambdaRuntime
) -> None:
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
