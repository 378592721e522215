"""Opening the store: the configured Redis/Valkey, or the embedded one under the data directory."""

from __future__ import annotations

from importlib.resources import files

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from baas.settings import Settings
from baas.store.embedded import running_store_url

FUNCTION_LIBRARY = files("baas.store").joinpath("functions.lua").read_text()


class StoreNotFound(RuntimeError):
    pass


def store_url(settings: Settings) -> str:
    """``BAAS_REDIS_URL`` when set, else the URL of the embedded store serving the data dir."""
    if settings.redis_url:
        return settings.redis_url
    url = running_store_url(settings.data_dir)
    if url is None:
        raise StoreNotFound(
            f"no store is running for {settings.data_dir.resolve()}: start one with `baas run` "
            "(or `make run`), or set BAAS_REDIS_URL"
        )
    return url


def open_store(url: str, settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        socket_timeout=settings.store_timeout_seconds,
        socket_connect_timeout=settings.store_timeout_seconds,
        health_check_interval=30,
        max_connections=256,
    )


async def load_functions(store: aioredis.Redis) -> None:
    """Install (or replace) the server-side functions; safe to call from every process."""
    try:
        await store.function_load(FUNCTION_LIBRARY, replace=True)
    except ResponseError as exc:
        raise RuntimeError(f"the store refused the function library: {exc}") from exc
