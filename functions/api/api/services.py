"""The clients a process needs, built once per process and injected into routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends

from imagepipe import jobs
from imagepipe.apikeys import ApiKeys
from imagepipe.aws import dynamodb_client, s3_client
from imagepipe.records import ImageRecords
from imagepipe.settings import Settings, get_settings
from imagepipe.storage import ImageStore

if TYPE_CHECKING:
    from arq.connections import ArqRedis


@dataclass
class Services:
    settings: Settings
    store: ImageStore
    records: ImageRecords
    keys: ApiKeys
    _pool: ArqRedis | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def queue(self) -> ArqRedis:
        """The arq pool, connected on first use in the running loop (Mangum and uvicorn each run one)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._pool = await jobs.connect(self.settings)
            self._loop = loop
        return self._pool


@lru_cache(maxsize=1)
def get_services() -> Services:
    settings = get_settings()
    return Services(
        settings=settings,
        store=ImageStore(s3_client()),
        records=ImageRecords(dynamodb_client(), settings.table_name),
        keys=ApiKeys(dynamodb_client(), settings.keys_table),
    )


ServicesDep = Annotated[Services, Depends(get_services)]
