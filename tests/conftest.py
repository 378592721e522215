"""Shared fixtures: a real store (embedded Valkey, or REDIS_URL), apps and live gateways on it.

Every test run writes under its own key prefix and deletes only those keys at the end, so a
shared server (the machines' Redis at 127.0.0.1:6379) is never flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import uvloop

from baas.settings import Settings
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from tests.support.gateway import app_client
from tests.support.store import (
    TenantCredentials,
    external_store_url,
    make_settings,
    new_tenant,
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The tests run on uvloop, as the gateway does."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = external_store_url()
    if url:
        yield url
        return
    with EmbeddedValkey(tmp_path_factory.mktemp("valkey")) as server:
        yield server.url


@pytest.fixture(scope="session")
def run_prefix(store_url: str) -> Iterator[str]:
    """This test run's key prefix; its keys are deleted at the end, nothing else is touched."""
    prefix = f"test-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(store_url)
    with contextlib.closing(client):
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)


@pytest.fixture
def prefix(run_prefix: str) -> str:
    """A fresh prefix per test: tests never see each other's tenants, limits or logs."""
    return f"{run_prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def settings(store_url: str, prefix: str) -> Settings:
    return make_settings(store_url, prefix)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Any]:
    client = open_store(store_url, Settings.from_env({}))
    await load_functions(client)
    yield client
    await client.aclose()


@pytest.fixture
async def tenant(store: Any, prefix: str) -> TenantCredentials:
    return await new_tenant(store, prefix)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as c:
        yield c
