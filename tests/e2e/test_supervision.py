"""The local stack supervises as ECS would: with ``WORKERS=2``, a worker SIGKILLed mid-job is replaced, the
stack keeps serving and the killed job runs again; a killed bridge is replaced; Redis, moto or the API
dying stops the stack with the reason."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import corpus
from local_stack import (
    PROCESS_TIMEOUT,
    STOP_TIMEOUT,
    RunningStack,
    alive,
    assert_ctrl_c_leaves_nothing,
    launched,
    listed,
    poll,
    put_into_upload_bucket,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the stack's processes through /proc"),
]

WORKERS = ("worker-1", "worker-2")
# arq runs a SIGKILLed worker's job again once the job's in-progress key expires: job timeout + 10 s.
JOB_TIMEOUT = 15
RERUN_TIMEOUT = JOB_TIMEOUT + 10 + PROCESS_TIMEOUT
RESTART_TIMEOUT = 30.0
# Slow enough to catch mid-job, well inside JOB_TIMEOUT: three 4096 px WebPs of a 36 MP PNG take about 2 s
# with Pillow on an idle core; enough of them that the workers stay busy for a while with a faster engine.
SLOW_IMAGES = 8
# as slow as the recipe budget (IMAGEPIPE_MAX_RECIPE_PIXELS, 25 MP of outputs) allows
SLOW_RECIPE = json.dumps(
    {
        "variants": [
            {"name": f"large{n}", "width": side, "height": side, "format": "webp"}
            for n, side in enumerate((4096, 2800))
        ]
    }
)


@pytest.fixture(scope="module")
def big_png() -> bytes:
    gradient = Image.linear_gradient("L").resize((6000, 6000))
    image = Image.merge("RGB", (gradient, gradient.rotate(90), gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`make run WORKERS=2`, each worker holding one job at a time, so a kill always interrupts one."""
    with launched(
        tmp_path_factory.mktemp("logs"),
        WORKERS="2",
        IMAGEPIPE_JOB_TIMEOUT_SECONDS=str(JOB_TIMEOUT),
        IMAGEPIPE_MAX_JOBS="1",
        IMAGEPIPE_IMAGING_WORKERS="1",
    ) as running:
        yield running


def upload(http: httpx.Client, name: str, data: bytes, recipe: str | None = None) -> str:
    accepted = http.post("/images", files={"file": (name, data)}, data={"recipe": recipe} if recipe else None)
    assert accepted.status_code == 202, accepted.text
    image_id: str = accepted.json()["image_id"]
    return image_id


def record(http: httpx.Client, image_id: str) -> dict[str, Any]:
    response = http.get(f"/images/{image_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def status(http: httpx.Client, image_id: str) -> str:
    value: str = record(http, image_id)["status"]
    return value


def kill_a_worker_mid_job(stack: RunningStack, http: httpx.Client, image_ids: list[str]) -> tuple[str, str]:
    """SIGKILL a worker while it holds a job, as the OOM killer would: (the worker, the image of its job)."""
    done: set[str] = set()
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline and len(done) < len(image_ids):
        for image_id in set(image_ids) - done:
            # The worker that took a job has logged its id; only one worker runs a job at a time.
            holders = [name for name in WORKERS if image_id in stack.log(name)]
            if len(holders) != 1:
                continue
            if (seen := status(http, image_id)) != "processing":
                if seen in ("succeeded", "failed"):
                    done.add(image_id)
                continue
            pid = stack.children()[holders[0]]
            os.kill(pid, signal.SIGSTOP)  # frozen, it cannot finish the job between our look and the kill
            if status(http, image_id) == "processing":
                os.kill(pid, signal.SIGKILL)
                return holders[0], image_id
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail(f"no worker was seen holding a job ({len(done)} of {len(image_ids)} done):\n{stack.output}")


def test_a_killed_bridge_is_replaced_and_s3_events_flow_again(stack: RunningStack) -> None:
    os.kill(stack.children()["bridge"], signal.SIGKILL)
    stack.wait_for("bridge was killed by SIGKILL; restarting in 1s (restart 1)", RESTART_TIMEOUT)
    stack.wait_for("bridge restarted", RESTART_TIMEOUT)

    key = f"uploads/e2e-{uuid.uuid4().hex[:8]}.jpg"
    put_into_upload_bucket(stack, key, corpus("images", "baseline", "hopper.jpg"))
    with stack.client() as http:
        # moto hands the event to the dead bridge's pending long poll; it comes back to the new bridge after
        # the queue's visibility timeout (30 s), as SQS would.
        record = poll(lambda: listed(http, key), timeout=PROCESS_TIMEOUT + 30)
    assert record["status"] == "succeeded", record


def test_a_worker_killed_mid_job_is_replaced_and_its_job_runs_again(stack: RunningStack, big_png: bytes) -> None:
    with stack.client(timeout=30) as http:
        image_ids = [upload(http, f"big-{n}.png", big_png, SLOW_RECIPE) for n in range(SLOW_IMAGES)]
        worker, killed = kill_a_worker_mid_job(stack, http, image_ids)
        # Still serving with a worker down: a new upload is accepted (and processed below).
        photo = corpus("images", "baseline", "hopper.jpg")
        image_ids.append(upload(http, photo.name, photo.read_bytes()))

        stack.wait_for(f"{worker} was killed by SIGKILL; restarting in 1s (restart 1)", RESTART_TIMEOUT)
        stack.wait_for(f"{worker} restarted", RESTART_TIMEOUT)

        records = {i: poll(functools.partial(record, http, i), RERUN_TIMEOUT) for i in image_ids}
    assert {i: r["status"] for i, r in records.items()} == dict.fromkeys(image_ids, "succeeded"), records
    assert records[killed]["attempts"] == 2, records[killed]
    assert [r["attempts"] for i, r in records.items() if i != killed] == [1] * (len(image_ids) - 1)
    assert set(stack.children()) == {"redis", "moto", "bridge", *WORKERS, "api"}, stack.output


def test_ctrl_c_after_restarts_still_stops_every_process(stack: RunningStack) -> None:
    assert_ctrl_c_leaves_nothing(stack)


@pytest.mark.parametrize("name", ["redis", "moto", "api"])
def test_a_vital_process_dying_stops_the_stack_with_the_reason(name: str, tmp_path: Path) -> None:
    with launched(tmp_path / "logs") as stack:
        os.kill(stack.children()[name], signal.SIGKILL)
        code = stack.wait_exit(STOP_TIMEOUT)
    assert code == 1, stack.output
    assert f"error: {name} was killed by SIGKILL while the stack was running" in stack.output
    assert stack.lines[-1] == "stopped; nothing left running."
    assert not [p for p in stack.started if alive(p)], stack.output
