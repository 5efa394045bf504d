"""Factory fixtures over real parts: a redis-server process, a moto server, the real arq worker."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from arq.worker import Worker, create_worker

import services
from imagepipe import aws, jobs, settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def corpus(*parts: str) -> Path:
    """A file of the shared test corpus, by path."""
    path = CORPUS.joinpath(*parts)
    assert path.exists(), f"missing corpus file {path}"
    return path


def load_event(*parts: str) -> dict[str, Any]:
    """An event from ``events/`` (``load_event("s3-put.json")``) or the shared corpus
    (``load_event("corpus", "s3", "S3Put.json")``)."""
    path = CORPUS.joinpath("events", *parts[1:]) if parts[0] == "corpus" else REPO.joinpath("events", *parts)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.Service]:
    server = services.start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[services.Service]:
    server = services.start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(redis_server: services.Service, moto_server: services.Service) -> Iterator[dict[str, str]]:
    """Process environment pointing imagepipe at this session's Redis and moto, with fresh resources."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        **services.LOCAL_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_server.url,
        "IMAGEPIPE_REDIS_URL": redis_server.url,
        "IMAGEPIPE_UPLOAD_BUCKET": f"uploads-{suffix}",
        "IMAGEPIPE_OUTPUT_BUCKET": f"outputs-{suffix}",
        "IMAGEPIPE_TABLE_NAME": f"images-{suffix}",
        "IMAGEPIPE_WEBHOOKS_TABLE": f"webhooks-{suffix}",
        "IMAGEPIPE_LOCAL_MODE": "1",
        "IMAGEPIPE_IMAGING_WORKERS": "2",
        "IMAGEPIPE_RETRY_BASE_SECONDS": "0.02",
    }
    services.provision(
        moto_server.url,
        upload_bucket=env["IMAGEPIPE_UPLOAD_BUCKET"],
        output_bucket=env["IMAGEPIPE_OUTPUT_BUCKET"],
        table_name=env["IMAGEPIPE_TABLE_NAME"],
        webhooks_table=env["IMAGEPIPE_WEBHOOKS_TABLE"],
    )
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset_process_singletons()
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _reset_process_singletons()


def _reset_process_singletons() -> None:
    settings.get_settings.cache_clear()
    aws.s3_client.cache_clear()
    aws.dynamodb_client.cache_clear()
    aws.events_client.cache_clear()


ChangeSetting = Callable[[str, str], None]


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch, stack_env: dict[str, str]) -> Iterator[ChangeSetting]:
    """Change one ``IMAGEPIPE_*`` setting for this test (API and worker read it)."""

    def change(name: str, value: str) -> None:
        monkeypatch.setenv(f"IMAGEPIPE_{name.upper()}", value)
        settings.get_settings.cache_clear()

    yield change
    settings.get_settings.cache_clear()


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> Any:
    return boto3.client("s3")


@pytest.fixture
async def api(stack_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The FastAPI app over ASGI, as uvicorn or Mangum would serve it."""
    from api.services import get_services
    from app import app

    get_services.cache_clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://imagepipe.test") as client:
        yield client
    pool = get_services()._pool
    if pool is not None:
        await pool.aclose()
    get_services.cache_clear()


RunWorker = Callable[[], Awaitable[Worker]]


@pytest.fixture
async def run_worker(stack_env: dict[str, str]) -> AsyncIterator[RunWorker]:
    """Run the real arq worker in burst mode until the queue is empty."""
    import worker as worker_module

    settings.get_settings.cache_clear()
    made: list[Worker] = []

    async def run() -> Worker:
        # the worker `arq worker.WorkerSettings` runs, in burst mode and without its cron sweep
        w = create_worker(
            worker_module.WorkerSettings,  # type: ignore[arg-type]
            redis_settings=jobs.redis_settings(settings.get_settings()),
            cron_jobs=None,
            burst=True,
            handle_signals=False,
        )
        made.append(w)
        await w.main()
        return w

    yield run
    for w in made:
        await w.close()
