"""Restarts for the local stack's replaceable processes (the workers, the S3-events bridge), as ECS
replaces a service's stopped task: started again after a backoff that doubles from 1 s up to 30 s, and
counted from zero again once the process has stayed up a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from processes import Service, exit_reason


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    cap: float = 30.0
    # Up this long, a process counts as healthy: its next death starts the backoff from ``first`` again.
    stable_after: float = 60.0

    def delay(self, restart: int) -> float:
        """Seconds to wait before restart number ``restart`` (1, 2, ...)."""
        return float(min(self.cap, self.first * 2 ** (restart - 1)))


class Supervised:
    """One replaceable process: ``check()`` it now and then; it restarts itself when it has died."""

    def __init__(self, name: str, start: Callable[[], Service], now: float, backoff: Backoff | None = None) -> None:
        self.name = name
        self._start = start
        self.backoff = backoff or Backoff()
        self.service = start()
        self.up_since = now
        self.restarts = 0
        self.restart_at: float | None = None

    def check(self, now: float) -> str | None:
        """Notice a death or carry out a restart that is due; a line for the console when either happened."""
        if self.restart_at is not None:
            if now < self.restart_at:
                return None
            self.service = self._start()
            self.up_since, self.restart_at = now, None
            return f"{self.name} restarted (pid {self.service.proc.pid})"
        if self.service.proc.poll() is None:
            return None
        # Reap it and whatever of its process group outlived it (a worker's imaging pool).
        self.service.wait_or_kill(time.monotonic())
        if now - self.up_since >= self.backoff.stable_after:
            self.restarts = 0
        self.restarts += 1
        delay = self.backoff.delay(self.restarts)
        self.restart_at = now + delay
        reason = exit_reason(self.service.proc.returncode)
        return f"{self.name} {reason}; restarting in {delay:g}s (restart {self.restarts})"
