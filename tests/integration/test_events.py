"""The ImageProcessed event: with IMAGEPIPE_EVENT_BUS set, an ended image is put on the bus, and a rule on it
(here one sending to an SQS queue, all in moto) sees source ``imagepipe`` and the record's summary."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import httpx

from conftest import ChangeSetting, RunWorker, corpus


async def test_an_ended_image_is_an_image_processed_event(
    api: httpx.AsyncClient, run_worker: RunWorker, setting: ChangeSetting, stack_env: dict[str, str]
) -> None:
    sqs: Any = boto3.client("sqs")
    events: Any = boto3.client("events")
    name = f"processed-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["imagepipe"], "detail-type": ["ImageProcessed"]}
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName="default")
    events.put_targets(Rule=name, EventBusName="default", Targets=[{"Id": "queue", "Arn": queue_arn}])
    setting("event_bus", "default")
    path = corpus("images", "baseline", "hopper.jpg")
    image_id = (await api.post("/images", files={"file": (path.name, path.read_bytes())})).json()["image_id"]

    await run_worker()

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    events.remove_targets(Rule=name, EventBusName="default", Ids=["queue"])
    events.delete_rule(Name=name, EventBusName="default")
    (event,) = [json.loads(m["Body"]) for m in messages]
    assert (event["source"], event["detail-type"]) == ("imagepipe", "ImageProcessed")
    assert event["detail"]["image_id"] == image_id
    assert event["detail"]["status"] == "succeeded"
    assert {v["name"] for v in event["detail"]["variants"]} == {"thumb", "medium", "large"}
