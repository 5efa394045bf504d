"""Factory fixtures over real parts: a redis-server process, a moto server, the real arq worker."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from arq.worker import Worker, create_worker

import services
from imagepipe import aws, jobs, settings
from imagepipe.apikeys import ApiKeys, IssuedKey, Scope

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
        "IMAGEPIPE_KEYS_TABLE": f"keys-{suffix}",
        "IMAGEPIPE_LOCAL_MODE": "true",
        "IMAGEPIPE_IMAGING_WORKERS": "2",
        "IMAGEPIPE_RETRY_BASE_SECONDS": "0.02",
    }
    services.provision(
        moto_server.url,
        upload_bucket=env["IMAGEPIPE_UPLOAD_BUCKET"],
        output_bucket=env["IMAGEPIPE_OUTPUT_BUCKET"],
        table_name=env["IMAGEPIPE_TABLE_NAME"],
        keys_table=env["IMAGEPIPE_KEYS_TABLE"],
    )
    saved = _set_env(env)
    yield env
    _set_env(saved)


def _set_env(env: Mapping[str, str | None]) -> dict[str, str | None]:
    """Set (or, for None, remove) environment variables and rebuild the process's settings and clients;
    returns what they were, for undoing."""
    saved = {k: os.environ.get(k) for k in env}
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    settings.get_settings.cache_clear()
    aws.s3_client.cache_clear()
    aws.dynamodb_client.cache_clear()
    return saved


Configure = Callable[..., None]


@pytest.fixture
def configure(stack_env: dict[str, str]) -> Iterator[Configure]:
    """Change settings for one test, before its first request: ``configure(IMAGEPIPE_LOCAL_MODE="false")``."""
    saved: dict[str, str | None] = {}

    def apply(**env: str) -> None:
        for key, value in _set_env(env).items():
            saved.setdefault(key, value)

    yield apply
    _set_env(saved)


@pytest.fixture
def live_api(stack_env: dict[str, str]) -> Iterator[str]:
    """The app served by a real uvicorn (in a thread of this process); its base URL."""
    import uvicorn

    from api.services import get_services
    from app import app

    get_services.cache_clear()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=services.free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    services.wait_for_port(server.config.port)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=30)
    get_services.cache_clear()


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> Any:
    return boto3.client("s3")


MakeKey = Callable[..., IssuedKey]


@pytest.fixture
def make_key(stack_env: dict[str, str]) -> MakeKey:
    """Make an API key in this session's keys table: ``make_key("acme", [Scope.IMAGES_READ])``."""
    keys = ApiKeys(aws.dynamodb_client(), stack_env["IMAGEPIPE_KEYS_TABLE"])

    def make(tenant: str = "local", scopes: list[Scope] | None = None, **options: Any) -> IssuedKey:
        return keys.create(tenant, scopes or [Scope.ADMIN], **options)

    return make


ApiClient = Callable[[str | None], httpx.AsyncClient]


@pytest.fixture
async def api_client(stack_env: dict[str, str]) -> AsyncIterator[ApiClient]:
    """Clients of the FastAPI app over ASGI, as uvicorn or Mangum would serve it: ``api_client(key)``
    sends ``Authorization: Bearer <key>``; ``api_client(None)`` sends no key."""
    from api.services import get_services
    from app import app

    get_services.cache_clear()
    transport = httpx.ASGITransport(app=app)
    made: list[httpx.AsyncClient] = []

    def client(key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        made.append(httpx.AsyncClient(transport=transport, base_url="http://imagepipe.test", headers=headers))
        return made[-1]

    yield client
    for each in made:
        await each.aclose()
    pool = get_services()._pool
    if pool is not None:
        await pool.aclose()
    get_services.cache_clear()


@pytest.fixture
def api(api_client: ApiClient, make_key: MakeKey) -> httpx.AsyncClient:
    """A client of the app holding a fresh admin key of tenant ``local`` (its own rate-limit window)."""
    return api_client(make_key().key)


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
