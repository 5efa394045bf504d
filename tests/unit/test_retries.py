"""The one place a failure's fate is decided: retried with backoff while retryable and tries remain,
else given up; a stuck record is given up when its upload never came or it keeps crashing workers."""

from __future__ import annotations

import pytest

from imagepipe.errors import ImagePipeError, InternalError, InvalidImage, TransientError
from imagepipe.models import DEFAULT_RECIPE, ImageRecord, SourceObject, Status
from imagepipe.records import PENDING_VERSION
from imagepipe.retries import retry_delay, stuck_verdict
from imagepipe.settings import Settings

SETTINGS = Settings(max_tries=3, retry_base_seconds=1.0)


@pytest.mark.parametrize(
    ("error", "job_try", "retried"),
    [
        (TransientError("S3 throttled"), 1, True),
        (TransientError("S3 throttled"), 2, True),
        (TransientError("S3 throttled"), 3, False),  # out of tries: a dead letter
        (InvalidImage("not an image"), 1, False),
        (InternalError("KeyError: 'x'"), 1, False),
    ],
)
def test_only_retryable_failures_are_retried_and_only_while_tries_remain(
    error: ImagePipeError, job_try: int, retried: bool
) -> None:
    delay = retry_delay(error, job_try, SETTINGS)
    assert (delay is not None) == retried
    if delay is not None:
        assert 0 <= delay <= SETTINGS.retry_base_seconds * 2 ** (job_try - 1)


def record(version: str, attempts: int) -> ImageRecord:
    source = SourceObject(bucket="b", key="uploads/x.jpg", version=version)
    return ImageRecord(
        image_id="a" * 32,
        tenant="local",
        status=Status.PROCESSING,
        source=source,
        recipe=DEFAULT_RECIPE,
        attempts=attempts,
        created_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-01T00:00:00+00:00",
    )


def test_a_stuck_record_is_given_up_for_its_reason_or_queued_again() -> None:
    missing = stuck_verdict(record(PENDING_VERSION, 0), SETTINGS)
    assert missing is not None and missing.code == "upload_missing"
    crashing = stuck_verdict(record("v1", 6), SETTINGS)  # twice the retry budget of 3
    assert crashing is not None and crashing.code == "worker_crashed"
    assert stuck_verdict(record("v1", 5), SETTINGS) is None


def test_every_failure_code_is_an_error_class_with_a_record_shape() -> None:
    import imagepipe.errors as errors

    subclasses = [getattr(errors, name) for name in errors.__all__ if name != "ImagePipeError"]
    codes = {cls.code for cls in subclasses}
    assert {"too_large", "worker_crashed", "upload_missing", "internal_error", "transient", "timeout"} <= codes
    assert len(codes) == len(subclasses)  # one class per code
    assert TransientError("x").as_dict() == {"code": "transient", "message": "x"}
