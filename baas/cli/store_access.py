"""How a CLI command reaches the store: the configured URL, the running embedded store, or a
temporary embedded store started on the data directory for the length of the command."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from baas.settings import Settings
from baas.store.connection import check_store, load_functions, open_store
from baas.store.embedded import EmbeddedValkey, running_store_url


@contextlib.asynccontextmanager
async def store_session(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    url = settings.redis_url or running_store_url(settings.data_dir)
    with contextlib.ExitStack() as stack:
        if not url:
            url = stack.enter_context(EmbeddedValkey(settings.data_dir, appendfsync="always")).url
        store = open_store(url, settings)
        try:
            await check_store(store, url)
            await load_functions(store)
            yield store
        finally:
            await store.aclose()
