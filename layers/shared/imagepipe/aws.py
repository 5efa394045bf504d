"""boto3 clients, built once per process. Endpoints come from the standard ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client

_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=3,
    read_timeout=20,
    max_pool_connections=32,
)


@lru_cache(maxsize=1)
def s3_client() -> S3Client:
    return boto3.client("s3", config=_CONFIG.merge(Config(signature_version="s3v4")))


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def events_client() -> EventBridgeClient:
    return boto3.client("events", config=_CONFIG)


_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx, timeouts and connection errors: worth a retry."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return err.get("Code", "") in _TRANSIENT_CODES or status >= 500
    return isinstance(exc, ConnectionError | HTTPClientError) or (
        isinstance(exc, BotoCoreError) and "timeout" in type(exc).__name__.lower()
    )


def error_code(exc: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
