"""arq's worker with one repair and one saving in how it claims jobs.

arq 0.28 claims a job with WATCH on its in-progress key, EXISTS and ZSCORE, then MULTI/EXEC. redis-py cannot
retry a command on a connection that is watching (the watch died with it), so a connection lost between
WATCH and EXEC, as when Redis restarts, raises WatchError there; arq handles that error only from EXEC, and
from anywhere else it ends the worker's main loop, and the process, with the job's slot still taken.
:class:`Worker` gives the slot back and leaves the job queued: the next poll claims it again, through
redis-py's own retries of the connection (jobs.redis_settings).

The saving: a job stays in arq's queue until it finishes, so every poll (each 50 ms) reads the jobs this
worker is running along with the waiting ones, and arq's claim spends four round trips on each (WATCH, EXISTS,
ZSCORE, UNWATCH) to find its in-progress key taken. :class:`Worker` skips a job whose task it is still running:
the claim could only fail. Nothing else of arq's changes.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import worker as arq_worker
from arq.typing import WorkerSettingsType
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

logger = logging.getLogger("arq.worker")

_LOST = (WatchError, RedisConnectionError, RedisTimeoutError)


class Worker(arq_worker.Worker):
    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's, one job at a time, none this worker is running; a claim cut short by a lost connection gives
        its slot back."""
        for job_id in job_ids:
            running = self.tasks.get(job_id.decode())
            if running is not None and not running.done():
                continue  # its in-progress key is this worker's: arq would find that out in four round trips
            try:
                await super().start_jobs([job_id])
            except _LOST as exc:
                # arq took the slot (its semaphore, its job counter) before the claim's first command, and
                # starts no task for a claim that did not finish
                self.job_counter -= 1
                self.sem.release()
                logger.warning("claiming job %s lost its connection (%s); it stays queued", job_id.decode(), exc)
                return


def create_worker(settings_cls: WorkerSettingsType, **overrides: Any) -> Worker:
    """arq's ``create_worker`` with this module's :class:`Worker`."""
    return Worker(**{**arq_worker.get_kwargs(settings_cls), **overrides})
