"""A per-key request rate in Redis: a fixed one-minute window, counted atomically by one Lua script."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

WINDOW_MS = 60_000

# INCR and the window's expiry in one step, so concurrent API processes cannot lose a count or leave a
# counter without an expiry; answers the milliseconds left in the window once the limit is passed, else -1.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
  return left
end
return -1
"""


def counter_key(key_id: str) -> str:
    return f"imagepipe:rate:{key_id}"


async def over_limit(redis: Redis, key_id: str, per_minute: int) -> int | None:
    """Count one request of ``key_id``; the seconds to wait when it is over ``per_minute``, else None."""
    left = int(await redis.eval(_COUNT, 1, counter_key(key_id), str(WINDOW_MS), str(per_minute)))  # type: ignore[misc]
    return None if left < 0 else max(1, math.ceil(left / 1000))
