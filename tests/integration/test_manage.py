"""Reprocessing with a new recipe and deleting an image, through the API and the real worker."""

from __future__ import annotations

import asyncio
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


async def test_delete_leaves_nothing_of_the_image_to_come_back(
    api: httpx.AsyncClient, run_worker: RunWorker, s3: Any
) -> None:
    """Every version of every original in the image's folder, and the variants of earlier recipes too: a version
    left behind would become current, and the recovery sweep would take it for a new upload."""
    record = await processed(api, run_worker)
    image_id, source = record["image_id"], record["source"]
    first_variants = record["variants"]
    recipe = {"variants": [{"name": "tiny", "width": 32, "height": 32, "fit": "cover", "format": "png"}]}
    assert (await api.post(f"/images/{image_id}/reprocess", json={"recipe": recipe})).status_code == 202
    await run_worker()
    settings = get_settings()
    folder = source["key"].rpartition("/")[0] + "/"
    s3.put_object(Bucket=settings.upload_bucket, Key=source["key"], Body=b"a newer version")
    s3.put_object(Bucket=settings.upload_bucket, Key=f"{folder}other.jpg", Body=b"another original")
    assert (await api.delete(f"/images/{image_id}")).status_code == 204
    left = s3.list_object_versions(Bucket=settings.upload_bucket, Prefix=folder)
    assert (left.get("Versions", []), left.get("DeleteMarkers", [])) == ([], [])
    outputs = first_variants[0]["key"].rpartition("/")[0] + "/"
    assert s3.list_objects_v2(Bucket=settings.output_bucket, Prefix=outputs).get("Contents", []) == []


async def test_an_image_deleted_while_it_is_processed_keeps_no_variant(
    api: httpx.AsyncClient, run_worker: RunWorker, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline

    image_id = await uploaded(api, "images", "baseline", "hopper.jpg")
    store_variant, deleted = pipeline._store_variant, asyncio.Event()

    async def deleted_first(services: Any, tenant: str, image_id: str, variant: Any) -> Any:
        if not deleted.is_set():  # the user deletes the image as the worker starts storing its variants
            deleted.set()
            assert (await api.delete(f"/images/{image_id}")).status_code == 204
        return await store_variant(services, tenant, image_id, variant)

    monkeypatch.setattr(pipeline, "_store_variant", deleted_first)
    await run_worker()
    assert deleted.is_set()
    assert (await api.get(f"/images/{image_id}")).status_code == 404
    settings = get_settings()
    stored = s3.list_objects_v2(Bucket=settings.output_bucket, Prefix=settings.output_prefix).get("Contents", [])
    assert [o["Key"] for o in stored if f"/{image_id}/" in o["Key"]] == []


async def test_a_misspelt_field_is_refused_not_ignored(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    record = await processed(api, run_worker)
    recipe = {"variants": [{"name": "tiny", "width": 32, "format": "png"}]}
    resp = await api.post(f"/images/{record['image_id']}/reprocess", json={"recipie": recipe})
    assert resp.status_code == 422, resp.text  # not a reprocess with the old recipe
    assert "recipie" in resp.json()["error"]["message"]
    assert (await api.get(f"/images/{record['image_id']}")).json()["status"] == "succeeded"
