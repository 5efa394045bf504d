"""Powertools for the worker: JSON logs carrying image, job and correlation ids, and one EMF blob per job
(ms per stage, bytes in and out, failures by code, retries, the engine). ``POWERTOOLS_DEV=true`` prints
the logs indented for reading locally."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = "imagepipe-worker"
NAMESPACE = "imagepipe"

logger = Logger(service=SERVICE)


@dataclass
class JobTelemetry:
    """What one job reports: its ids on every log line and its figures in one EMF blob."""

    image_id: str
    job_id: str
    correlation_id: str
    engine: str
    # one blob per job: Powertools' Metrics shares its metric set across instances, and jobs run concurrently
    metrics: EphemeralMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        self.metrics.add_dimension(name="engine", value=self.engine)
        self.metrics.add_metadata(key="image_id", value=self.image_id)
        self.metrics.add_metadata(key="correlation_id", value=self.correlation_id)

    @property
    def keys(self) -> dict[str, str]:
        return {"image_id": self.image_id, "job_id": self.job_id, "correlation_id": self.correlation_id}

    # stacklevel 3: the line logged is the caller's, past this method and Powertools' own wrapper
    def info(self, message: str, **extra: Any) -> None:
        logger.info(message, extra={**self.keys, **extra}, stacklevel=3)

    def warning(self, message: str, **extra: Any) -> None:
        logger.warning(message, extra={**self.keys, **extra}, stacklevel=3)

    def exception(self, message: str, **extra: Any) -> None:
        logger.exception(message, extra={**self.keys, **extra}, stacklevel=3)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (download, render, store) as ``<Name>Ms``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.took(name, (time.perf_counter() - started) * 1000)

    def took(self, name: str, ms: float) -> None:
        """A stage timed elsewhere (the download, which runs beside the record's start)."""
        self.metrics.add_metric(name=f"{name.capitalize()}Ms", unit=MetricUnit.Milliseconds, value=ms)

    def count(self, name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
        self.metrics.add_metric(name=name, unit=unit, value=value)

    def failed(self, code: str) -> None:
        """A final failure, counted as ``Failures`` and as ``Failures_<code>``."""
        self.count("Failures")
        self.count(f"Failures_{code}")

    def flush(self) -> None:
        """Print the EMF blob to stdout, where CloudWatch (the awslogs driver) reads it."""
        self.metrics.flush_metrics()
