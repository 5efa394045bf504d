"""The local stack as a new user meets it: ``python infra/local/stack.py``, driven over HTTP, then Ctrl-C."""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from PIL import Image

import services
from conftest import REPO, corpus

pytestmark = pytest.mark.e2e

TRIGGER = REPO / "functions" / "s3_trigger" / "trigger.py"
START_TIMEOUT = 120.0
PROCESS_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
_SHOWN = re.compile(r"^\s+(API|S3 endpoint|upload bucket|Redis)\s{2,}(\S+)")

Process = tuple[int, int]  # (pid, start time in clock ticks): a pid reused later is another process


def _proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time, state) from /proc, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), int(fields[19]), fields[0]


def descendants(root: int) -> set[Process]:
    """Every living process below ``root``: its children run in their own sessions, but keep the parent."""
    parents: dict[int, list[Process]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
            parents.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: set[Process] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def alive(process: Process) -> bool:
    stat = _proc_stat(process[0])
    return stat is not None and stat[1] == process[1] and stat[2] != "Z"


def using_port(port: str) -> list[str]:
    """Command lines of living processes with ``port`` as an argument (``--port N``, ``-p N``) or in their
    title (redis-server shows ``redis-server 127.0.0.1:N``)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        stat = _proc_stat(int(entry.name)) if entry.name.isdigit() else None
        if any(arg == port or arg.endswith(f":{port}") for arg in args) and stat is not None and stat[2] != "Z":
            found.append(f"{entry.name}: {' '.join(args)}")
    return found


@dataclass
class RunningStack:
    proc: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)
    started: set[Process] = field(default_factory=set)
    _incoming: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @property
    def api(self) -> str:
        return self.shown["API"]

    def client(self) -> httpx.Client:
        """An HTTP client of the API holding the key the banner printed."""
        return httpx.Client(base_url=self.api, timeout=10, headers={"Authorization": f"Bearer {self.shown['API key']}"})

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self) -> None:
        """Reader thread: the stack's stdout, line by line, until it closes."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for(self, marker: str, timeout: float) -> None:
        """Collect output until a line starts with ``marker``; fail with the output if the stack ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._incoming.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the stack ended before {marker!r}:\n{self.output}")
            self.lines.append(line)
            if match := _SHOWN.match(line):
                self.shown[match[1]] = match[2]
            if line.startswith("API key: "):
                self.shown["API key"] = line.removeprefix("API key: ")
            if line.startswith(marker):
                return
        pytest.fail(f"no {marker!r} from the stack within {timeout}s:\n{self.output}")

    def note_processes(self) -> None:
        """Remember every process below the stack now (worker pools start lazily, so call it again later)."""
        self.started |= descendants(self.proc.pid)

    def force_stop(self) -> None:
        """Last resort when a test failed mid-way: leave nothing behind for the next test."""
        self.proc.kill()
        for pid, _ in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # only group leaders name a group
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """``python infra/local/stack.py`` on a free port with its own Redis and moto, ready to use."""
    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if k != "IMAGEPIPE_REDIS_URL"}
    env |= {
        "PORT": str(port),
        "WORKERS": "1",
        "LOG_DIR": str(tmp_path_factory.mktemp("logs")),
        # What `pip install -e .` gives `make run`; this test must not depend on the install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "layers" / "shared"), env.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "infra/local/stack.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningStack(proc, port)
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    try:
        running.wait_for("Ctrl-C stops everything", START_TIMEOUT)
        running.note_processes()
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                running.force_stop()
                proc.wait()
        reader.join(5)
        if proc.stdout:
            proc.stdout.close()


def poll(fetch: Callable[[], dict[str, Any] | None], timeout: float = PROCESS_TIMEOUT) -> dict[str, Any]:
    """``fetch()`` again until it returns a record that is done (succeeded or failed)."""
    deadline = time.monotonic() + timeout
    record: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        record = fetch()
        if record is not None and record["status"] in ("succeeded", "failed"):
            return record
        time.sleep(0.2)
    pytest.fail(f"not done within {timeout}s: {record}")


def test_the_banner_key_is_needed_and_works(stack: RunningStack) -> None:
    assert f"export KEY={stack.shown['API key']}" in stack.output
    assert all('-H "Authorization: Bearer $KEY"' in line for line in stack.lines if "curl " in line), stack.output
    anonymous = httpx.get(f"{stack.api}/images", timeout=10)
    assert anonymous.status_code == 401
    with stack.client() as http:
        assert http.get("/queue").status_code == 200


def test_upload_is_processed_and_a_variant_downloads(stack: RunningStack) -> None:
    photo = corpus("images", "baseline", "hopper.jpg")
    with stack.client() as http:
        accepted = http.post("/images", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["Location"]

        record = poll(lambda: http.get(location).json())
        assert record["status"] == "succeeded", record
        stack.note_processes()  # the worker's imaging pool exists by now

        thumb = next(v for v in record["variants"] if v["name"] == "thumb")
        redirect = http.get(f"{location}/variants/thumb")
        assert redirect.status_code == 307
        download = http.get(redirect.headers["Location"])
    assert download.status_code == 200
    image = Image.open(io.BytesIO(download.content))
    assert image.format == "WEBP"
    assert image.size == (thumb["width"], thumb["height"])
    assert max(image.size) <= 256


def test_an_object_put_into_the_upload_bucket_is_processed_and_listed(stack: RunningStack) -> None:
    if not TRIGGER.exists():
        pytest.skip(f"{TRIGGER.relative_to(REPO)} does not exist yet, so the stack runs no S3-events bridge")
    with stack.client() as http:
        if http.get("/images").status_code in (404, 405):
            pytest.skip("the API has no GET /images yet")
        key = f"uploads/e2e-{uuid.uuid4().hex[:8]}.jpg"
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.shown["S3 endpoint"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.put_object(
            Bucket=stack.shown["upload bucket"], Key=key, Body=corpus("images", "baseline", "hopper.jpg").read_bytes()
        )

        def listed() -> dict[str, Any] | None:
            items: list[dict[str, Any]] = http.get("/images", params={"source_key": key}).json()["items"]
            return items[0] if items else None

        record = poll(listed)
    assert record["status"] == "succeeded", record
    assert record["source"]["key"] == key


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the stack's processes through /proc")
def test_ctrl_c_stops_every_process_the_stack_started(stack: RunningStack) -> None:
    stack.note_processes()
    assert len(stack.started) >= 4, f"redis, moto, api and a worker should be running: {stack.started}"

    stack.proc.send_signal(signal.SIGINT)
    assert stack.proc.wait(STOP_TIMEOUT) == 0
    stack.wait_for("stopped", 5)

    assert not [p for p in stack.started if alive(p)], stack.output
    ports = [str(stack.port), *(re.findall(r":(\d+)", stack.shown[name])[-1] for name in ("S3 endpoint", "Redis"))]
    assert not [line for port in ports for line in using_port(port)]
