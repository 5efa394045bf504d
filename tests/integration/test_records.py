"""Conditional transitions of the images table against moto: a refused write answers with the item as it
stood (``ReturnValuesOnConditionCheckFailure``), so the caller learns why without reading it again."""

from __future__ import annotations

from imagepipe import aws
from imagepipe.keys import new_image_id
from imagepipe.models import DEFAULT_RECIPE, ImageMetadata, SourceObject
from imagepipe.records import ImageRecords, Registration, StartOutcome
from imagepipe.settings import get_settings

METADATA = ImageMetadata(
    width=1, height=1, format="PNG", mode="RGB", bytes=1, sha256="0" * 64, frames=1, dominant_color="#000000"
)


def source(version: str, sequencer: str) -> SourceObject:
    return SourceObject(bucket="b", key="uploads/k.png", version=version, sequencer=sequencer, etag=f'"{version}"')


def test_a_refused_start_says_whether_the_version_was_superseded_done_or_missing(records: ImageRecords) -> None:
    image_id = new_image_id()
    assert records.register(image_id, source("v1", "01"), DEFAULT_RECIPE, "local")[0] is Registration.CREATED
    assert records.register(image_id, source("v2", "02"), DEFAULT_RECIPE, "local")[0] is Registration.UPDATED
    assert records.start(image_id, "v1")[0] is StartOutcome.SUPERSEDED
    assert records.start(image_id, "v2")[0] is StartOutcome.STARTED
    assert records.succeed(image_id, "v2", [], METADATA)
    assert records.start(image_id, "v2")[0] is StartOutcome.DONE
    assert records.start(new_image_id(), "v1") == (StartOutcome.MISSING, None)


def test_registration_of_a_known_version_returns_the_record_without_writing_it(records: ImageRecords) -> None:
    image_id = new_image_id()
    _, created = records.register(image_id, source("v1", "01"), DEFAULT_RECIPE, "local")
    outcome, found = records.register(image_id, source("v1", "01"), DEFAULT_RECIPE, "local")
    assert (outcome, found) == (Registration.DUPLICATE, created)
    assert records.register(image_id, source("v0", "00"), DEFAULT_RECIPE, "local")[0] is Registration.STALE


def test_a_start_that_names_its_tenant_is_checked_against_the_record(records: ImageRecords) -> None:
    """A job names its record's tenant (jobs.enqueue_record): the start's condition checks it, so the write need
    not send the record back; a job naming another tenant starts nothing and counts no attempt."""
    image_id = new_image_id()
    records.register(image_id, source("v1", "01"), DEFAULT_RECIPE, "acme")
    assert records.start(image_id, "v1", "other") == (StartOutcome.FOREIGN, None)
    untouched = records.get(image_id)
    assert untouched is not None and untouched.status.value == "queued" and untouched.attempts == 0
    assert records.start(image_id, "v1", "acme") == (StartOutcome.STARTED, "acme")
    assert records.start(image_id, "v0", "acme")[0] is StartOutcome.SUPERSEDED
    assert records.succeed(image_id, "v1", [], METADATA)
    assert records.start(image_id, "v1", "acme") == (StartOutcome.DONE, None)
    assert records.start(new_image_id(), "v1", "acme") == (StartOutcome.MISSING, None)
    # a job from before jobs named their tenant reads it from the record
    other = new_image_id()
    records.register(other, source("v1", "01"), DEFAULT_RECIPE, "acme")
    assert records.start(other, "v1") == (StartOutcome.STARTED, "acme")


def test_a_record_from_before_tenants_starts_for_the_default_tenant_only(records: ImageRecords) -> None:
    image_id = new_image_id()
    records.register(image_id, source("v1", "01"), DEFAULT_RECIPE, "local")
    aws.dynamodb_client().update_item(  # as written before records had a tenant
        TableName=get_settings().table_name, Key={"image_id": {"S": image_id}}, UpdateExpression="REMOVE tenant"
    )
    assert records.start(image_id, "v1", "acme") == (StartOutcome.FOREIGN, None)
    assert records.start(image_id, "v1", "local") == (StartOutcome.STARTED, "local")
