"""Image records in DynamoDB. Status moves by conditional writes only, so a stale or repeated job
cannot undo a newer result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from imagepipe import similar
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
from imagepipe.table import BY_CREATED_INDEX, BY_STATUS_INDEX, listing_partition

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
    IDENTICAL = "identical"  # a newer version with the processed version's content: tracked, result kept
    STALE = "stale"  # an older version than the one tracked
    FOREIGN = "foreign"  # the record is another tenant's: nothing written


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
    FOREIGN = "foreign"  # the job names another tenant than its record's: nothing written


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(data), parse_float=Decimal)
    return {k: _ser.serialize(v) for k, v in plain.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _record(item: dict[str, Any], default_tenant: str) -> ImageRecord:
    return ImageRecord.model_validate({"tenant": default_tenant, **_plain(_from_item(item))})


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
    """The images table. Every status change is one conditional write on the version it is meant for."""

    def __init__(self, client: DynamoDBClient, table_name: str, default_tenant: str = "local") -> None:
        self._client = client
        self._table = table_name
        self._default_tenant = default_tenant

    def _record(self, item: dict[str, Any]) -> ImageRecord:
        return _record(item, self._default_tenant)

    def create(self, image_id: str, source: SourceObject, recipe: Recipe, tenant: str) -> ImageRecord | None:
        """Write a new ``queued`` record of ``tenant`` and return it; None when one already exists."""
        record, existing = self._insert(image_id, source, recipe, tenant)
        return None if existing else record

    def _insert(
        self, image_id: str, source: SourceObject, recipe: Recipe, tenant: str
    ) -> tuple[ImageRecord, ImageRecord | None]:
        """The new record, and the one that was there instead when there was one (then nothing is written)."""
        stamp = now()
        record = ImageRecord(
            image_id=image_id,
            status=Status.QUEUED,
            source=source,
            recipe=recipe,
            created_at=stamp,
            updated_at=stamp,
            tenant=tenant,
        )
        try:
            with translated_errors():
                self._client.put_item(
                    TableName=self._table,
                    Item=_to_item({**record.model_dump(mode="json"), "listing": listing_partition(tenant)}),
                    ConditionExpression="attribute_not_exists(image_id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return record, self._refused_item(exc)
        return record, None

    def register(
        self, image_id: str, source: SourceObject, recipe: Recipe, tenant: str
    ) -> tuple[Registration, ImageRecord]:
        """Make the record track ``source`` unless it already tracks that version or a newer one, or belongs to
        another tenant than ``tenant`` (a new record is ``tenant``'s); returns what happened and the record as
        it now stands.

        Concurrent announcements race through conditional writes: each update is conditioned on the
        version it read, and a lost race is decided again on the item the failed write returns.
        """
        for _ in range(5):
            new, record = self._insert(image_id, source, recipe, tenant)
            if record is None:
                return Registration.CREATED, new
            if record.tenant != tenant:
                return Registration.FOREIGN, record
            current = record.source
            if current.version == source.version:
                if source.sequencer and not current.sequencer:
                    self._update(
                        image_id,
                        current.version,
                        update="SET #src.#seq = :seq, updated_at = :now",
                        condition="attribute_exists(#src)",
                        names={"#seq": "sequencer"},
                        values={":seq": source.sequencer},
                        returning=False,
                    )
                return Registration.DUPLICATE, record
            pending = current.version == PENDING_VERSION
            if not pending and not is_newer(source.sequencer, current.sequencer):
                return Registration.STALE, record
            if not pending and source.same_content(current) and record.status is not Status.FAILED:
                if record.status is not Status.SUCCEEDED:
                    return Registration.DUPLICATE, record  # its job renders these very bytes
                kept = source.model_copy(update={"content_type": current.content_type})
                applied, _ = self._update(
                    image_id,
                    current.version,
                    update="SET #src = :source, updated_at = :now",
                    condition="#s = :succeeded",
                    names={"#s": "status"},
                    values={":source": kept.model_dump(mode="json"), ":succeeded": Status.SUCCEEDED.value},
                    returning=False,
                )
                if applied:
                    return Registration.IDENTICAL, record.model_copy(update={"source": kept})
                continue
            # the awaited upload keeps the content type the presign request declared
            fresh = (
                source.model_copy(update={"content_type": current.content_type})
                if pending and not source.content_type
                else source
            )
            applied, _ = self._update(
                image_id,
                current.version,
                update="SET #src = :source, #s = :queued, attempts = :zero, updated_at = :now "
                "REMOVE #e, variants, metadata",
                condition="attribute_exists(#src)",
                names={"#s": "status", "#e": "error"},
                values={":source": fresh.model_dump(mode="json"), ":queued": Status.QUEUED.value, ":zero": 0},
            )
            if applied:
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
        return self._record(item) if item else None

    def owned(self, image_id: str, tenant: str) -> ImageRecord | None:
        """The record of ``image_id`` if it is ``tenant``'s: another tenant's image does not exist for it."""
        record = self.get(image_id)
        return record if record is not None and record.tenant == tenant else None

    def start(self, image_id: str, version: str, tenant: str | None = None) -> tuple[StartOutcome, str | None]:
        """Move the record of this version to ``processing`` and count the attempt; the outcome, and the
        record's tenant when it started.

        A job that names its ``tenant`` has it checked by the write's condition, and the write returns nothing:
        the record sent back is most of an update's cost (in moto, 8 of a start's 22 ms of CPU, measured). A
        job from before jobs named their tenant reads it from the record the write returns."""
        names = {"#s": "status", "#e": "error"}
        values: dict[str, Any] = {
            ":processing": Status.PROCESSING.value,
            ":queued": Status.QUEUED.value,
            ":zero": 0,
            ":one": 1,
        }
        condition = "#s IN (:queued, :processing)"
        if tenant is not None:
            names["#tenant"], values[":tenant"] = "tenant", tenant
            owned = "#tenant = :tenant"
            if tenant == self._default_tenant:  # a record from before tenants is the default tenant's
                owned = f"(attribute_not_exists(#tenant) OR {owned})"
            condition += f" AND {owned}"
        applied, record = self._update(
            image_id,
            version,
            update="SET #s = :processing, updated_at = :now, attempts = if_not_exists(attempts, :zero) + :one "
            "REMOVE #e",
            condition=condition,
            names=names,
            values=values,
            returning=tenant is None,
        )
        if applied:
            return StartOutcome.STARTED, record.tenant if record is not None else tenant
        if record is None:
            return StartOutcome.MISSING, None
        if record.source.version != version:
            return StartOutcome.SUPERSEDED, None
        if record.status not in (Status.QUEUED, Status.PROCESSING):
            return StartOutcome.DONE, None
        return StartOutcome.FOREIGN, None

    def succeed(self, image_id: str, version: str, variants: list[VariantOutput], metadata: ImageMetadata) -> bool:
        """Record the result, and the hash's bands for ``similar_to`` (imagepipe.similar); False when the
        record moved on (another version, or already final)."""
        indexed = similar.index_attributes(metadata.phash) if metadata.phash else {}
        names = {"#s": "status", "#e": "error", **{f"#{k}": k for k in indexed}}
        values = {f":{k}": v for k, v in indexed.items()}
        index_update = "".join(f", #{k} = :{k}" for k in indexed)
        if indexed:
            # a record from before tenants is indexed under the tenant it reads as
            index_update += ", #tenant = if_not_exists(#tenant, :default_tenant)"
            names["#tenant"], values[":default_tenant"] = "tenant", self._default_tenant
        applied, _ = self._update(
            image_id,
            version,
            update="SET #s = :succeeded, variants = :variants, metadata = :metadata, updated_at = :now"
            f"{index_update} REMOVE #e",
            condition="#s = :processing",
            names=names,
            values={
                ":succeeded": Status.SUCCEEDED.value,
                ":processing": Status.PROCESSING.value,
                ":variants": [v.model_dump(mode="json") for v in variants],
                ":metadata": metadata.model_dump(mode="json"),
                **values,
            },
            returning=False,  # the caller needs only whether it applied
        )
        return applied

    def similar(self, tenant: str, phash: str, max_distance: int, limit: int) -> list[tuple[ImageRecord, int]]:
        """``tenant``'s succeeded records whose hash is within ``max_distance`` of ``phash``, nearest first
        (newest first among equals), at most ``limit``: found through the band indexes, never a scan."""
        near = similar.near(self._client, self._table, tenant, phash, max_distance)
        found: list[tuple[ImageRecord, int]] = []
        for image_id in sorted(near, key=near.__getitem__):
            if len(found) >= limit and near[image_id] > found[-1][1]:
                break  # every record left is farther than a full page
            record = self.owned(image_id, tenant)
            # the index may lag a record queued again: its own metadata decides
            if record is None or record.status is not Status.SUCCEEDED or record.metadata is None:
                continue
            if record.metadata.phash is None or similar.hamming(phash, record.metadata.phash) > max_distance:
                continue
            found.append((record, similar.hamming(phash, record.metadata.phash)))
        found.sort(key=lambda pair: (pair[1], _newest_first(pair[0])))
        return found[:limit]

    def fail(self, image_id: str, version: str, error: ErrorInfo) -> ImageRecord | None:
        """Fail a version that is queued or processing: the failed record, None when the record moved on.
        Called by :func:`imagepipe.retries.give_up` only."""
        applied, record = self._update(
            image_id,
            version,
            update="SET #s = :failed, #e = :error, updated_at = :now",
            condition="#s IN (:queued, :processing)",
            names={"#s": "status", "#e": "error"},
            values={
                ":failed": Status.FAILED.value,
                ":error": error.model_dump(mode="json"),
                ":queued": Status.QUEUED.value,
                ":processing": Status.PROCESSING.value,
            },
        )
        return record if applied else None

    def delete(self, image_id: str) -> None:
        with translated_errors():
            self._client.delete_item(TableName=self._table, Key={"image_id": {"S": image_id}})

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
        names = {"#s": "status", "#e": "error"}
        if recipe is not None:
            update += ", #r = :recipe"
            names["#r"] = "recipe"
            values[":recipe"] = recipe.model_dump(mode="json")
        applied, _ = self._update(
            image_id,
            version,
            update=f"{update} REMOVE #e",
            condition=f"#s IN ({', '.join(states)})",
            names=names,
            values=values,
            returning=False,
        )
        return applied

    def by_status(self, status: Status, limit: int, updated_before: str | None = None) -> list[ImageRecord]:
        """Up to ``limit`` records in ``status`` of every tenant, oldest first, optionally only those untouched
        since a time."""
        query = self._status_query(status)
        if updated_before is not None:
            query["FilterExpression"] = "updated_at < :before"
            query["ExpressionAttributeValues"][":before"] = {"S": updated_before}
        found: list[ImageRecord] = []
        with translated_errors():
            for page in self._client.get_paginator("query").paginate(**query):
                found.extend(self._record(i) for i in page.get("Items", []))
                if len(found) >= limit:
                    break
        return found[:limit]

    def page(
        self, tenant: str, *, status: Status | None, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[ImageRecord], dict[str, Any] | None]:
        """One page of ``tenant``'s records, newest first (all, or those in ``status``), and where the next one
        starts. A Query of the tenant's partition of ``by_created``; ``status`` filters it, reading at most
        ``LISTING_READ_BUDGET`` items per page (a page may then hold fewer than ``limit``, with a cursor)."""
        partition = listing_partition(tenant)
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_CREATED_INDEX,
            "KeyConditionExpression": "listing = :p",
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
        }
        if status is not None:
            query["FilterExpression"] = "#s = :s"
            query["ExpressionAttributeNames"] = {"#s": "status"}
            query["ExpressionAttributeValues"][":s"] = {"S": status.value}
        # a cursor names a place in the caller's own partition, whatever it says
        start = {**after, "listing": {"S": partition}} if after else None
        found: list[ImageRecord] = []
        read = 0
        while True:
            size = limit - len(found) if status is None else LISTING_READ_BUDGET // 4
            if start:
                query["ExclusiveStartKey"] = start
            with translated_errors():
                resp = self._client.query(**query, Limit=size)
            items = [self._record(i) for i in resp.get("Items", [])]
            read += resp.get("ScannedCount", len(items))
            start = resp.get("LastEvaluatedKey")
            for record in items:
                if len(found) == limit:
                    return found, _listing_key(found[-1])  # more matched than fit: resume after the last shown
                if record.tenant == tenant:
                    found.append(record)
            if start is None or len(found) == limit or read >= LISTING_READ_BUDGET:
                return found, start

    def count(self, status: Status) -> int:
        """Records in ``status``, every tenant's (the dead-letter count)."""
        total = 0
        with translated_errors():
            for page in self._client.get_paginator("query").paginate(**self._status_query(status), Select="COUNT"):
                total += page.get("Count", 0)
        return total

    def _status_query(self, status: Status) -> dict[str, Any]:
        """Query arguments for every tenant's records in ``status`` (``by_status``: the sweep, dead letters)."""
        return {
            "TableName": self._table,
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": "status"},
            "ExpressionAttributeValues": {":v": {"S": status.value}},
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

    def _update(
        self,
        image_id: str,
        version: str,
        *,
        update: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        returning: bool = True,
    ) -> tuple[bool, ImageRecord | None]:
        """Apply ``update`` (which sets ``updated_at = :now``) when the record tracks ``version`` and
        ``condition`` holds. Returns (applied, the record as it now stands, or as it stood when the condition
        refused it); with ``returning=False`` an applied write returns no record (None): DynamoDB then sends back
        no item, which is the bulk of an update's response (and of moto's CPU). A refusal always does."""
        try:
            with translated_errors():
                resp = self._client.update_item(
                    TableName=self._table,
                    Key={"image_id": {"S": image_id}},
                    UpdateExpression=update,
                    ConditionExpression=f"attribute_exists(image_id) AND #src.#v = :version AND ({condition})",
                    ExpressionAttributeNames={"#src": "source", "#v": "version", **names},
                    ExpressionAttributeValues=_to_item({**values, ":now": now(), ":version": version}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ReturnValues="ALL_NEW" if returning else "NONE",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False, self._refused_item(exc)
        return True, self._record(resp["Attributes"]) if returning else None

    def _refused_item(self, exc: ClientError) -> ImageRecord | None:
        """The item a refused conditional write returns (``ReturnValuesOnConditionCheckFailure``)."""
        item: object = dict(exc.response).get("Item")
        return self._record(item) if isinstance(item, dict) and item else None


def _newest_first(record: ImageRecord) -> str:
    """A sort key that puts later ``created_at`` stamps first (ISO stamps of one length)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in record.created_at)


# items a filtered listing page reads at most (each Query reads up to a quarter of it)
LISTING_READ_BUDGET = 400


def _listing_key(record: ImageRecord) -> dict[str, Any]:
    """The ``by_created`` position of a record: where a page that ends with it resumes."""
    return {
        "image_id": {"S": record.image_id},
        "listing": {"S": listing_partition(record.tenant)},
        "created_at": {"S": record.created_at},
    }
