"""Adding a field to a hash that holds at most so many (a tenant's or a strategy's active keys)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import WatchError


class TooManyKeys(Exception):
    """The hash already holds ``limit`` active keys."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} active keys, the most allowed")
        self.limit = limit


async def hset_capped(
    store: aioredis.Redis, name: str, field: str, value: bytes, limit: int
) -> None:
    """HSET ``name`` ``field`` ``value`` unless ``name`` holds ``limit`` fields already (then
    TooManyKeys); atomic against concurrent additions (WATCH, retried when the hash moved)."""
    async with store.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(name)
                if await pipe.hlen(name) >= limit:
                    raise TooManyKeys(limit)
                pipe.multi()
                pipe.hset(name, field, value)
                await pipe.execute()
                return
            except WatchError:
                continue
