"""Crashes with real processes: a worker SIGKILLed or SIGTERMed mid-job, a Redis that restarts empty.
Nothing accepted is lost, nothing is processed twice into different results."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import processes
from conftest import REPO, corpus
from imagepipe import aws
from imagepipe.announce import Outcome, announce
from imagepipe.keys import new_image_id, upload_key
from imagepipe.models import Status
from imagepipe.records import ImageRecords
from imagepipe.services import Services
from imagepipe.settings import Settings

pytestmark = pytest.mark.slow

JOB_TIMEOUT = 10  # arq re-runs a SIGKILLed worker's job once its in-progress key expires: timeout + 10 s


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 36 MP PNG: slow enough to decode that a test can catch the job mid-flight."""
    path = tmp_path_factory.mktemp("big") / "big.png"
    gradient = Image.linear_gradient("L").resize((6000, 6000))
    Image.merge("RGB", (gradient, gradient.rotate(90), gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(
        path, compress_level=1
    )
    return path


@dataclass
class Cluster:
    """A private Redis plus worker subprocesses, against the session's moto."""

    redis: processes.Service
    env: dict[str, str]
    settings: Settings
    logs: Path
    workers: list[processes.Service]

    def start_worker(self, **overrides: str) -> processes.Service:
        env = {**self.env, **overrides}
        n = len(self.workers)
        proc = processes.spawn(
            f"worker{n}",
            [sys.executable, "serve.py"],
            env=env,
            cwd=REPO / "functions" / "worker",
            log=self.logs / f"worker{n}.log",
        )
        worker = processes.Service(f"worker{n}", proc, "")
        self.workers.append(worker)
        return worker

    def restart_redis_empty(self) -> None:
        port = int(self.redis.url.rsplit(":", 1)[1].split("/")[0])
        self.redis.kill()
        self.redis = processes.start_redis(port)

    def log_of(self, worker: processes.Service) -> str:
        return (self.logs / f"{worker.name}.log").read_text(errors="replace")


@pytest.fixture
async def cluster(stack_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    redis = processes.start_redis()
    env = {
        **os.environ,
        **stack_env,
        "IMAGEPIPE_REDIS_URL": redis.url,
        "IMAGEPIPE_JOB_TIMEOUT_SECONDS": str(JOB_TIMEOUT),
        "IMAGEPIPE_IMAGING_WORKERS": "1",
        "IMAGEPIPE_HEARTBEAT_SECONDS": "0.5",
        "IMAGEPIPE_SWEEP_EVERY_SECONDS": "1",
        "IMAGEPIPE_STUCK_AFTER_SECONDS": "3",
        "PYTHONPATH": str(REPO / "layers" / "shared"),
    }
    c = Cluster(redis, env, Settings(redis_url=redis.url), tmp_path, [])
    yield c
    for worker in c.workers:
        worker.kill()
    c.redis.stop()


async def submit(cluster: Cluster, records: ImageRecords, path: Path) -> str:
    """What the API does for an upload: original in S3, announced (a queued record, a job)."""
    settings = cluster.settings
    image_id = new_image_id()
    key = upload_key("local", image_id, path.name)
    services = Services.build(settings)
    try:
        source = services.store.put_source(settings.upload_bucket, key, path.read_bytes(), "image/png")
        assert (await announce(source, services, image_id=image_id)).outcome is Outcome.ENQUEUED
    finally:
        await services.close()
    return image_id


async def wait_for(check: Callable[[], Any], timeout: float, what: str, poll: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await asyncio.to_thread(check):
            return result
        await asyncio.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def status_is(records: ImageRecords, image_id: str, status: Status) -> Callable[[], bool]:
    def check() -> bool:
        record = records.get(image_id)
        return record is not None and record.status is status

    return check


def outputs(settings: Settings, image_id: str) -> list[str]:
    listing = aws.s3_client().list_object_versions(Bucket=settings.output_bucket, Prefix=f"images/local/{image_id}/")
    return sorted(v["Key"] for v in listing.get("Versions", []))


async def test_sigkilled_worker_job_completes_on_another(
    cluster: Cluster, records: ImageRecords, big_png: Path
) -> None:
    first = cluster.start_worker()
    image_id = await submit(cluster, records, big_png)
    await wait_for(status_is(records, image_id, Status.PROCESSING), 30, "the job to start")
    first.kill()  # the whole group: the worker and its imaging process

    second = cluster.start_worker()
    await wait_for(status_is(records, image_id, Status.SUCCEEDED), JOB_TIMEOUT + 40, "the job to rerun", poll=0.5)
    record = records.get(image_id)
    assert record is not None
    assert record.attempts == 2
    assert len(record.variants) == 3
    assert outputs(cluster.settings, image_id) == sorted(v.key for v in record.variants)  # one set, no leftovers
    assert "try=2" in cluster.log_of(second)


async def test_sigterm_lets_the_running_job_finish(cluster: Cluster, records: ImageRecords, big_png: Path) -> None:
    worker = cluster.start_worker(IMAGEPIPE_GRACEFUL_SHUTDOWN_SECONDS="30")
    image_id = await submit(cluster, records, big_png)
    await wait_for(status_is(records, image_id, Status.PROCESSING), 30, "the job to start")
    worker.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.proc.wait, 40) == 0
    record = records.get(image_id)
    assert record is not None and record.status is Status.SUCCEEDED and record.attempts == 1


async def test_sigterm_past_the_window_puts_the_job_back(
    cluster: Cluster, records: ImageRecords, big_png: Path
) -> None:
    worker = cluster.start_worker(IMAGEPIPE_GRACEFUL_SHUTDOWN_SECONDS="0")
    image_id = await submit(cluster, records, big_png)
    await wait_for(status_is(records, image_id, Status.PROCESSING), 30, "the job to start")
    worker.proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(worker.proc.wait, 20)
    assert "will be run again" in cluster.log_of(worker)

    cluster.start_worker()
    await wait_for(status_is(records, image_id, Status.SUCCEEDED), 40, "the job to be picked up again", poll=0.2)
    record = records.get(image_id)
    assert record is not None and record.attempts == 2


async def test_redis_restarted_empty_loses_nothing(cluster: Cluster, records: ImageRecords) -> None:
    settings = cluster.settings
    queued = await submit(cluster, records, corpus("images", "baseline", "hopper.png"))
    # an object whose S3 event never became a record
    orphan_key = f"{settings.upload_prefix}dropped/{new_image_id()}.jpg"
    aws.s3_client().put_object(
        Bucket=settings.upload_bucket, Key=orphan_key, Body=corpus("images", "baseline", "hopper.jpg").read_bytes()
    )
    cluster.restart_redis_empty()  # the queued job is gone with Redis's data

    cluster.start_worker()
    await wait_for(status_is(records, queued, Status.SUCCEEDED), 40, "the lost job to be recovered", poll=0.5)
    from imagepipe.keys import image_id_for_object

    orphan = image_id_for_object(settings.upload_bucket, orphan_key)
    await wait_for(status_is(records, orphan, Status.SUCCEEDED), 40, "the orphan to be adopted", poll=0.5)


async def test_worker_survives_a_redis_restart(cluster: Cluster, records: ImageRecords) -> None:
    worker = cluster.start_worker()
    first = await submit(cluster, records, corpus("images", "baseline", "hopper.png"))
    await wait_for(status_is(records, first, Status.SUCCEEDED), 30, "the first job", poll=0.2)
    # right then the worker claims the first job's follow-up (image_ended): a restart inside that claim ended
    # arq's own worker (arq 0.28, Worker.start_jobs), and claims.py keeps this one (test_claims.py makes it
    # happen every time)
    cluster.restart_redis_empty()
    await asyncio.sleep(1)
    second = await submit(cluster, records, corpus("images", "baseline", "hopper.jpg"))
    await wait_for(status_is(records, second, Status.SUCCEEDED), 30, "a job after the restart", poll=0.2)
    assert worker.proc.poll() is None
