"""BacklogFunction: every minute, publish queued jobs per running worker, the metric the worker service's
target-tracking autoscaling follows (AWS's "backlog per instance" pattern)."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger

from imagepipe import jobs
from imagepipe.services import get_services

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef

logger = Logger(service="imagepipe-backlog")
# ECS and CloudWatch are this function's alone; settings and the Redis pool come from the shared services
ecs = boto3.client("ecs")
cloudwatch = boto3.client("cloudwatch")
DIMENSIONS: list[DimensionTypeDef] = [{"Name": "service", "Value": "imagepipe-backlog"}]
# One loop for the life of the execution environment, so the Redis pool survives between invocations.
_runner = asyncio.Runner()


async def queue_depth() -> tuple[int, int]:
    services = get_services()
    return await jobs.queue_depth(await services.queue(), services.settings.queue_name)


def running_workers() -> int:
    resp = ecs.describe_services(
        cluster=os.environ["IMAGEPIPE_WORKER_CLUSTER"], services=[os.environ["IMAGEPIPE_WORKER_SERVICE"]]
    )
    return sum(s.get("runningCount", 0) for s in resp.get("services", []))


def backlog_per_worker(depth: int, workers: int) -> float:
    """With no worker running, any backlog reads as the whole queue, so the service scales out from zero."""
    return float(depth) / max(workers, 1)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, float]:
    depth, running = _runner.run(queue_depth())
    workers = running_workers()
    backlog = backlog_per_worker(depth + running, workers)
    cloudwatch.put_metric_data(
        Namespace="imagepipe",
        MetricData=[
            {"MetricName": "BacklogPerWorker", "Dimensions": DIMENSIONS, "Value": backlog, "Unit": "Count"},
            {"MetricName": "QueueDepth", "Dimensions": DIMENSIONS, "Value": float(depth), "Unit": "Count"},
            {"MetricName": "RunningWorkers", "Dimensions": DIMENSIONS, "Value": float(workers), "Unit": "Count"},
        ],
    )
    logger.info("backlog published", extra={"depth": depth, "workers": workers, "backlog_per_worker": backlog})
    return {"depth": depth, "workers": workers, "backlog_per_worker": backlog}
