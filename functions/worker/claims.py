"""arq's worker with one repair: a Redis connection lost while it claims a job no longer ends the process.

arq 0.28 claims a job with WATCH on its in-progress key, EXISTS and ZSCORE, then MULTI/EXEC. redis-py cannot
retry a command on a connection that is watching (the watch died with it), so a connection lost between
WATCH and EXEC, as when Redis restarts, raises WatchError there; arq handles that error only from EXEC, and
from anywhere else it ends the worker's main loop, and the process, with the job's slot still taken.
:class:`Worker` gives the slot back and leaves the job queued: the next poll claims it again, through
redis-py's own retries of the connection (jobs.redis_settings). Nothing else of arq's changes.
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
        """arq's, one job at a time; a claim cut short by a lost connection gives its slot back."""
        for job_id in job_ids:
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
