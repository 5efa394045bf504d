"""Image records in DynamoDB. Status moves by conditional writes only, so a stale or repeated job
cannot undo a newer result."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from imagepipe.aws import error_code, is_transient
from imagepipe.errors import TransientError
from imagepipe.models import (
    ErrorInfo,
    ImageMetadata,
    ImageRecord,
    Recipe,
    SourceObject,
    Status,
    VariantOutput,
)
from imagepipe.table import BY_CREATED_INDEX, BY_STATUS_INDEX, LISTING_PARTITION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ser = TypeSerializer()
_de = TypeDeserializer()


PENDING_VERSION = "pending"
"""The version of a record written for a presigned upload that has not arrived yet."""


class Registration(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # a newer version (or the awaited upload) now wins
    DUPLICATE = "duplicate"  # this version is already tracked
    STALE = "stale"  # an older version than the one tracked


def is_newer(sequencer: str | None, than: str | None) -> bool:
    """S3 sequencers order events for one key: hex strings compared after left-padding to equal length.
    Without both, the announcement at hand is taken as the newer one."""
    if not sequencer or not than:
        return True
    width = max(len(sequencer), len(than))
    return sequencer.upper().rjust(width, "0") > than.upper().rjust(width, "0")


class StartOutcome(StrEnum):
    STARTED = "started"
    DONE = "done"  # this version already reached a final state
    SUPERSEDED = "superseded"  # the record now tracks another version
    MISSING = "missing"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(data), parse_float=Decimal)
    return {k: _ser.serialize(v) for k, v in plain.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _record(item: dict[str, Any]) -> ImageRecord:
    return ImageRecord.model_validate(_plain(_from_item(item)))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn transient AWS failures into :class:`TransientError`; let everything else through."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            raise TransientError(f"DynamoDB: {exc}") from exc
        raise


class ImageRecords:
    """The images table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, image_id: str, source: SourceObject, recipe: Recipe) -> ImageRecord | None:
        """Write a new ``queued`` record and return it; None when one already exists."""
        stamp = now()
        record = ImageRecord(
            image_id=image_id,
            status=Status.QUEUED,
            source=source,
            recipe=recipe,
            created_at=stamp,
            updated_at=stamp,
        )
        item = _to_item({**record.model_dump(mode="json"), "listing": LISTING_PARTITION})
        try:
            with translated_errors():
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(image_id)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return record

    def register(self, image_id: str, source: SourceObject, recipe: Recipe) -> tuple[Registration, ImageRecord]:
        """Make the record track ``source`` unless it already tracks that version or a newer one; returns
        what happened and the record as it now stands.

        Concurrent announcements race through conditional writes: each update is conditioned on the
        version it read, and a lost race is re-read and decided again.
        """
        for _ in range(5):
            if created := self.create(image_id, source, recipe):
                return Registration.CREATED, created
            record = self.get(image_id)
            if record is None:
                continue  # deleted in between: create again
            current = record.source
            if current.version == source.version:
                if source.sequencer and not current.sequencer:
                    self._transition(
                        image_id,
                        current.version,
                        "SET #src.sequencer = :seq",
                        "attribute_exists(#src)",  # the version itself is always in the condition
                        {":seq": source.sequencer},
                    )
                return Registration.DUPLICATE, record
            if current.version != PENDING_VERSION and not is_newer(source.sequencer, current.sequencer):
                return Registration.STALE, record
            fresh = (
                source
                if current.version != PENDING_VERSION
                else source.model_copy(update={"content_type": source.content_type or current.content_type})
            )
            if self._transition(
                image_id,
                current.version,
                "SET #src = :source, #s = :queued, attempts = :zero, updated_at = :now REMOVE #e, variants, metadata",
                "attribute_exists(#src)",  # the version itself is always in the condition
                {":source": fresh.model_dump(mode="json"), ":queued": Status.QUEUED.value, ":zero": 0},
            ):
                updated = {"source": fresh, "status": Status.QUEUED, "attempts": 0, "error": None}
                return Registration.UPDATED, record.model_copy(update={**updated, "variants": [], "metadata": None})
        raise TransientError(f"record {image_id} kept changing while a new version was registered")

    def describe(self) -> str:
        """The table's status (a cheap reachability check)."""
        with translated_errors():
            return self._client.describe_table(TableName=self._table)["Table"].get("TableStatus", "")

    def get(self, image_id: str) -> ImageRecord | None:
        with translated_errors():
            resp = self._client.get_item(TableName=self._table, Key={"image_id": {"S": image_id}}, ConsistentRead=True)
        item = resp.get("Item")
        return _record(item) if item else None

    def start(self, image_id: str, version: str) -> StartOutcome:
        """Move the record of this version to ``processing`` and count the attempt."""
        if self._transition(
            image_id,
            version,
            "SET #s = :processing, updated_at = :now, attempts = if_not_exists(attempts, :zero) + :one REMOVE #e",
            "#s IN (:queued, :processing)",
            {":processing": Status.PROCESSING.value, ":queued": Status.QUEUED.value, ":zero": 0, ":one": 1},
        ):
            return StartOutcome.STARTED
        record = self.get(image_id)
        if record is None:
            return StartOutcome.MISSING
        return StartOutcome.SUPERSEDED if record.source.version != version else StartOutcome.DONE

    def succeed(self, image_id: str, version: str, variants: list[VariantOutput], metadata: ImageMetadata) -> bool:
        """Record the result; False when the record moved on (another version, or already final)."""
        return self._finish(
            image_id,
            version,
            "SET #s = :succeeded, variants = :variants, metadata = :metadata, updated_at = :now REMOVE #e",
            {
                ":succeeded": Status.SUCCEEDED.value,
                ":variants": [v.model_dump(mode="json") for v in variants],
                ":metadata": metadata.model_dump(mode="json"),
            },
        )

    def delete(self, image_id: str) -> None:
        with translated_errors():
            self._client.delete_item(TableName=self._table, Key={"image_id": {"S": image_id}})

    def fail(self, image_id: str, version: str, error: ErrorInfo) -> bool:
        """Record a permanent failure; False when the record moved on."""
        return self._finish(
            image_id,
            version,
            "SET #s = :failed, #e = :error, updated_at = :now",
            {":failed": Status.FAILED.value, ":error": error.model_dump(mode="json")},
        )

    def requeue(
        self,
        image_id: str,
        version: str,
        *,
        finished: tuple[Status, ...] = (Status.FAILED,),
        recipe: Recipe | None = None,
    ) -> bool:
        """A version in one of the ``finished`` states back to ``queued`` with a fresh attempt budget (a
        replay of a dead letter, or a reprocess, then with a new ``recipe`` when given); False otherwise."""
        states = {f":state{i}": status.value for i, status in enumerate(finished)}
        update = "SET #s = :queued, attempts = :zero, updated_at = :now"
        values: dict[str, Any] = {":queued": Status.QUEUED.value, ":zero": 0, **states}
        if recipe is not None:
            update += ", recipe = :recipe"
            values[":recipe"] = recipe.model_dump(mode="json")
        return self._transition(image_id, version, f"{update} REMOVE #e", f"#s IN ({', '.join(states)})", values)

    def refuse(self, image_id: str, version: str, error: ErrorInfo) -> bool:
        """Fail a version without processing it: too large, or it keeps crashing its worker."""
        return self._transition(
            image_id,
            version,
            "SET #s = :failed, #e = :error, updated_at = :now",
            "#s IN (:queued, :processing)",
            {
                ":failed": Status.FAILED.value,
                ":error": error.model_dump(mode="json"),
                ":queued": Status.QUEUED.value,
                ":processing": Status.PROCESSING.value,
            },
        )

    def by_status(self, status: Status, limit: int, updated_before: str | None = None) -> list[ImageRecord]:
        """Up to ``limit`` records in ``status``, oldest first, optionally only those untouched since a time."""
        query = self._index_query(status)
        if updated_before is not None:
            query["FilterExpression"] = "updated_at < :before"
            query["ExpressionAttributeValues"][":before"] = {"S": updated_before}
        found: list[ImageRecord] = []
        with translated_errors():
            for page in self._client.get_paginator("query").paginate(**query):
                found.extend(_record(i) for i in page.get("Items", []))
                if len(found) >= limit:
                    break
        return found[:limit]

    def page(
        self, *, status: Status | None, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[ImageRecord], dict[str, Any] | None]:
        """One page of records, newest first (all, or those in ``status``), and where the next one starts."""
        query = {**self._index_query(status), "ScanIndexForward": False, "Limit": limit}
        if after:
            query["ExclusiveStartKey"] = after
        with translated_errors():
            resp = self._client.query(**query)
        return [_record(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def count(self, status: Status) -> int:
        total = 0
        with translated_errors():
            for page in self._client.get_paginator("query").paginate(**self._index_query(status), Select="COUNT"):
                total += page.get("Count", 0)
        return total

    def _index_query(self, status: Status | None) -> dict[str, Any]:
        """Query arguments for the records in ``status`` (``by_status``), or for all (``by_created``)."""
        index, key, value = (
            (BY_STATUS_INDEX, "status", status.value) if status else (BY_CREATED_INDEX, "listing", LISTING_PARTITION)
        )
        return {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }

    def existing(self, image_ids: list[str]) -> set[str]:
        """Which of these ids have a record."""
        found: set[str] = set()
        for start in range(0, len(image_ids), 100):
            keys = [{"image_id": {"S": i}} for i in image_ids[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ProjectionExpression": "image_id"}}
            while request:
                with translated_errors():
                    resp = self._client.batch_get_item(RequestItems=request)
                found.update(item["image_id"]["S"] for item in resp.get("Responses", {}).get(self._table, []))
                request = resp.get("UnprocessedKeys") or {}
        return found

    def _transition(self, image_id: str, version: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._update(image_id, version, update, condition, values)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _finish(self, image_id: str, version: str, update: str, values: dict[str, Any]) -> bool:
        condition = "#s = :processing_state"
        return self._transition(
            image_id, version, update, condition, {":processing_state": Status.PROCESSING.value, **values}
        )

    def _update(self, image_id: str, version: str, update: str, condition: str, values: dict[str, Any]) -> None:
        names = {"#s": "status", "#e": "error", "#src": "source", "#v": "version"}
        condition = f"attribute_exists(image_id) AND #src.#v = :version AND ({condition})"
        placeholders = set(re.findall(r"#\w+", f"{update} {condition}"))
        used = {k: v for k, v in names.items() if k in placeholders}
        values = {**values, ":now": now(), ":version": version}
        used_values = set(re.findall(r":\w+", f"{update} {condition}"))
        item_values = _to_item({k: v for k, v in values.items() if k in used_values})
        with translated_errors():
            self._client.update_item(
                TableName=self._table,
                Key={"image_id": {"S": image_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=used,
                ExpressionAttributeValues=item_values,
            )
