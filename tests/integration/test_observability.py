"""The worker as CloudWatch sees it: JSON log lines that carry the image, job and correlation ids from the
API request or S3 event, and one EMF blob per job with its stage timings, bytes and failures."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from conftest import Handler, RunWorker, corpus
from factories import put, s3_notification
from imagepipe.settings import get_settings
from imagepipe_engine import engine_name
from sam import LambdaRuntime


def emf_blobs(out: str) -> list[dict[str, Any]]:
    """The Embedded Metric Format documents printed to stdout, as the CloudWatch agent reads them."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def worker_lines(caplog: pytest.LogCaptureFixture, image_id: str) -> list[Any]:
    return [r for r in caplog.records if r.name == "imagepipe-worker" and getattr(r, "image_id", None) == image_id]


async def test_a_processed_job_logs_its_ids_and_emits_its_stage_timings(
    api: httpx.AsyncClient,
    run_worker: RunWorker,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = corpus("images", "baseline", "hopper.jpg")
    resp = await api.post(
        "/images",
        files={"file": (path.name, path.read_bytes(), "image/jpeg")},
        headers={"X-Correlation-Id": "req-7f3a"},
    )
    image_id = resp.json()["image_id"]
    capsys.readouterr()
    await run_worker()

    [blob] = [b for b in emf_blobs(capsys.readouterr().out) if b.get("image_id") == image_id]
    assert blob["engine"] == engine_name(get_settings().engine) and blob["correlation_id"] == "req-7f3a"
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "imagepipe"
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "DownloadMs": "Milliseconds",
        "RenderMs": "Milliseconds",
        "StoreMs": "Milliseconds",
        "BytesIn": "Bytes",
        "BytesOut": "Bytes",
    }
    assert all(value > 0 for name in units for value in blob[name])
    assert blob["BytesIn"] == [path.stat().st_size]

    [done] = [r for r in worker_lines(caplog, image_id) if r.getMessage() == "processed"]
    assert done.correlation_id == "req-7f3a"
    assert done.job_id.startswith(f"process_image:{image_id}:")


async def test_an_s3_event_carries_its_request_id_and_a_failure_is_counted_by_code(
    run_worker: RunWorker,
    runtime: LambdaRuntime,
    trigger: Handler,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    obj = put(f"uploads/{uuid.uuid4().hex}.doc", corpus("images", "not_an_image", "test-ole-file.doc").read_bytes())
    event = s3_notification(obj, "00CC01")
    event["Records"][0]["responseElements"]["x-amz-request-id"] = "S3REQ0042"
    [result] = (await runtime.invoke(trigger, event))["results"]
    capsys.readouterr()
    await run_worker()

    [blob] = [b for b in emf_blobs(capsys.readouterr().out) if b.get("image_id") == result["image_id"]]
    assert (blob["Failures"], blob["Failures_invalid_image"], blob["correlation_id"]) == ([1.0], [1.0], "S3REQ0042")
    [failed] = [r for r in worker_lines(caplog, result["image_id"]) if r.getMessage() == "failed"]
    assert (failed.code, failed.correlation_id) == ("invalid_image", "S3REQ0042")
