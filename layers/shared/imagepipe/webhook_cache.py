"""Which webhook endpoints a tenant has, kept in Redis for the worker, which needs them for every image it ends.

The list lives in the webhooks table; reading it there is a strongly consistent Query per image. Instead
the worker keeps the endpoint ids in the hash ``imagepipe:webhooks:{table}:{tenant}`` beside the *stamp* it
saw before it read them, and uses them while the stamp is unchanged. The API changes the stamp (a new random
token) after every change to the tenant's endpoints has committed. So a list read before a change can only
be stored under the stamp from before it, which no reader takes for current any more: one round trip per
image, and a new endpoint gets its deliveries from the first image that ends after its registration
returned.

Should the API fail to change the stamp (Redis unreachable just then), the old list can serve until the hash
lapses, :data:`TTL_SECONDS` after it was last written. A deleted endpoint on a stale list costs nothing: each
delivery reads its endpoint first and drops itself when that is gone."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from imagepipe.services import Services
    from imagepipe.webhooks import WebhookStore

log = logging.getLogger("imagepipe.webhooks")

TTL_SECONDS = 30
"""the longest a list can outlive a change whose stamp was lost"""

# store the ids only under the stamp they were read under, and only while it is still the hash's stamp
_KEEP = """
if (redis.call('HGET', KEYS[1], 'stamp') or '') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'read_under', ARGV[1], 'ids', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


def cache_key(table: str, tenant: str) -> str:
    """Named by the table too: stacks that share a Redis keep apart."""
    return f"imagepipe:webhooks:{table}:{tenant}"


async def endpoint_ids(redis: Redis, store: WebhookStore, tenant: str) -> list[str]:
    """The ids of the tenant's endpoints: from Redis while nothing changed them, else from the table."""
    key = cache_key(store.table_name, tenant)
    kept: list[bytes | None] = await redis.hmget(key, ["stamp", "read_under", "ids"])  # type: ignore[misc]
    stamp, read_under, ids = (value.decode() if value is not None else None for value in kept)
    stamp = stamp or ""  # no stamp yet: the API changed nothing since the hash last lapsed
    if read_under == stamp and ids is not None:
        return [str(i) for i in json.loads(ids)]
    found = await asyncio.to_thread(store.endpoints, tenant)
    await redis.eval(_KEEP, 1, key, stamp, json.dumps(found), str(TTL_SECONDS))  # type: ignore[misc]
    return found


async def endpoints_changed(services: Services, tenant: str) -> None:
    """Called by the API once a change to the tenant's endpoints has committed: no list read before it serves."""
    key = cache_key(services.webhooks.table_name, tenant)  # the store the worker reads through names it too
    try:
        redis = await services.queue()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "stamp", secrets.token_hex(8))
            pipe.expire(key, TTL_SECONDS)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning(
            "webhooks of tenant %s changed, but not their stamp (a stale list lapses in %s s): %s",
            tenant,
            TTL_SECONDS,
            exc,
        )
