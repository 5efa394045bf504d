"""Lambda's SQS event source, locally: long-poll the upload-events queue and hand each batch to the real
``s3_trigger`` handler, deleting what succeeded and leaving failures for redelivery.

Run by the local stack as ``python infra/local/bridge.py --queue-url URL``, with ``AWS_ENDPOINT_URL``
pointing at moto and ``layers/shared`` on ``PYTHONPATH`` (where Lambda mounts the layer).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import logging
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import boto3
from moto_events import completed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageAttributeValueOutputTypeDef,
        MessageTypeDef,
    )

ROOT = Path(__file__).resolve().parents[2]
CODE_DIR = ROOT / "functions" / "s3_trigger"
HANDLER = "trigger.handler"
FUNCTION_NAME = "S3TriggerFunction"
# What an event source mapping does by default: up to 10 messages, 20 s long polls.
BATCH_SIZE = 10
WAIT_SECONDS = 20
TIMEOUT_SECONDS = 30

Event = dict[str, Any]
Handler = Callable[[Event, Any], Any]

log = logging.getLogger("bridge")


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = FUNCTION_NAME
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
    memory_limit_in_mb: int = 256
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + TIMEOUT_SECONDS)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_handler(code_dir: Path = CODE_DIR, handler: str = HANDLER) -> Handler:
    """Import ``module.function`` from ``code_dir`` as Lambda does from /var/task."""
    sys.path.insert(0, str(code_dir))
    module_name, _, function_name = handler.rpartition(".")
    function: Handler = getattr(importlib.import_module(module_name), function_name)
    return function


def _lambda_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()  # SQS's checksum of a body, not a secret


def lambda_record(message: MessageTypeDef, queue_arn: str, region: str, body: str | None = None) -> Event:
    """One SQS message in the shape Lambda puts it into ``event["Records"]`` (with ``body`` for its own)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"] if body is None else body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {k: _lambda_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"] if body is None else _md5(body),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(result: object, batch_ids: Sequence[str]) -> set[str]:
    """The messages Lambda would leave on the queue after the handler returned ``result``.

    As Lambda does with ReportBatchItemFailures: a malformed response, or an identifier that is not in the
    batch, fails the whole batch."""
    if result is None:
        return set()
    failures = result.get("batchItemFailures") if isinstance(result, Mapping) else None
    if not isinstance(failures, list):
        log.error("handler returned %r, not {'batchItemFailures': [...]}: the whole batch fails", result)
        return set(batch_ids)
    ids = {f.get("itemIdentifier") if isinstance(f, Mapping) else None for f in failures}
    if not ids <= set(batch_ids):
        log.error("batchItemFailures %r names messages outside the batch: the whole batch fails", failures)
        return set(batch_ids)
    return {i for i in ids if isinstance(i, str)}


class Bridge:
    """One poller, as one event source mapping with concurrency 1."""

    def __init__(self, sqs: SQSClient, queue_url: str, handler: Handler, s3: S3Client | None = None) -> None:
        self.sqs = sqs
        self.s3 = s3  # given: moto's S3 events are completed as S3 sends them (moto_events)
        self.queue_url = queue_url
        self.handler = handler
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        self.region = self.queue_arn.split(":")[3]
        self.busy = False
        self.stopping = False

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Idle in a long poll there is nothing to lose; with a batch in hand, finish it first, as Lambda
        # lets a running invocation finish.
        if not self.busy:
            raise SystemExit(0)
        self.stopping = True

    def run(self) -> None:
        log.info("polling %s for %s", self.queue_url, HANDLER)
        while not self.stopping:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=BATCH_SIZE,
                WaitTimeSeconds=WAIT_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                self.busy = True
                self.deliver(messages)
                self.busy = False

    def deliver(self, messages: list[MessageTypeDef]) -> None:
        """Invoke the handler with one batch; delete the messages it did not report failed."""
        ids = [m["MessageId"] for m in messages]
        event = {"Records": [lambda_record(m, self.queue_arn, self.region, self._body(m)) for m in messages]}
        try:
            result = self.handler(event, LocalContext())
        except Exception:  # Lambda: an invocation error fails the batch; it comes back after the timeout
            log.exception("handler raised: %d message(s) will be redelivered", len(messages))
            return
        failed = failed_message_ids(result, ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._delete(done)
        log.info("batch of %d: %d done, %d left for redelivery", len(messages), len(done), len(failed))

    def _body(self, message: MessageTypeDef) -> str:
        return completed(message["Body"], self.s3) if self.s3 is not None else message["Body"]

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            log.error("could not delete message %s: %s", failure["Id"], failure.get("Message"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queue-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "found credentials" on every start is noise
    bridge = Bridge(boto3.client("sqs"), args.queue_url, load_handler(), boto3.client("s3"))
    signal.signal(signal.SIGTERM, bridge.on_signal)
    signal.signal(signal.SIGINT, bridge.on_signal)
    bridge.run()


if __name__ == "__main__":
    main()
