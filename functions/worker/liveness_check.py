"""Container health check: exit 0 when a worker in this container has beaten recently, else 1.

``python liveness_check.py`` (the Dockerfile's HEALTHCHECK) — unlike ``arq --check``, which reads one
key shared by every worker, this fails for a container whose own worker is stuck or gone."""

from __future__ import annotations

import asyncio
import socket
import sys

from imagepipe import jobs, liveness
from imagepipe.settings import get_settings


async def check() -> bool:
    settings = get_settings()
    pool = await jobs.connect(settings)
    try:
        return bool(await liveness.alive(pool, settings.heartbeat_ttl_seconds, host=socket.gethostname()))
    finally:
        await pool.aclose()


def main() -> int:
    ok = asyncio.run(check())
    print("worker alive" if ok else "no live worker in this container")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
