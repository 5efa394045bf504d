"""S3 notifications as S3 sends them, from the ones moto sends.

moto 5.2 puts only ``key``, ``size`` and ``eTag`` in an event's ``s3.object``. S3 also sends, for a versioned
bucket like the upload bucket, the ``versionId`` of the version the event is about and a ``sequencer`` that
orders one key's events. Without them the trigger falls back to the ETag as the version (ARCHITECTURE.md), and
the local stack then disagrees with the API, which names the versionId: the same upload is announced as two
versions (a failed upload processed twice), ``DELETE`` leaves the original's version behind (the record names
an ETag, not a version), and an overwritten version is fetched by an ETag that no longer matches
(``source_missing`` instead of standing down).

The bridge completes each record from the bucket's versions of the key: the newest version with the event's
ETag (a key written twice with the same bytes has two; either renders the same picture), and as sequencer its
place among the key's versions, oldest first, so that a later write has the greater one, as in S3. A record
that already has a ``versionId``, that is not a creation, or whose version cannot be found is passed on as it
came: the trigger copes with those as it does in AWS.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from imagepipe.storage import quoted_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("bridge")


def completed(body: str, s3: S3Client) -> str:
    """``body``, an S3 notification as moto sends it, with each creation's ``versionId`` and ``sequencer``."""
    try:
        event = json.loads(body)
    except ValueError:
        return body
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return body
    changed = False
    for record in records:
        changed |= _complete(record, s3)
    return json.dumps(event) if changed else body


def _complete(record: Any, s3: S3Client) -> bool:
    if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated"):
        return False
    detail = record.get("s3")
    bucket = detail.get("bucket", {}).get("name") if isinstance(detail, dict) else None
    obj = detail.get("object") if isinstance(detail, dict) else None
    if not isinstance(bucket, str) or not isinstance(obj, dict) or obj.get("versionId"):
        return False
    key, etag = obj.get("key"), obj.get("eTag")
    if not isinstance(key, str) or not isinstance(etag, str):
        return False
    found = _version_of(s3, bucket, unquote_plus(key), quoted_etag(etag))
    if found is None:
        return False
    obj["versionId"], obj["sequencer"] = found
    return True


def _version_of(s3: S3Client, bucket: str, key: str, etag: str) -> tuple[str, str] | None:
    """(versionId, sequencer) of the newest version of ``key`` whose ETag is ``etag`` (quoted)."""
    versions: list[tuple[str, str]] = []  # (versionId, quoted ETag), newest first, as S3 lists them
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            versions += [(v["VersionId"], quoted_etag(v["ETag"])) for v in page.get("Versions", []) if v["Key"] == key]
    except (BotoCoreError, ClientError) as exc:
        log.warning("could not list the versions of s3://%s/%s: %s", bucket, key, exc)
        return None
    for newer, (version_id, version_etag) in enumerate(versions):
        if version_etag == etag and version_id != "null":  # "null": written while versioning was off
            return version_id, f"{len(versions) - 1 - newer:016X}"
    return None
