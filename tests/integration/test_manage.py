"""Reprocessing with a new recipe and deleting an image, through the API and the real worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from conftest import RunWorker
from factories import uploaded
from imagepipe.settings import get_settings


async def processed(api: httpx.AsyncClient, run_worker: RunWorker) -> dict[str, Any]:
    image_id = await uploaded(api, "images", "baseline", "hopper.jpg")
    await run_worker()
    record: dict[str, Any] = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded"
    return record


async def test_reprocess_with_a_new_recipe(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    record = await processed(api, run_worker)
    recipe = {"variants": [{"name": "tiny", "width": 32, "height": 32, "fit": "cover", "format": "png"}]}
    resp = await api.post(f"/images/{record['image_id']}/reprocess", json={"recipe": recipe})
    assert resp.status_code == 202, resp.text
    again = await api.post(f"/images/{record['image_id']}/reprocess")
    assert again.status_code == 409 and again.json()["error"]["code"] == "busy"  # still queued
    await run_worker()
    redone = (await api.get(f"/images/{record['image_id']}")).json()
    assert redone["status"] == "succeeded"
    assert [(v["name"], v["width"], v["height"], v["format"]) for v in redone["variants"]] == [("tiny", 32, 32, "png")]
    assert redone["attempts"] == 1


async def test_delete_removes_variants_original_and_record(
    api: httpx.AsyncClient, run_worker: RunWorker, s3: Any
) -> None:
    record = await processed(api, run_worker)
    resp = await api.delete(f"/images/{record['image_id']}")
    assert resp.status_code == 204
    assert (await api.get(f"/images/{record['image_id']}")).status_code == 404
    assert (await api.delete(f"/images/{record['image_id']}")).status_code == 404
    settings = get_settings()
    for variant in record["variants"]:
        with pytest.raises(ClientError):
            s3.head_object(Bucket=settings.output_bucket, Key=variant["key"])
    versions = s3.list_object_versions(Bucket=settings.upload_bucket, Prefix=record["source"]["key"])
    assert [v["VersionId"] for v in versions.get("Versions", [])] == []
