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
from arq.worker import Worker
from aws_calls import CALLS_FILE, needed, read_grants, resource_names

import processes
from imagepipe import aws, jobs, settings
from imagepipe import services as imagepipe_services
from imagepipe.apikeys import ApiKeys, IssuedKey, Scope
from imagepipe.records import ImageRecords
from sam import RUNNING, LambdaRuntime, resolve_handler, translate

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


class CallsOutsideLists:
    """Every AWS call made while a function's code runs, checked against that function's calls list (the
    list tests/template/test_least_privilege.py holds its role to): what AWS would refuse, moto allows."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        code = RUNNING.get()
        if code is None:
            return  # the test's own setup and checks
        grants = read_grants(code / CALLS_FILE)
        service, presign = model.service_model.service_name, bool(context.get("is_presign_request"))
        for action, resource, keys in needed(service, model.name, params, resource_names(), presign=presign):
            if not any(g.allows(action, resource, keys) for g in grants):
                where = code.relative_to(REPO) / CALLS_FILE
                self.found.append(f"{model.name} needs {action} on {resource} {keys or ''}, not in {where}")


@pytest.fixture(scope="session")
def _calls_outside_lists() -> CallsOutsideLists:
    check = CallsOutsideLists()
    boto3.setup_default_session()  # every client the code makes comes from it, so sees the hook
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", check)
    return check


@pytest.fixture(autouse=True)
def _aws_calls_within_lists(_calls_outside_lists: CallsOutsideLists) -> Iterator[None]:
    _calls_outside_lists.found.clear()
    yield
    assert sorted(set(_calls_outside_lists.found)) == [], "calls the deployed role would refuse"


def running(code: Path, app: Any) -> Any:
    """An ASGI app whose requests count as ``code``'s (see :data:`sam.RUNNING`)."""

    async def app_as_function(scope: Any, receive: Any, send: Any) -> None:
        token = RUNNING.set(code)
        try:
            await app(scope, receive, send)
        finally:
            RUNNING.reset(token)

    return app_as_function


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    """template.yaml translated offline with its default parameters."""
    return translate()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[processes.Service]:
    server = processes.start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[processes.Service]:
    server = processes.start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(redis_server: processes.Service, moto_server: processes.Service) -> Iterator[dict[str, str]]:
    """Process environment pointing imagepipe at this session's Redis and moto, with fresh resources."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        **processes.LOCAL_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_server.url,
        "IMAGEPIPE_REDIS_URL": redis_server.url,
        "IMAGEPIPE_UPLOAD_BUCKET": f"uploads-{suffix}",
        "IMAGEPIPE_OUTPUT_BUCKET": f"outputs-{suffix}",
        "IMAGEPIPE_TABLE_NAME": f"images-{suffix}",
        "IMAGEPIPE_KEYS_TABLE": f"keys-{suffix}",
        "IMAGEPIPE_WEBHOOKS_TABLE": f"webhooks-{suffix}",
        "IMAGEPIPE_LOCAL_MODE": "true",
        "IMAGEPIPE_IMAGING_WORKERS": "2",
        "IMAGEPIPE_RETRY_BASE_SECONDS": "0.02",
    }
    processes.provision(
        moto_server.url,
        upload_bucket=env["IMAGEPIPE_UPLOAD_BUCKET"],
        output_bucket=env["IMAGEPIPE_OUTPUT_BUCKET"],
        table_name=env["IMAGEPIPE_TABLE_NAME"],
        keys_table=env["IMAGEPIPE_KEYS_TABLE"],
        webhooks_table=env["IMAGEPIPE_WEBHOOKS_TABLE"],
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
    aws.events_client.cache_clear()
    imagepipe_services.get_services.cache_clear()
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

    from app import app

    imagepipe_services.get_services.cache_clear()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=processes.free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    processes.wait_for_port(server.config.port)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=30)
    imagepipe_services.get_services.cache_clear()


ChangeSetting = Callable[[str, str], None]


@pytest.fixture
def setting(configure: Configure) -> ChangeSetting:
    """Change one setting by its field name for this test, before its first request: ``setting("event_bus", "x")``."""

    def change(name: str, value: str) -> None:
        configure(**{f"IMAGEPIPE_{name.upper()}": value})

    return change


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> Any:
    return boto3.client("s3")


MakeKey = Callable[..., IssuedKey]


@pytest.fixture
def records(stack_env: dict[str, str]) -> ImageRecords:
    """The images table, read as a test sees the outcome."""
    return ImageRecords(aws.dynamodb_client(), stack_env["IMAGEPIPE_TABLE_NAME"])


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    """One warm Lambda execution environment (``sam local invoke``, emulated)."""
    rt = LambdaRuntime()
    yield rt
    rt.close()


Handler = Callable[[Any, Any], dict[str, Any]]


@pytest.fixture
def trigger(stack_env: dict[str, str]) -> Handler:
    """The S3 trigger's handler, resolved from template.yaml."""
    return resolve_handler("S3TriggerFunction")


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
    from app import app

    imagepipe_services.get_services.cache_clear()
    transport = httpx.ASGITransport(app=running(REPO / "functions" / "api", app))
    made: list[httpx.AsyncClient] = []

    def client(key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        made.append(httpx.AsyncClient(transport=transport, base_url="http://imagepipe.test", headers=headers))
        return made[-1]

    yield client
    for each in made:
        await each.aclose()
    await imagepipe_services.get_services().close()
    imagepipe_services.get_services.cache_clear()


@pytest.fixture
def api(api_client: ApiClient, make_key: MakeKey) -> httpx.AsyncClient:
    """A client of the app holding a fresh admin key of tenant ``local`` (its own rate-limit window)."""
    return api_client(make_key().key)


RunWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def run_worker(stack_env: dict[str, str]) -> AsyncIterator[RunWorker]:
    """Run the real arq worker in burst mode until the queue is empty; ``overrides`` of its settings."""
    import claims
    import worker as worker_module

    settings.get_settings.cache_clear()
    made: list[Worker] = []

    async def run(**overrides: Any) -> Worker:
        # the worker `python serve.py` runs, in burst mode and without its cron sweep
        w = claims.create_worker(
            worker_module.WorkerSettings,  # type: ignore[arg-type]
            **{"redis_settings": jobs.redis_settings(settings.get_settings()), **overrides},
            cron_jobs=None,
            burst=True,
            handle_signals=False,
        )
        made.append(w)
        token = RUNNING.set(REPO / "functions" / "worker")
        try:
            await w.main()
        finally:
            RUNNING.reset(token)
        return w

    yield run
    for w in made:
        await w.close()
