"""``sam local invoke BacklogFunction -e events/backlog-schedule.json``, emulated, against real Redis and
moto's ECS and CloudWatch: the backlog per running worker lands where the autoscaler reads it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from conftest import load_event
from imagepipe import jobs
from imagepipe.models import DEFAULT_RECIPE
from imagepipe.settings import get_settings
from sam import LambdaRuntime, resolve_handler


@pytest.fixture
def worker_service(stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="imagepipe-test")
    ecs.register_task_definition(
        family="worker", containerDefinitions=[{"name": "worker", "image": "worker:1", "memory": 512}]
    )
    ecs.create_service(cluster="imagepipe-test", serviceName="workers", taskDefinition="worker", desiredCount=2)
    monkeypatch.setenv("IMAGEPIPE_WORKER_CLUSTER", "imagepipe-test")
    monkeypatch.setenv("IMAGEPIPE_WORKER_SERVICE", "workers")
    yield
    ecs.delete_service(cluster="imagepipe-test", service="workers", force=True)


async def test_backlog_per_worker_is_published(
    worker_service: None, stack_env: dict[str, str], runtime: LambdaRuntime
) -> None:
    pool = await jobs.connect(get_settings())
    try:
        for i in range(6):
            await jobs.enqueue_processing(
                pool, image_id=f"{i:032x}", bucket="b", key="k", version="v", recipe=DEFAULT_RECIPE
            )
        result: dict[str, Any] = await runtime.invoke(
            resolve_handler("BacklogFunction"), load_event("backlog-schedule.json")
        )
    finally:
        await pool.delete(get_settings().queue_name)
        await pool.aclose()
    # moto reports runningCount 0 for a service whose tasks it never started: the whole queue is the backlog
    assert result == {"depth": 6, "workers": 0, "backlog_per_worker": 6.0}
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="imagepipe",
        MetricName="BacklogPerWorker",
        Dimensions=[{"Name": "service", "Value": "imagepipe-backlog"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [6.0]


def test_with_no_worker_running_the_whole_queue_is_the_backlog(stack_env: dict[str, str]) -> None:
    resolve_handler("BacklogFunction")
    backlog = importlib.import_module("backlog")
    assert backlog.backlog_per_worker(7, 0) == 7.0  # so the service scales out from zero
    assert backlog.backlog_per_worker(7, 2) == 3.5
