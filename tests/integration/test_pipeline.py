"""Upload through the API, process with the real arq worker, read the result: real Redis, moto, the engine."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import RunWorker
from factories import upload, withdraw
from imagepipe import jobs, liveness
from imagepipe.models import DEFAULT_RECIPE, Recipe
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings


async def test_upload_is_processed_into_every_variant(api: httpx.AsyncClient, run_worker: RunWorker, s3: Any) -> None:
    resp = await upload(api, "images", "orientation", "Landscape_6.jpg")
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "queued"
    assert resp.headers["Location"] == f"/images/{body['image_id']}"

    await run_worker()

    record = (await api.get(resp.headers["Location"])).json()
    assert record["status"] == "succeeded", record
    assert record["attempts"] == 1
    assert record["metadata"]["width"] > record["metadata"]["height"]  # upright landscape
    by_name = {v["name"]: v for v in record["variants"]}
    assert set(by_name) == {v.name for v in DEFAULT_RECIPE.variants}
    for wanted in DEFAULT_RECIPE.variants:
        got = by_name[wanted.name]
        obj = s3.get_object(Bucket=get_settings().output_bucket, Key=got["key"])
        with Image.open(io.BytesIO(obj["Body"].read())) as im:
            assert im.format == wanted.format.value.upper()
            assert im.size == (got["width"], got["height"])
            assert im.width <= (wanted.width or im.width) and im.height <= (wanted.height or im.height)
            assert not im.getexif()
        assert obj["ContentType"] == wanted.format.content_type
    assert (by_name["thumb"]["width"], by_name["thumb"]["height"]) == (256, 256)


async def test_variant_redirects_to_a_downloadable_url(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    recipe = {"variants": [{"name": "small", "width": 64, "format": "png"}], "filters": [{"op": "grayscale"}]}
    image_id = (await upload(api, "images", "baseline", "hopper.jpg", recipe=recipe)).json()["image_id"]
    await run_worker()

    resp = await api.get(f"/images/{image_id}/variants/small")
    assert resp.status_code == 307
    # a shared cache must not keep a redirect to a URL that expires and carries a signature
    assert (resp.headers["Cache-Control"], resp.headers["X-Content-Type-Options"]) == ("no-store", "nosniff")
    async with httpx.AsyncClient() as plain:
        download = await plain.get(resp.headers["location"])
    assert download.status_code == 200
    with Image.open(io.BytesIO(download.content)) as im:
        assert (im.format, im.size) == ("PNG", (64, 64))
        r, g, b = im.convert("RGB").getpixel((32, 32))  # type: ignore[misc]
        assert r == g == b

    missing = await api.get(f"/images/{image_id}/variants/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_a_non_image_is_refused_at_upload_and_nothing_is_stored(api: httpx.AsyncClient, s3: Any) -> None:
    before = s3.list_objects_v2(Bucket=get_settings().upload_bucket).get("KeyCount", 0)
    resp = await upload(api, "images", "not_an_image", "test-ole-file.doc", content_type="image/jpeg")
    assert resp.status_code == 415, resp.text
    assert resp.json()["error"]["code"] == "unsupported_media_type"
    assert "JPEG, PNG" in resp.json()["error"]["message"]
    assert s3.list_objects_v2(Bucket=get_settings().upload_bucket).get("KeyCount", 0) == before


async def test_a_broken_image_fails_cleanly_and_the_worker_keeps_serving(
    api: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    bad = (await upload(api, "images", "corrupt", "truncated_jpeg.jpg")).json()["image_id"]
    good = (await upload(api, "images", "baseline", "hopper.png")).json()["image_id"]
    await run_worker()

    failed = (await api.get(f"/images/{bad}")).json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "invalid_image"
    assert failed["attempts"] == 1
    assert (await api.get(f"/images/{good}")).json()["status"] == "succeeded"
    not_ready = await api.get(f"/images/{bad}/variants/thumb")
    assert not_ready.status_code == 409


async def test_recipe_out_of_bounds_is_refused_with_the_reason(api: httpx.AsyncClient) -> None:
    too_big = {"variants": [{"name": "huge", "width": 100_000}]}
    resp = await upload(api, "images", "baseline", "hopper.jpg", recipe=too_big)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_recipe"
    assert "width" in error["message"]

    resp = await upload(api, "images", "baseline", "hopper.jpg", recipe={"variants": []})
    assert resp.status_code == 422 and "variants" in resp.json()["error"]["message"]


async def test_missing_file_and_unknown_image_are_json_errors(api: httpx.AsyncClient) -> None:
    resp = await api.post("/images", data={"recipe": "{}"})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_request"
    resp = await api.get("/images/0123456789abcdef0123456789abcdef")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": resp.json()["error"]["message"]}}


async def test_one_object_version_is_queued_once(api: httpx.AsyncClient, stack_env: dict[str, str]) -> None:
    pool = await jobs.connect(get_settings())
    try:

        def enqueue(version: str) -> Awaitable[bool]:
            return jobs.enqueue_processing(
                pool, image_id="f" * 32, bucket="b", key="k", version=version, recipe=DEFAULT_RECIPE
            )

        assert await enqueue("v1") is True
        assert await enqueue("v1") is False
        assert await enqueue("v2") is True
        raw = await pool.get(f"arq:job:{jobs.job_id('f' * 32, 'v1')}")
        assert raw is not None
        payload = jobs.deserialize(raw)  # msgpack, readable by any consumer; never pickle
        assert payload["f"] == "process_image"
        assert Recipe.model_validate(payload["k"]["recipe"]) == DEFAULT_RECIPE
        await pool.delete(get_settings().queue_name)
    finally:
        await pool.aclose()


async def test_health_needs_a_live_worker(api: httpx.AsyncClient, stack_env: dict[str, str]) -> None:
    resp = await api.get("/healthz")
    assert resp.status_code == 503, resp.text
    checks = resp.json()["checks"]
    assert checks["workers"] == "error: no worker alive"
    assert {k: v for k, v in checks.items() if k != "workers"} == {
        "redis": "ok",
        "s3_uploads": "ok",
        "s3_outputs": "ok",
        "dynamodb": "ok",
    }

    pool = await jobs.connect(get_settings())
    try:
        await liveness.beat(pool, "test-host:1", ttl=30)
        resp = await api.get("/healthz")
        assert resp.status_code == 200, resp.text
        assert resp.json()["checks"]["workers"] == "ok: 1 alive"
        await liveness.leave(pool, "test-host:1")
    finally:
        await pool.aclose()


async def test_openapi_documents_the_routes(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert {
        "/images",
        "/images/uploads",
        "/images/{image_id}",
        "/images/{image_id}/variants/{name}",
        "/images/{image_id}/reprocess",
        "/healthz",
        "/queue",
    } <= set(spec["paths"])
    assert {"get", "delete"} <= set(spec["paths"]["/images/{image_id}"])
    assert "202" in spec["paths"]["/images"]["post"]["responses"]


async def test_queue_shows_the_engine_each_worker_renders_with(
    api: httpx.AsyncClient, stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import worker as worker_module

    monkeypatch.setenv("IMAGEPIPE_ENGINE", "pillow")
    get_settings.cache_clear()
    pool = await jobs.connect(get_settings())
    ctx: dict[str, Any] = {"redis": pool}
    try:
        with caplog.at_level(logging.INFO, logger="imagepipe.worker"):
            await worker_module.startup(ctx)
        assert f"worker {ctx['worker_id']} started: engine pillow" in caplog.text
        for _ in range(100):  # the heartbeat task beats as soon as the loop lets it
            engines = (await api.get("/queue")).json()["engines"]
            if ctx["worker_id"] in engines:
                break
            await asyncio.sleep(0.05)
        assert engines[ctx["worker_id"]] == "pillow"
    finally:
        await worker_module.shutdown(ctx)
        await pool.aclose()
        get_settings.cache_clear()
    assert ctx["worker_id"] not in (await api.get("/queue")).json()["engines"]  # gone with the worker


async def test_queue_does_not_count_a_finished_sweep_as_running(
    api: httpx.AsyncClient, stack_env: dict[str, str]
) -> None:
    """arq keeps a cron job's in-progress key after the job ends (so that no other worker runs it again that
    minute); only a job still in the queue is running."""
    from arq.constants import in_progress_key_prefix

    settings = get_settings()
    pool = await jobs.connect(settings)
    running, waiting = jobs.job_id("a" * 32, "v1"), jobs.job_id("b" * 32, "v1")
    keys = [f"{in_progress_key_prefix}{running}", f"{in_progress_key_prefix}sweep:1765000000000"]
    try:
        before = (await api.get("/queue")).json()
        await pool.zadd(settings.queue_name, {running: 1, waiting: 2})
        for key in keys:
            await pool.set(key, b"1", px=60_000)
        stats = (await api.get("/queue")).json()
        assert (stats["depth"], stats["in_progress"]) == (before["depth"] + 1, before["in_progress"] + 1)
    finally:
        await pool.zrem(settings.queue_name, running, waiting)
        await pool.delete(*keys)
        await pool.aclose()


async def test_a_job_from_a_newer_producer_with_a_keyword_this_worker_does_not_know_is_processed(
    api: httpx.AsyncClient, run_worker: RunWorker, records: ImageRecords
) -> None:
    """Producers may be deployed before workers: an optional keyword a worker does not know yet is ignored."""
    image_id = (await upload(api, "images", "baseline", "hopper.jpg")).json()["image_id"]
    record = records.get(image_id)
    assert record is not None
    settings, source = get_settings(), record.source
    jid = jobs.job_id(image_id, source.version)
    pool = await jobs.connect(settings)
    try:
        await withdraw(pool, jid)  # the upload's own job makes way for a newer producer's
        queued = await pool.enqueue_job(
            jobs.PROCESS_IMAGE,
            _job_id=jid,
            image_id=image_id,
            bucket=source.bucket,
            key=source.key,
            version=source.version,
            recipe=record.recipe.model_dump(mode="json"),
            tenant=record.tenant,
            priority="high",  # a keyword of some later release
        )
        assert queued is not None
        assert (await run_worker()).jobs_complete == 1
    finally:
        await pool.aclose()
    done = records.get(image_id)
    assert done is not None and done.status.value == "succeeded" and done.attempts == 1
