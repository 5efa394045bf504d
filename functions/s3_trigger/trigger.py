"""S3TriggerFunction: S3 notifications (direct, via EventBridge, or wrapped in SQS) become jobs.

Accepted shapes, each parsed with Powertools' event classes:
- S3 notification ``{"Records": [{"eventSource": "aws:s3", ...}]}`` (one or many records);
- EventBridge ``{"source": "aws.s3", "detail-type": "Object Created", ...}``;
- SQS batch ``{"Records": [{"eventSource": "aws:sqs", "body": <S3 notification>}]}``, with partial batch
  failure reporting, so only a failing message comes back.
``s3:TestEvent``, deletions and other event types are skipped with a log line.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagepipe import jobs
from imagepipe.announce import Announced, Outcome, announce, etag_version
from imagepipe.aws import dynamodb_client, s3_client
from imagepipe.models import SourceObject
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from imagepipe.storage import ImageStore

if TYPE_CHECKING:
    from arq.connections import ArqRedis

logger = Logger(service="imagepipe-trigger")
metrics = Metrics(namespace="imagepipe", service="imagepipe-trigger")
tracer = Tracer(service="imagepipe-trigger")
processor = BatchProcessor(event_type=EventType.SQS)

settings = get_settings()
# One loop for the life of the execution environment, so the Redis pool survives between invocations.
_runner = asyncio.Runner()
_pool: ArqRedis | None = None

MAX_RECORDS = 1000  # S3 sends one per notification, SQS at most 10; anything bigger is not S3's doing
MAX_KEY = 1024


class Malformed(ValueError):
    """The event is not a shape S3 or EventBridge sends."""


@cache
def _records() -> ImageRecords:
    return ImageRecords(dynamodb_client(), settings.table_name)


@cache
def _store() -> ImageStore:
    return ImageStore(s3_client())


async def _queue() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await jobs.connect(settings)
    return _pool


def _source(
    bucket: object, key: object, size: object, etag: object, version_id: object, sequencer: object
) -> SourceObject:
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not 0 < len(key) <= MAX_KEY:
        raise Malformed("bucket or key missing")
    if not isinstance(etag, str) or not etag:
        raise Malformed("eTag missing")
    version = version_id if isinstance(version_id, str) and version_id not in ("", "null") else etag_version(etag)
    return SourceObject(
        bucket=bucket,
        key=key,
        version=version,
        size=size if isinstance(size, int) and size >= 0 else None,
        sequencer=sequencer if isinstance(sequencer, str) else None,
    )


def parse(event: dict[str, Any]) -> tuple[list[SourceObject], list[str]]:
    """The created objects an event announces, and why anything else in it was skipped."""
    if event.get("Event") == "s3:TestEvent":
        return [], ["s3:TestEvent"]
    if event.get("source") == "aws.s3":
        bridged = S3EventBridgeNotificationEvent(event)
        if bridged.detail_type != "Object Created":
            return [], [f"EventBridge {bridged.detail_type!r}"]
        obj = bridged.detail.object
        # EventBridge keys are not URL-encoded
        return [_source(bridged.detail.bucket.name, obj.key, obj.size, obj.etag, obj.version_id, obj.sequencer)], []
    raw = event.get("Records")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_RECORDS:
        raise Malformed("no Records")
    sources, skipped = [], []
    for record in S3Event(event).records:
        if record.event_source != "aws:s3":
            raise Malformed(f"eventSource {record.event_source!r}")
        if not record.event_name.startswith("ObjectCreated:"):
            skipped.append(record.event_name)
            continue
        s3 = record.s3
        fields: dict[str, Any] = s3.get_object.raw_event
        key = fields.get("key")
        # S3 notification keys are URL-encoded (a space arrives as "+")
        decoded = unquote_plus(key) if isinstance(key, str) else None
        sources.append(
            _source(
                s3.bucket.name,
                decoded,
                fields.get("size"),
                fields.get("eTag"),
                fields.get("versionId"),
                fields.get("sequencer"),
            )
        )
    return sources, skipped


def _with_version_id(source: SourceObject) -> SourceObject:
    """Some senders (moto, S3 for a bucket without versioning) leave out versionId. For a versioned bucket,
    the object's current versionId is what the API recorded for the same upload; take it while the ETag
    still matches, so one upload keeps one version whoever announces it."""
    if not source.version.startswith('"') or source.bucket != settings.upload_bucket:
        return source
    if not source.key.startswith(settings.upload_prefix):
        return source  # skipped by announce(); the role may read uploads only

    head = _store().head(source.bucket, source.key)
    if head is None or head["etag"] != source.version or head["version"] == source.version:
        return source
    return source.model_copy(update={"version": head["version"]})


async def _announce_all(sources: list[SourceObject]) -> list[Announced]:
    pool = await _queue()
    results = []
    for source in sources:
        resolved = await asyncio.to_thread(_with_version_id, source)
        results.append(await announce(resolved, settings, _records(), pool))
    return results


def handle(event: dict[str, Any]) -> list[Announced]:
    """One S3 notification or EventBridge event: announce every created object in it."""
    try:
        sources, skipped = parse(event)
    except (Malformed, KeyError, TypeError, AttributeError, ValueError) as exc:
        logger.warning("skipping an event that is not an S3 notification", reason=str(exc))
        metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=1)
        return [Announced(None, Outcome.SKIPPED, f"malformed event: {exc}")]
    results = [Announced(None, Outcome.SKIPPED, f"not an object creation: {what}") for what in skipped]
    results += _runner.run(_announce_all(sources))
    for result in results:
        logger.info("announcement", extra=result.as_dict())
        metric = {Outcome.ENQUEUED: "Enqueued", Outcome.DUPLICATE: "Duplicates", Outcome.SKIPPED: "Skipped"}
        metrics.add_metric(name=metric[result.outcome], unit=MetricUnit.Count, value=1)
    return results


def _sqs_record(record: SQSRecord) -> list[dict[str, str | None]]:
    body = json.loads(record.body)
    if not isinstance(body, dict):
        raise Malformed("the message body is not an S3 notification")
    results = handle(body)
    if any(r.reason.startswith("malformed event") for r in results):
        raise Malformed(results[0].reason)  # reported back to SQS for redelivery and, in time, its DLQ
    return [r.as_dict() for r in results]


@logger.inject_lambda_context(correlation_id_path="Records[0].s3.object.key || detail.object.key || id")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``trigger.handler`` in template.yaml)."""
    if not isinstance(event, dict):
        logger.warning("skipping an event that is not an object")
        return {"results": [Announced(None, Outcome.SKIPPED, "malformed event").as_dict()]}
    raw = event.get("Records")
    if isinstance(raw, list) and raw and isinstance(raw[0], dict) and raw[0].get("eventSource") == "aws:sqs":
        response = process_partial_response(
            event=event, record_handler=_sqs_record, processor=processor, context=context
        )
        return dict(response)
    return {"results": [r.as_dict() for r in handle(event)]}
