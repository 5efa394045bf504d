"""Someone with write access to Redis pushes a pickled job, as arq's default serializer would have read it:
the worker (msgpack only) never unpickles it, drops it with a log line and goes on working."""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

import httpx
import pytest
from arq.constants import job_key_prefix

from conftest import RunWorker, corpus
from imagepipe import jobs
from imagepipe.settings import get_settings


class _Exploit:
    """Unpickling this opens (so creates) ``marker``: a visible side effect of ``pickle.loads``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def pickled_job(marker: Path) -> bytes:
    """A job body in arq's own layout, pickled, its kwargs carrying the exploit."""
    body = {"f": jobs.PROCESS_IMAGE, "a": (), "k": {"x": _Exploit(marker)}, "t": 1, "et": int(time.time() * 1000)}
    return pickle.dumps(body)


async def test_a_pickled_job_is_never_unpickled_and_the_worker_keeps_working(
    api: httpx.AsyncClient, run_worker: RunWorker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the payload works: unpickled, it leaves its marker
    probe = tmp_path / "probe"
    pickle.loads(pickled_job(probe))  # noqa: S301 - proving the exploit, on our own bytes
    assert probe.exists()

    marker = tmp_path / "unpickled"
    settings = get_settings()
    pool = await jobs.connect(settings)
    hostile = "process_image:planted:1"
    try:
        await pool.set(job_key_prefix + hostile, pickled_job(marker))
        # arq scores jobs by the time they may run (ms); a second ago puts it first in line
        await pool.zadd(settings.queue_name, {hostile: int(time.time() * 1000) - 1000})
        path = corpus("images", "baseline", "hopper.jpg")
        resp = await api.post("/images", files={"file": (path.name, path.read_bytes(), "image/jpeg")})
        assert resp.status_code == 202, resp.text

        with caplog.at_level(logging.ERROR, logger="arq.worker"):
            worker = await run_worker()

        assert not marker.exists(), "the worker unpickled a job"
        assert f"deserializing job {hostile} failed" in caplog.text
        assert worker.jobs_failed == 1
        assert await pool.zscore(settings.queue_name, hostile) is None  # dropped, not retried
        assert not await pool.exists(job_key_prefix + hostile)
    finally:
        await pool.aclose()
    record = (await api.get(resp.headers["Location"])).json()
    assert record["status"] == "succeeded", record
