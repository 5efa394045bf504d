"""S3TriggerFunction: S3 notifications (direct, via EventBridge, or wrapped in SQS) become jobs.

The shapes accepted are Powertools' parser models (``events.py``). An SQS batch reports partial failures,
so only a message that fails validation comes back. ``s3:TestEvent``, deletions and other event types are
skipped with a reason; every created object goes through :func:`imagepipe.announce.announce`.
"""

# ruff: noqa: E402 (the collector is switched off before the imports below)
from __future__ import annotations

import gc

gc.disable()  # a cold start's import, without collections that walk all it made (as in the API's app.py)

import asyncio
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from imagepipe.announce import Announced, Outcome, announce
from imagepipe.services import get_services
from s3_events import Parsed, SqsSourced, parse

logger = Logger(service="imagepipe-trigger")
metrics = Metrics(namespace="imagepipe", service="imagepipe-trigger")
tracer = Tracer(service="imagepipe-trigger", patch_modules=("botocore",))
processor = BatchProcessor(event_type=EventType.SQS)

# One loop for the life of the execution environment, so the Redis pool survives between invocations.
_runner = asyncio.Runner()
_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
# S3's request id (direct, EventBridge), else the SQS message id; it travels with the job into the worker
CORRELATION_PATH = 'Records[0].responseElements."x-amz-request-id" || detail."request-id" || Records[0].messageId'
_METRIC = {Outcome.ENQUEUED: "Enqueued", Outcome.DUPLICATE: "Duplicates", Outcome.SKIPPED: "Skipped"}


async def _announce_all(parsed: Parsed) -> list[Announced]:
    services = get_services()
    correlation_id = parsed.request_id or logger.get_correlation_id()
    return [await announce(source, services, correlation_id=correlation_id) for source in parsed.sources]


def _record(result: Announced) -> None:
    logger.info("announcement", extra=result.as_dict())
    metrics.add_metric(name=_METRIC[result.outcome], unit=MetricUnit.Count, value=1)


def handle(parsed: Parsed) -> list[Announced]:
    """Announce every created object of one parsed event."""
    results = [Announced(None, Outcome.SKIPPED, f"not an object creation: {what}") for what in parsed.skipped]
    results += _runner.run(_announce_all(parsed))
    for result in results:
        _record(result)
    return results


def _is_sqs_batch(event: Any) -> bool:
    try:
        SqsSourced.model_validate(event)
    except ValidationError:
        return False
    return True


def _sqs_record(record: SQSRecord) -> list[dict[str, str | None]]:
    # a body that is not an S3 event raises ValidationError: reported back to SQS for redelivery and, in
    # time, its dead-letter queue
    return [r.as_dict() for r in handle(parse(_JSON_OBJECT.validate_json(record.body)))]


@logger.inject_lambda_context(correlation_id_path=CORRELATION_PATH)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``trigger.handler`` in template.yaml)."""
    if _is_sqs_batch(event):
        response = process_partial_response(
            event=event, record_handler=_sqs_record, processor=processor, context=context
        )
        return dict(response)
    try:
        parsed = parse(_JSON_OBJECT.validate_python(event))
    except ValidationError as exc:
        logger.warning("skipping an event that is not an S3 notification", reason=str(exc))
        result = Announced(None, Outcome.SKIPPED, f"malformed event: {exc.error_count()} validation error(s)")
        _record(result)
        return {"results": [result.as_dict()]}
    return {"results": [r.as_dict() for r in handle(parsed)]}


gc.freeze()
gc.enable()
