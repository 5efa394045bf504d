"""The local stack's restart policy with real processes; the clock is passed in, so no test waits for a
backoff to elapse."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import processes
from processes import Service
from supervision import Backoff, Supervised

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def starter(args: list[str], started: list[Service]) -> Callable[[], Service]:
    def start() -> Service:
        service = Service("worker-9", processes.spawn("worker-9", args), url="")
        started.append(service)
        return service

    return start


@pytest.fixture
def started() -> Iterator[list[Service]]:
    made: list[Service] = []
    yield made
    for service in made:
        service.stop(timeout=0)


def sigkill(service: Service) -> None:
    os.kill(service.proc.pid, signal.SIGKILL)
    service.proc.wait()


def test_a_killed_process_is_restarted_after_a_backoff_that_doubles_up_to_the_cap(started: list[Service]) -> None:
    member = Supervised("worker-9", starter(SLEEPER, started), now=0.0, backoff=Backoff(first=1, cap=4))
    now = 0.0
    for restart, delay in enumerate([1, 2, 4, 4], start=1):
        sigkill(member.service)
        assert member.check(now) == f"worker-9 was killed by SIGKILL; restarting in {delay}s (restart {restart})"
        assert member.check(now + delay - 0.01) is None  # not yet
        assert len(started) == restart

        assert member.check(now + delay) == f"worker-9 restarted (pid {started[-1].proc.pid})"
        assert member.service is started[-1]
        assert member.service.proc.poll() is None
        now += delay
    assert member.check(now + 1000) is None  # a living process is left alone


def test_a_process_that_stayed_up_starts_its_backoff_over(started: list[Service]) -> None:
    backoff = Backoff(first=1, cap=30, stable_after=60)
    member = Supervised("worker-9", starter(SLEEPER, started), now=0.0, backoff=backoff)
    sigkill(member.service)
    assert member.check(0.0) is not None
    assert member.check(1.0) is not None
    sigkill(member.service)  # up only 5 s: the backoff goes on
    assert member.check(6.0) == "worker-9 was killed by SIGKILL; restarting in 2s (restart 2)"
    assert member.check(8.0) is not None

    sigkill(member.service)  # up 60 s: healthy, so counted from the start again
    assert member.check(68.0) == "worker-9 was killed by SIGKILL; restarting in 1s (restart 1)"


def test_a_crash_is_reported_with_its_exit_code(started: list[Service]) -> None:
    member = Supervised("worker-9", starter([sys.executable, "-c", "raise SystemExit(3)"], started), now=0.0)
    member.service.proc.wait()
    assert member.check(0.0) == "worker-9 exited with code 3; restarting in 1s (restart 1)"


def test_what_outlived_the_dead_process_in_its_group_is_killed(started: list[Service], tmp_path: Path) -> None:
    """A SIGKILLed worker leaves its imaging pool behind; the restart must not pile them up."""
    pidfile = tmp_path / "grandchild"
    shell = ["sh", "-c", f"sleep 600 & echo $! > {pidfile}; wait"]
    member = Supervised("worker-9", starter(shell, started), now=0.0)
    while not pidfile.exists() or not pidfile.read_text().strip():
        time.sleep(0.01)
    grandchild = int(pidfile.read_text())

    sigkill(member.service)
    assert running(grandchild)  # orphaned, not gone
    assert member.check(0.0) is not None
    assert ends(grandchild)


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may wait a moment for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def ends(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` stops running: SIGKILL is delivered at once, but the process dies when next scheduled."""
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not running(pid)
