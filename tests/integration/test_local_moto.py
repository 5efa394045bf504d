"""The local stack's moto (infra/local/moto_server.py): its answers unchanged by what the launcher does to make
them cheaper."""

from __future__ import annotations

import hashlib
import json
import uuid

import boto3


def test_update_expressions_still_apply_to_new_and_existing_items(stack_env: dict[str, str]) -> None:
    """moto validates a copy of each UpdateItem's parsed expression, and the launcher makes that copy its own way:
    moto's answers must stay as they were, on both of UpdateItem's paths (an item it creates is validated twice),
    with the functions and the REMOVE clause that give a tree its odd nodes."""
    client = boto3.client("dynamodb")
    table = f"copies-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"id": {"S": "one"}}
    for _ in range(2):  # the first creates the item, the second updates it
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #n = if_not_exists(#n, :zero) + :one, "
            "tags = list_append(if_not_exists(tags, :none), :tag) REMOVE gone",
            ExpressionAttributeNames={"#n": "count"},
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":none": {"L": []},
                ":tag": {"L": [{"S": "t"}]},
            },
        )
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item == {"id": {"S": "one"}, "count": {"N": "2"}, "tags": {"L": [{"S": "t"}, {"S": "t"}]}}


def test_the_bridge_completes_moto_s3_events_as_s3_sends_them(stack_env: dict[str, str]) -> None:
    """moto's notifications name no version; S3's name the version each is about and order one key's events.
    Writes A, B, A to one key: each event gets a version holding its bytes, later writes the greater sequencer."""
    from moto_events import completed

    import processes

    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    bucket, key = f"events-{uuid.uuid4().hex[:8]}", "uploads/local/a b+c%.jpg"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = processes.route_upload_events(
        stack_env["AWS_ENDPOINT_URL"], upload_bucket=bucket, queue_name=f"{bucket}-events"
    )
    written = [s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"] for body in (b"A", b"B", b"A")]
    bodies: list[str] = []
    while len(bodies) < 3:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        bodies += [m["Body"] for m in messages.get("Messages", []) if "Records" in json.loads(m["Body"])]
    objects = [json.loads(completed(body, s3))["Records"][0]["s3"]["object"] for body in bodies]
    by_etag = {obj["eTag"].strip('"'): obj for obj in objects}
    a, b = (by_etag[hashlib.md5(body, usedforsecurity=False).hexdigest()] for body in (b"A", b"B"))
    assert b["versionId"] == written[1]
    assert a["versionId"] == written[2]  # the newest version with those bytes
    assert int(b["sequencer"], 16) < int(a["sequencer"], 16)
    for body in ("not json", json.dumps({"Event": "s3:TestEvent"})):
        assert completed(body, s3) == body
