"""The S3 events the trigger accepts, as Powertools' parser models, and the object versions they announce.

- S3 notification ``{"Records": [{"eventSource": "aws:s3", ...}]}`` (:class:`S3Notification`);
- EventBridge ``{"source": "aws.s3", "detail-type": "Object Created", ...}``;
- ``s3:TestEvent``, which S3 sends once when notifications are configured.
Anything else fails validation (:class:`pydantic.ValidationError`), and nothing else is caught as "malformed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel, S3Model, S3RecordModel
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3Bucket,
    S3Identity,
    S3Message,
    S3OwnerIdentify,
    S3RequestParameters,
    S3ResponseElements,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator

from imagepipe.models import SourceObject
from imagepipe.storage import object_version, quoted_etag

MAX_RECORDS = 1000  # S3 sends one per notification, SQS at most 10; anything bigger is not S3's doing
MAX_KEY = 1024


_DEFERRED = ConfigDict(defer_build=True)  # schemas built on first use, not at import: cold start is a product figure


# moto's notifications (the local stack's) leave out the fields below, which imagepipe never reads
class _Bucket(S3Bucket):
    model_config = _DEFERRED
    ownerIdentity: S3OwnerIdentify | None = None  # type: ignore[assignment]


class _Message(S3Message):
    model_config = _DEFERRED
    bucket: _Bucket


class _Record(S3RecordModel):
    model_config = _DEFERRED
    userIdentity: S3Identity | None = None  # type: ignore[assignment]
    requestParameters: S3RequestParameters | None = None  # type: ignore[assignment]
    responseElements: S3ResponseElements | None = None  # type: ignore[assignment]
    s3: _Message

    @model_validator(mode="before")
    @classmethod
    def validate_s3_object(cls, values: Any) -> Any:
        """Powertools' check (a creation has size and eTag), safe for a record without ``s3``: its own
        raises AttributeError there, which pydantic does not turn into a validation error."""
        s3 = values.get("s3") if isinstance(values, dict) else None
        obj = (s3.get("object") or s3.get("get_object")) if isinstance(s3, dict) else None
        if str(values.get("eventName", "")).startswith("ObjectCreated:") and (
            not isinstance(obj, dict) or obj.get("size") is None or obj.get("eTag") is None
        ):
            raise ValueError("an ObjectCreated record needs its object's size and eTag")
        return values


class S3Notification(S3Model):
    model_config = _DEFERRED
    Records: list[_Record] = Field(min_length=1, max_length=MAX_RECORDS)  # type: ignore[assignment]


class S3TestEvent(BaseModel):
    model_config = _DEFERRED
    Event: Literal["s3:TestEvent"]


class _BridgeHead(BaseModel):
    """Enough of an EventBridge event to tell what happened before the whole is validated."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)
    source: Literal["aws.s3"]
    detail_type: str = Field(alias="detail-type")


class SqsSourced(BaseModel):
    """An SQS batch: its records carry S3 notifications in their bodies."""

    model_config = _DEFERRED
    Records: list[_SqsRecordHead] = Field(min_length=1)


class _SqsRecordHead(BaseModel):
    model_config = _DEFERRED
    eventSource: Literal["aws:sqs"]


class _Bounds(BaseModel):
    model_config = _DEFERRED
    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1, max_length=MAX_KEY)
    etag: str = Field(min_length=1)


@dataclass
class Parsed:
    """The created objects an event announces, why anything else in it was skipped, and S3's request id."""

    sources: list[SourceObject] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    request_id: str | None = None


def parse(event: dict[str, Any]) -> Parsed:
    """The object versions ``event`` announces; raises :class:`pydantic.ValidationError` for anything S3
    and EventBridge do not send."""
    if "Event" in event:
        return Parsed(skipped=[S3TestEvent.model_validate(event).Event])
    if "source" in event:
        head = _BridgeHead.model_validate(event)
        if head.detail_type != "Object Created":
            return Parsed(skipped=[f"EventBridge {head.detail_type!r}"])
        bridged = S3EventNotificationEventBridgeModel.model_validate(event).detail
        bobj = bridged.object
        # Decoded as notification keys are, as Powertools' S3EventBridgeNotificationObject.key does. Unverified
        # against S3 itself: the AWS docs' EventBridge samples and the corpus hold no key that would show it
        source = _source(bridged.bucket.name, bobj.key, bobj.size, bobj.etag, bobj.version_id, bobj.sequencer)
        return Parsed(sources=[source], request_id=bridged.request_id)
    parsed = Parsed()
    for record in S3Notification.model_validate(event).Records:
        if not record.eventName.startswith("ObjectCreated:"):
            parsed.skipped.append(record.eventName)
            continue
        obj = record.s3.object or record.s3.get_object
        if obj is None or obj.eTag is None:  # the validator above refuses such a creation
            continue
        parsed.sources.append(_source(record.s3.bucket.name, obj.key, obj.size, obj.eTag, obj.versionId, obj.sequencer))
        if record.responseElements is not None:
            parsed.request_id = parsed.request_id or record.responseElements.x_amz_request_id
    return parsed


def _source(
    bucket: str, key: str, size: float | None, etag: str, version_id: str | None, sequencer: str | None
) -> SourceObject:
    decoded = unquote_plus(key)  # S3 URL-encodes keys in events: a space arrives as "+"
    _Bounds(bucket=bucket, key=decoded, etag=etag)
    return SourceObject(
        bucket=bucket,
        key=decoded,
        version=object_version(version_id, etag),
        size=int(size) if size is not None else None,
        sequencer=sequencer or None,
        etag=quoted_etag(etag),
    )
