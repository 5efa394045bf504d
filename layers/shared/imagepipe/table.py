"""The tables' shapes (images, API keys), shared by the local stack and the tests (template.yaml declares the same)."""

from __future__ import annotations

from typing import Any

from imagepipe.similar import ATTRIBUTES as BAND_ATTRIBUTES
from imagepipe.similar import INDEXES as SIMILAR_INDEXES

BY_STATUS_INDEX = "by_status"
BY_CREATED_INDEX = "by_created"


def listing_partition(tenant: str) -> str:
    """A tenant's partition of ``by_created`` (its ``listing`` attribute): ``GET /images`` is a Query of it.
    Records from before tenants are in the partition ``image``, which no tenant name reaches."""
    return f"tenant#{tenant}"


def table_definition(name: str) -> dict[str, Any]:
    """Keyword arguments for ``create_table``, matching ``ImagesTable`` in template.yaml."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "image_id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "listing", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
            {"AttributeName": "tenant", "AttributeType": "S"},
            *({"AttributeName": band, "AttributeType": "S"} for band in BAND_ATTRIBUTES),
        ],
        "KeySchema": [{"AttributeName": "image_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_CREATED_INDEX,
                "KeySchema": [
                    {"AttributeName": "listing", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            # GET /images?similar_to=: one sparse index per band of the perceptual hash (imagepipe.similar)
            *(
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": band, "KeyType": "HASH"},
                        {"AttributeName": "tenant", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["phash"]},
                }
                for index, band in zip(SIMILAR_INDEXES, BAND_ATTRIBUTES, strict=True)
            ),
        ],
    }


def webhooks_table_definition(name: str) -> dict[str, Any]:
    """Keyword arguments for ``create_table``, matching ``WebhooksTable`` in template.yaml: a tenant's endpoints
    and its failed deliveries share one partition."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    }


def keys_table_definition(name: str) -> dict[str, Any]:
    """Keyword arguments for ``create_table``, matching ``KeysTable`` in template.yaml."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "key_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "key_id", "KeyType": "HASH"}],
    }
