"""Near-duplicates by perceptual hash without scanning the table: a band index in DynamoDB.

A 64-bit ``phash`` is cut into :data:`BANDS` runs of bits, each tagged with its position (``"3:5a"``). Two
hashes within distance ``BANDS - 1`` differ in at most ``BANDS - 1`` runs, so they share at least one band.
Each succeeded record carries its bands as ``band_0`` .. ``band_8`` (and its hash as ``phash``); the table has
one index per band (``similar_0`` .. ``similar_8``: the band, then the tenant), so a query reads only the
caller's records that share a band, then checks the exact distance. A record and its bands go together:
deleting the record removes them; a record queued again keeps stale bands until it succeeds, and a caller
checks candidates against the record's own metadata.

Pure Python (the API uses it, and imports no image library); ``imagepipe_analysis.phash`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HASH_BITS = 64
BANDS = 9  # any hash within distance 8 (the API's default and maximum) shares a band
MAX_DISTANCE = BANDS - 1
INDEXES = tuple(f"similar_{index}" for index in range(BANDS))
ATTRIBUTES = tuple(f"band_{index}" for index in range(BANDS))
MAX_CANDIDATES = 2000  # per band and query: a bound on the work a query may cause


def hamming(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def band_widths(n: int) -> list[int]:
    if not 1 <= n <= HASH_BITS:
        raise ValueError(f"a hash splits into 1..{HASH_BITS} bands, not {n}")
    return [HASH_BITS // n + (1 if index < HASH_BITS % n else 0) for index in range(n)]


def bands(hash_hex: str, n: int = BANDS) -> list[str]:
    """The hash cut into ``n`` runs of bits, each tagged with its position (``"3:5a"``): two hashes whose
    distance is below ``n`` differ in at most ``n - 1`` runs, so they share at least one band."""
    value = int(hash_hex, 16)
    result = []
    shift = HASH_BITS
    for index, width in enumerate(band_widths(n)):
        shift -= width
        result.append(f"{index}:{(value >> shift) & ((1 << width) - 1):x}")
    return result


def index_attributes(phash: str) -> dict[str, str]:
    """What a succeeded record carries for the band indexes."""
    return {"phash": phash, **dict(zip(ATTRIBUTES, bands(phash), strict=True))}


def near(client: DynamoDBClient, table: str, tenant: str, phash: str, max_distance: int) -> dict[str, int]:
    """The ids of ``tenant``'s records whose indexed hash is within ``max_distance`` of ``phash``, with their
    distances: one query per band, on the band and the tenant, then the exact distance."""
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be 0..{MAX_DISTANCE} for the band index to find every match")
    found: dict[str, int] = {}
    for index, band in enumerate(bands(phash)):
        for image_id, other in _sharing(client, table, index, band, tenant):
            distance = hamming(phash, other)
            if distance <= max_distance:
                found[image_id] = distance
    return found


def _sharing(client: DynamoDBClient, table: str, index: int, band: str, tenant: str) -> Iterator[tuple[str, str]]:
    query = {
        "TableName": table,
        "IndexName": INDEXES[index],
        "KeyConditionExpression": "#b = :b AND tenant = :t",
        "ProjectionExpression": "image_id, phash",
        "ExpressionAttributeNames": {"#b": ATTRIBUTES[index]},
        "ExpressionAttributeValues": {":b": {"S": band}, ":t": {"S": tenant}},
    }
    seen = 0
    for page in client.get_paginator("query").paginate(**query):  # type: ignore[arg-type]
        for item in page.get("Items", []):
            if "phash" in item:
                yield item["image_id"]["S"], item["phash"]["S"]
        seen += page.get("Count", 0)
        if seen >= MAX_CANDIDATES:
            return
