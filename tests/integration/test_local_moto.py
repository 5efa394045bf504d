"""The local stack's moto (infra/local/moto_server.py): its answers unchanged by what the launcher does to make
them cheaper."""

from __future__ import annotations

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
