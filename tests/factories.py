"""Builders the tests share: corpus uploads through the API, objects put as any S3 client would, and the
notifications S3 sends for them."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.constants import job_key_prefix

from conftest import corpus, load_event
from imagepipe import aws
from imagepipe.settings import get_settings


async def upload(
    api: httpx.AsyncClient,
    *parts: str,
    recipe: dict[str, Any] | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """POST /images with a corpus file (``upload(api, "images", "baseline", "hopper.jpg")``)."""
    path = corpus(*parts)
    data = {"recipe": json.dumps(recipe)} if recipe else None
    return await api.post("/images", files={"file": (path.name, path.read_bytes(), content_type)}, data=data)


async def uploaded(api: httpx.AsyncClient, *parts: str, recipe: dict[str, Any] | None = None) -> str:
    """The image id of an accepted upload of a corpus file."""
    resp = await upload(api, *parts, recipe=recipe)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["image_id"])


def head(key: str) -> dict[str, Any]:
    """An object of the upload bucket as an S3 event describes it (ETag bare, as S3 sends it)."""
    found = aws.s3_client().head_object(Bucket=get_settings().upload_bucket, Key=key)
    return {
        "key": key,
        "size": found["ContentLength"],
        "eTag": found["ETag"].strip('"'),
        "versionId": found["VersionId"],
    }


def put(key: str, data: bytes) -> dict[str, Any]:
    """Write an object into the upload bucket as any client would; returns it as an S3 event describes it."""
    aws.s3_client().put_object(Bucket=get_settings().upload_bucket, Key=key, Body=data)
    return head(key)


def s3_notification(obj: dict[str, Any], sequencer: str | None = None) -> dict[str, Any]:
    """The S3 notification S3 sends for ``obj`` in the upload bucket (key URL-encoded, as S3 does)."""
    event = copy.deepcopy(load_event("s3-put.json"))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = get_settings().upload_bucket
    record["s3"]["object"] = {**obj, "key": obj["key"].replace(" ", "+")}
    if sequencer is not None:
        record["s3"]["object"]["sequencer"] = sequencer
    return event


def aimed(event: dict[str, Any], bucket: str) -> dict[str, Any]:
    """A sample event re-aimed at this test's upload bucket (sample events name another bucket)."""
    text = json.dumps(event)
    for name in ("imagepipe-uploads", "example-bucket", "xxx", "lambda-artifacts-deafc19498e3f2df", "sourcebucket"):
        text = text.replace(f'"{name}"', f'"{bucket}"').replace(f'\\"{name}\\"', f'\\"{bucket}\\"')
    return json.loads(text)  # type: ignore[no-any-return]


async def withdraw(pool: ArqRedis, job_id: str) -> None:
    """Take a queued job out of the queue, as if it had never been queued (its id may then be queued anew)."""
    await pool.zrem(get_settings().queue_name, job_id)
    await pool.delete(job_key_prefix + job_id)
