"""Transient S3 and DynamoDB failures, injected into the real boto3 clients the worker uses: retried
with backoff up to the bound, then failed cleanly as a dead letter that can be replayed."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError

from conftest import RunWorker
from factories import uploaded
from imagepipe import aws
from imagepipe.replay import replay
from imagepipe.services import Services
from imagepipe.settings import Settings, get_settings


class Outage:
    """Fails the next ``remaining`` calls of one operation as a dropped connection would."""

    def __init__(self, client: Any, event: str, remaining: int) -> None:
        self.client, self.event, self.remaining, self.calls = client, event, remaining, 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.remaining != 0:
            self.remaining -= 1
            raise EndpointConnectionError(endpoint_url="http://injected-outage")

    def __enter__(self) -> Outage:
        self.client.meta.events.register(self.event, self)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister(self.event, self)


async def upload(api: httpx.AsyncClient) -> str:
    return await uploaded(api, "images", "baseline", "hopper.jpg")


async def test_s3_outage_is_retried_until_it_passes(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    image_id = await upload(api)
    # botocore itself tries 3 times per call: 4 failures make the first job try fail, the second pass
    with Outage(aws.s3_client(), "before-send.s3.GetObject", remaining=4) as outage:
        await run_worker()
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded", record
    assert record["attempts"] == 2
    assert outage.calls == 5


async def test_dynamodb_outage_is_retried_until_it_passes(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    image_id = await upload(api)
    with Outage(aws.dynamodb_client(), "before-send.dynamodb.UpdateItem", remaining=3):
        await run_worker()
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded", record


async def test_lasting_outage_gives_up_as_a_dead_letter_and_replays(
    api: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    settings = get_settings()
    before = (await api.get("/queue")).json()["dead_letters"]
    image_id = await upload(api)
    with Outage(aws.s3_client(), "before-send.s3.GetObject", remaining=-1) as outage:
        await run_worker()
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "failed"
    assert record["error"]["code"] == "transient"
    assert record["attempts"] == settings.max_tries
    assert outage.calls == 3 * settings.max_tries
    stats = (await api.get("/queue")).json()
    assert stats["dead_letters"] == before + 1
    assert (stats["depth"], stats["in_progress"]) == (0, 0)

    services = Services.build(settings)
    try:
        replayed = await replay(services, image_ids=[image_id])
    finally:
        await services.close()
    assert [r.image_id for r in replayed] == [image_id]
    await run_worker()
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded", record
    assert (await api.get("/queue")).json()["dead_letters"] == before


async def test_replay_refuses_a_redis_no_worker_listens_on(
    api: httpx.AsyncClient, run_worker: RunWorker, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make replay` pointed at the wrong Redis (another database here; the default URL, say) would queue jobs
    nobody runs and leave the records queued: it says so and changes nothing."""
    from imagepipe.replay import _main

    image_id = await upload(api)
    with Outage(aws.s3_client(), "before-send.s3.GetObject", remaining=-1):
        await run_worker()
    assert (await api.get(f"/images/{image_id}")).json()["status"] == "failed"
    monkeypatch.setenv("IMAGEPIPE_REDIS_URL", get_settings().redis_url.rsplit("/", 1)[0] + "/15")
    get_settings.cache_clear()
    try:
        assert await _main(["--image-id", image_id]) == 2
        assert "no worker is alive on redis://" in capsys.readouterr().err
        assert (await api.get(f"/images/{image_id}")).json()["status"] == "failed"
        assert await _main(["--dry-run"]) == 0  # listing needs no worker
        assert f"would replay {image_id} (transient)" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_a_dead_imaging_process_is_replaced_and_the_job_retried(
    api: httpx.AsyncClient, run_worker: RunWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker as worker_module

    made: list[Executor] = []

    def executor(settings: Settings) -> Executor:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        if not made:  # the first pool loses its process, as to the kernel's OOM killer
            with contextlib.suppress(BrokenProcessPool):
                pool.submit(os._exit, 1).result()
        made.append(pool)
        return pool

    monkeypatch.setattr(worker_module, "imaging_executor", executor)
    image_id = await upload(api)
    await run_worker()
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded", record
    assert record["attempts"] == 2
    assert len(made) == 2
