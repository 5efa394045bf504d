"""A Redis connection lost while the worker claims a job (claims.py): the real worker, the real Redis, and
between them a TCP proxy that cuts the first connection that sends WATCH as soon as Redis has answered it,
which is what a Redis restart at that moment does to the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from arq.connections import RedisSettings
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import WatchError

from conftest import RunWorker
from factories import uploaded
from imagepipe import jobs
from imagepipe.settings import get_settings


@dataclass
class CuttingProxy:
    """Forwards to Redis; cuts the first connection that sends WATCH once Redis's reply has passed back."""

    host: str
    port: int
    cuts: int = 0
    url: str = ""

    async def serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection(self.host, self.port)
        watched = asyncio.Event()

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if not self.cuts and b"WATCH" in data.upper():
                    self.cuts += 1
                    watched.set()
                redis_writer.write(data)
                await redis_writer.drain()

        async def downstream() -> None:
            while data := await redis_reader.read(65536):
                client_writer.write(data)
                await client_writer.drain()
                if watched.is_set():
                    return  # the reply to WATCH has gone back: the connection dies, as in a restart

        pumps = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        with contextlib.suppress(ConnectionError):
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for writer in (client_writer, redis_writer):
            writer.close()


@contextlib.asynccontextmanager
async def cutting_proxy(redis_url: str) -> AsyncIterator[CuttingProxy]:
    parts = urlsplit(redis_url)
    proxy = CuttingProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy.url = f"redis://127.0.0.1:{port}{parts.path}"
    try:
        yield proxy
    finally:
        server.close()


def through(proxy: CuttingProxy) -> RedisSettings:
    """The worker's Redis settings, with the proxy in Redis's place."""
    return jobs.redis_settings(get_settings().model_copy(update={"redis_url": proxy.url}))


async def test_a_connection_lost_while_claiming_a_job_leaves_it_queued_and_the_worker_running(
    api: httpx.AsyncClient, run_worker: RunWorker, caplog: pytest.LogCaptureFixture
) -> None:
    image_id = await uploaded(api, "images", "orientation", "Landscape_6.jpg")
    async with cutting_proxy(get_settings().redis_url) as proxy:
        with caplog.at_level(logging.WARNING, logger="arq.worker"):
            worker = await run_worker(redis_settings=through(proxy))  # arq's own worker raised WatchError here
    assert proxy.cuts == 1
    assert any("lost its connection" in r.getMessage() and "stays queued" in r.getMessage() for r in caplog.records)
    record = (await api.get(f"/images/{image_id}")).json()
    assert record["status"] == "succeeded", record
    assert record["attempts"] == 1  # the claim that broke never started the job
    assert worker.job_counter == 0 and worker.jobs_failed == 0


async def test_arq_alone_ends_its_worker_there(
    api: httpx.AsyncClient, run_worker: RunWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why claims.py exists: the same cut, with arq's own claim, escapes the worker's main loop."""
    from arq.worker import Worker

    import claims

    image_id = await uploaded(api, "images", "orientation", "Landscape_6.jpg")
    with monkeypatch.context() as patched:
        patched.setattr(claims.Worker, "start_jobs", Worker.start_jobs)
        async with cutting_proxy(get_settings().redis_url) as proxy:
            with pytest.raises(WatchError):
                await run_worker(redis_settings=through(proxy))
    await run_worker()  # the job is still queued, for a worker that survives
    assert (await api.get(f"/images/{image_id}")).json()["status"] == "succeeded"


PHOTOS = [f"Landscape_{n}.jpg" for n in (0, 1, 3, 5, 6, 8)] + ["Portrait_6.jpg", "hopper_orientation_6.jpg"]


async def claims_made(run: Callable[[], Awaitable[Worker]]) -> int:
    """How many claims a worker's run made: each is one ZSCORE of the queue, which nothing else sends."""
    redis = Redis.from_url(get_settings().redis_url)
    try:
        await redis.config_resetstat()
        await run()
        stats = await redis.info("commandstats")
    finally:
        await redis.aclose()
    return int(stats.get("cmdstat_zscore", {}).get("calls", 0))


async def test_a_worker_does_not_claim_again_the_jobs_it_is_running(
    api: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    """A job stays queued until it finishes, so each poll reads the running ones too; arq alone tried to claim
    each of them again at every poll (four round trips apiece), as many times as polls the job outlived."""
    image_ids = [await uploaded(api, "images", "orientation", name) for name in PHOTOS]
    claims = await claims_made(lambda: run_worker(max_jobs=2, poll_delay=0.01))
    for image_id in image_ids:
        assert (await api.get(f"/images/{image_id}")).json()["status"] == "succeeded"
    # one claim per job, and at most one more each for a job read by a poll just before it finished
    assert len(image_ids) <= claims <= 2 * len(image_ids)
