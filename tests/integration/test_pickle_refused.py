"""A pickled job pushed straight into the queue's Redis keys is never unpickled: the real worker logs it,
drops it and keeps working."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import httpx
import pytest
from arq.constants import job_key_prefix

from conftest import RunWorker, corpus
from imagepipe import jobs
from imagepipe.settings import get_settings


class Tripwire:
    """Unpickling this creates ``path``: proof that someone ran pickle on the payload."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (self.path.touch, ())


async def test_a_pickled_job_is_logged_dropped_and_the_worker_goes_on(
    api: httpx.AsyncClient, run_worker: RunWorker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = get_settings()
    tripwire = tmp_path / "unpickled"
    # what arq's default serializer would write: a pickled dict, here one that acts when loaded
    payload = pickle.dumps({"t": 1, "f": "process_image", "a": (Tripwire(tripwire),), "k": {}, "et": 0})
    pool = await jobs.connect(settings)
    try:
        await pool.set(f"{job_key_prefix}planted", payload)
        await pool.zadd(settings.queue_name, {"planted": time.time() * 1000})  # due now (arq skips a 0 score)
    finally:
        await pool.aclose()

    photo = corpus("images", "baseline", "hopper.jpg").read_bytes()
    accepted = await api.post("/images", files={"file": ("hopper.jpg", photo, "image/jpeg")})
    assert accepted.status_code == 202, accepted.text
    await run_worker()

    assert not tripwire.exists(), "the planted payload was unpickled"
    assert any("deserializing job planted failed" in r.getMessage() for r in caplog.records)
    record = (await api.get(accepted.headers["Location"])).json()
    assert record["status"] == "succeeded", record
