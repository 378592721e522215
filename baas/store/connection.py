"""Opening the store: the configured Redis/Valkey, or the embedded one under the data directory."""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlparse

import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    RedisError,
    ResponseError,
)

from baas.settings import Settings
from baas.store.embedded import running_store_url

FUNCTION_LIBRARY = files("baas.store").joinpath("functions.lua").read_text()


class StoreNotFound(RuntimeError):
    pass


class StoreUnusable(RuntimeError):
    """The configured store cannot serve: nothing answers, it refuses the URL's credentials, or
    it is a Redis Cluster node."""


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


def store_address(url: str) -> str:
    """Where ``url`` points, without its credentials."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return parsed.path
    return f"{parsed.hostname}:{parsed.port or 6379}"


async def check_store(store: aioredis.Redis, url: str) -> None:
    """Raise StoreUnusable, saying why, unless ``store`` is one server this service can use."""
    where = store_address(url)
    try:
        cluster = await store.info("cluster")
    except (AuthenticationError, AuthenticationWrongNumberOfArgsError) as exc:
        raise StoreUnusable(
            f"the store at {where} refused the password of its URL (BAAS_REDIS_URL): {exc}"
        ) from None
    except (RedisError, OSError) as exc:
        raise StoreUnusable(f"cannot reach the store at {where}: {exc}") from None
    if cluster.get("cluster_enabled"):
        raise StoreUnusable(
            f"the store at {where} is a Redis Cluster node: baas needs one standalone Redis or "
            "Valkey server (its functions write keys of several hash slots at once)"
        )


async def verify_store(url: str, settings: Settings) -> None:
    """``check_store`` on a connection of its own."""
    store = open_store(url, settings)
    try:
        await check_store(store, url)
    finally:
        await store.aclose()
