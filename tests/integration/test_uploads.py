"""Direct-to-S3 uploads with a presigned POST from a plain HTTP client, and finding images in the list."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from conftest import Handler, RunWorker, corpus
from factories import head, s3_notification, uploaded
from imagepipe import aws
from imagepipe.settings import get_settings
from sam import LambdaRuntime


async def presign(api: httpx.AsyncClient, size: int, **extra: Any) -> httpx.Response:
    body = {"filename": "big photo.jpg", "content_type": "image/jpeg", "size": size, **extra}
    return await api.post("/images/uploads", json=body)


@pytest.mark.parametrize("claimed", ["image/jpeg", "image/png"], ids=["true-claim", "false-claim"])
async def test_presigned_post_upload_is_processed_and_listed(
    api: httpx.AsyncClient, run_worker: RunWorker, runtime: LambdaRuntime, trigger: Handler, claimed: str
) -> None:
    data = corpus("images", "orientation", "Landscape_6.jpg").read_bytes()
    recipe = {"variants": [{"name": "small", "width": 300, "format": "webp"}]}
    resp = await presign(api, len(data), recipe=recipe, content_type=claimed)
    assert resp.status_code == 201, resp.text
    form = resp.json()
    assert form["key"] == f"uploads/local/{form['image_id']}/big-photo.jpg"
    pending = (await api.get(form["location"])).json()
    assert pending["status"] == "queued"

    async with httpx.AsyncClient() as plain:  # what a browser or curl does with the form
        upload = await plain.post(form["url"], data=form["fields"], files={"file": ("x.jpg", data, claimed)})
    assert upload.status_code in (200, 204), upload.text

    # S3 would now send its event; moto does not call Lambda, so hand the trigger what S3 sends
    event = s3_notification(head(form["key"]), "0062A1B2C3D4E5F601")
    results = (await runtime.invoke(trigger, event))["results"]
    assert [(r["image_id"], r["outcome"]) for r in results] == [(form["image_id"], "enqueued")]
    await run_worker()

    listed = (await api.get("/images", params={"source_key": form["key"]})).json()
    assert listed["next"] is None
    [item] = listed["items"]
    assert item["image_id"] == form["image_id"]
    assert item["status"] == "succeeded"
    assert [(v["name"], v["format"], v["width"]) for v in item["variants"]] == [("small", "webp", 300)]
    assert (item["metadata"]["width"], item["metadata"]["height"]) == (1800, 1200)  # upright
    # whatever the client claimed, the record says what the bytes are, and the variant is what it says
    assert (item["metadata"]["format"], item["source"]["content_type"]) == ("JPEG", None)
    variant = aws.s3_client().head_object(Bucket=get_settings().output_bucket, Key=item["variants"][0]["key"])
    assert variant["ContentType"] == "image/webp"


async def test_presigned_policy_binds_size_type_and_key(api: httpx.AsyncClient) -> None:
    form = (await presign(api, 1234)).json()
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 1234] in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert {"key": form["key"]} in conditions
    assert form["expires_in"] == get_settings().presign_expiry_seconds


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content_type": "application/pdf"}, 415, "unsupported_media_type"),
        ({"size": 10**12}, 413, "too_large"),
        ({"size": 0}, 422, "invalid_request"),
        ({"recipe": {"variants": []}}, 422, "invalid_recipe"),
    ],
)
async def test_presign_refuses_what_it_cannot_take(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    resp = await api.post(
        "/images/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, **body}
    )
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


async def test_listing_is_newest_first_filtered_and_paginated(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    ids = [await uploaded(api, "images", "baseline", "hopper.gif") for _ in range(3)]
    await run_worker()
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        params = {"limit": "2", **({"next": cursor} if cursor else {})}
        page = (await api.get("/images", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [i["image_id"] for i in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert seen.index(ids[2]) < seen.index(ids[1]) < seen.index(ids[0])  # newest first
    assert len(seen) == len(set(seen))
    succeeded = (await api.get("/images", params={"status": "succeeded", "limit": "100"})).json()["items"]
    assert {i["status"] for i in succeeded} == {"succeeded"}
    assert set(ids) <= {i["image_id"] for i in succeeded}
    bad = await api.get("/images", params={"next": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"


async def test_malformed_requests_get_messages_a_person_can_act_on(api: httpx.AsyncClient) -> None:
    as_text = await api.post("/images", data={"file": "photo.jpg"})  # a form field, not a file part
    assert as_text.status_code == 422
    assert "a file part" in as_text.json()["error"]["message"], as_text.text
    assert "class" not in as_text.json()["error"]["message"]
    recipe = b'{"variants": [{"name": "a", "width": 10}]}'
    as_file = await api.post("/images", files={"file": ("a.jpg", b"x"), "recipe": ("recipe.json", recipe)})
    assert as_file.status_code == 422
    assert "recipe=<recipe.json" in as_file.json()["error"]["message"], as_file.text
    body = '{"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}'
    not_json = await api.post("/images/uploads", content=body, headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 422
    assert "application/json" in not_json.json()["error"]["message"], not_json.text
    long_id = await api.get(f"/images/{'a' * 5000}")
    assert long_id.status_code == 404
    assert len(long_id.json()["error"]["message"]) < 200  # the id is not echoed whole
