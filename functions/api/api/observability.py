"""Powertools for the API: JSON logs with the request's correlation id, EMF metrics, X-Ray tracing."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="imagepipe-api")
metrics = Metrics(namespace="imagepipe", service="imagepipe-api")
tracer = Tracer(service="imagepipe-api", patch_modules=("botocore",))


def count(name: str) -> None:
    """One more of ``name`` (Enqueued, Duplicates, ...), published when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
