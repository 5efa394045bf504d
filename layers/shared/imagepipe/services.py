"""The clients every entry point needs (settings, originals and variants, records, API keys, webhooks, the arq
pool), built once per process: the API, the S3 trigger, the worker, replay and the backlog function all use this."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from imagepipe import jobs
from imagepipe.apikeys import ApiKeys
from imagepipe.aws import dynamodb_client, s3_client
from imagepipe.records import ImageRecords
from imagepipe.settings import Settings, get_settings
from imagepipe.storage import ImageStore
from imagepipe.webhooks import WebhookStore

if TYPE_CHECKING:
    from arq.connections import ArqRedis


@dataclass
class Services:
    settings: Settings
    store: ImageStore
    records: ImageRecords
    keys: ApiKeys
    webhooks: WebhookStore
    # a pool belongs to the loop that made it (Mangum, uvicorn and the trigger's runner each keep one)
    _pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ArqRedis] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )

    @classmethod
    def build(cls, settings: Settings, pool: ArqRedis | None = None) -> Services:
        """The process's boto3 clients over ``settings``; ``pool`` when the caller already has one (arq's
        worker brings its own)."""
        dynamodb = dynamodb_client()
        services = cls(
            settings,
            ImageStore(s3_client()),
            ImageRecords(dynamodb, settings.table_name, settings.default_tenant),
            ApiKeys(dynamodb, settings.keys_table),
            WebhookStore(dynamodb, settings.webhooks_table),
        )
        if pool is not None:
            services._pools[asyncio.get_running_loop()] = pool
        return services

    async def queue(self) -> ArqRedis:
        """The arq pool of the running loop, connected on first use."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            self._pools[loop] = await jobs.connect(self.settings)
        return self._pools[loop]

    async def close(self) -> None:
        """Close the running loop's pool."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()


@lru_cache(maxsize=1)
def get_services() -> Services:
    """The process's services, built once."""
    return Services.build(get_settings())
