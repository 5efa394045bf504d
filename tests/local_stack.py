"""The local stack as a new user meets it, for the e2e tests: ``python infra/local/stack.py`` as a
subprocess, its console read line by line, its processes found through /proc."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

import processes
from conftest import REPO

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
    log_dir: Path
    lines: list[str] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)
    started: set[Process] = field(default_factory=set)
    _incoming: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @property
    def api(self) -> str:
        return self.shown["API"]

    def client(self, timeout: float = 10) -> httpx.Client:
        """An HTTP client of the API holding the key the banner printed."""
        auth = {"Authorization": f"Bearer {self.shown['API key']}"}
        return httpx.Client(base_url=self.api, timeout=timeout, headers=auth)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self) -> None:
        """Reader thread: the stack's stdout, line by line, until it closes."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for(self, marker: str, timeout: float) -> str:
        """Collect output until a line starts with ``marker`` and return it; fail with the output if the
        stack ends first."""
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
                return line
        pytest.fail(f"no {marker!r} from the stack within {timeout}s:\n{self.output}")

    def wait_exit(self, timeout: float) -> int:
        """The stack's exit code, once it has ended on its own and its output is all read."""
        code = self.proc.wait(timeout)
        while (line := self._incoming.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def children(self) -> dict[str, int]:
        """The stack's own processes by name, as their logs are named (``worker-2`` writes ``worker-2.log``)."""
        found = {}
        for pid, _ in descendants(self.proc.pid):
            stat = _proc_stat(pid)
            if stat is None or stat[0] != self.proc.pid:
                continue
            with contextlib.suppress(OSError):  # gone meanwhile
                out = Path(os.readlink(f"/proc/{pid}/fd/1"))
                if out.parent == self.log_dir.resolve():
                    found[out.stem] = pid
        return found

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def note_processes(self) -> None:
        """Remember every process below the stack now (worker pools start lazily, so call it again later)."""
        self.started |= descendants(self.proc.pid)

    def force_stop(self) -> None:
        """Last resort when a test failed mid-way: leave nothing behind for the next test."""
        self.proc.kill()
        for pid, _ in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # only group leaders name a group
                os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def launched(log_dir: Path, **environment: str) -> Iterator[RunningStack]:
    """``python infra/local/stack.py`` on a free port with its own Redis and moto, ready to use;
    ``environment`` adds to (or overrides) the stack's environment. Stopped with Ctrl-C afterwards."""
    port = processes.free_port()
    env = {k: v for k, v in os.environ.items() if k != "IMAGEPIPE_REDIS_URL"}
    env |= {
        "PORT": str(port),
        "WORKERS": "1",
        "LOG_DIR": str(log_dir),
        # What `pip install -e .` gives `make run`; this test must not depend on the install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "layers" / "shared"), env.get("PYTHONPATH")])),
        **environment,
    }
    proc = subprocess.Popen(
        [sys.executable, "infra/local/stack.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningStack(proc, port, log_dir)
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


def assert_ctrl_c_leaves_nothing(stack: RunningStack) -> None:
    """Ctrl-C: the stack exits 0, says so, and no process it started (nor its ports) is left."""
    stack.note_processes()
    stack.proc.send_signal(signal.SIGINT)
    assert stack.proc.wait(STOP_TIMEOUT) == 0, stack.output
    stack.wait_for("stopped", 5)

    assert not [p for p in stack.started if alive(p)], stack.output
    ports = [str(stack.port), *(re.findall(r":(\d+)", stack.shown[name])[-1] for name in ("S3 endpoint", "Redis"))]
    assert not [line for port in ports for line in using_port(port)]


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


def put_into_upload_bucket(stack: RunningStack, key: str, path: Path) -> str:
    """What `aws s3 cp` against the printed S3 endpoint does; the version it wrote."""
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.shown["S3 endpoint"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    return s3.put_object(Bucket=stack.shown["upload bucket"], Key=key, Body=path.read_bytes())["VersionId"]


def listed(http: httpx.Client, key: str) -> dict[str, Any] | None:
    """The record `GET /images?source_key=` lists for ``key``, once there is one."""
    response = http.get("/images", params={"source_key": key})
    assert response.status_code == 200, f"GET /images: {response.status_code} {response.text}"
    items: list[dict[str, Any]] = response.json()["items"]
    return items[0] if items else None
