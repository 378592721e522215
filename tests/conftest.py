"""Shared fixtures: a real store (embedded Valkey, or REDIS_URL), apps and live gateways on it.

Every test run writes under its own key prefix and deletes only those keys at the end, so a
shared server (the machines' Redis at 127.0.0.1:6379) is never flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvloop

from baas.core.keyspace import Keyspace
from baas.settings import Settings, env_name
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from baas.store.tenants import TenantRegistry
from gateway.app import create_app

REPO = Path(__file__).resolve().parent.parent
UNLIMITED = {
    "ip_limit": 1_000_000,
    "tenant_write_limit": 1_000_000,
    "auth_failure_limit": 1_000_000,
}


def external_store_url() -> str:
    return os.environ.get(env_name("redis_url")) or os.environ.get("REDIS_URL", "")


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


def make_settings(store_url: str, prefix: str, **overrides: Any) -> Settings:
    values = {
        "redis_url": store_url,
        "key_prefix": prefix,
        "data_dir": Path("/nonexistent"),
        **UNLIMITED,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@pytest.fixture
def settings(store_url: str, prefix: str) -> Settings:
    return make_settings(store_url, prefix)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Any]:
    client = open_store(store_url, Settings.from_env({}))
    await load_functions(client)
    yield client
    await client.aclose()


@dataclass(frozen=True)
class TenantCredentials:
    tenant_id: str
    api_key: str
    key_id: str


async def new_tenant(store: Any, prefix: str, name: str = "test") -> TenantCredentials:
    tenant, issued = await TenantRegistry(store, Keyspace(prefix)).create_tenant(name)
    return TenantCredentials(tenant.tenant_id, issued.api_key, issued.info.key_id)


@pytest.fixture
async def tenant(store: Any, prefix: str) -> TenantCredentials:
    return await new_tenant(store, prefix)


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, client_ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process, its lifespan run around it."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_gateway(settings: Settings) -> Iterator[str]:
    """A real `baas gateway` process on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, **settings_env(settings), env_name("port"): str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "baas.cli.main", "gateway"], env=env, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("the gateway exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def settings_env(settings: Settings) -> dict[str, str]:
    from dataclasses import fields

    return {env_name(f.name): str(getattr(settings, f.name)) for f in fields(settings)}


def signal_event(tenant_id: str, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    """The spec's SubmitSignal example, with fresh ids."""
    body = {
        "CorrelationId": "alert-1",
        "TenantId": tenant_id,
        "Id": secrets.token_hex(8),
        "BrokerId": "paper",
        "BrokerName": "IBKR",
        "Symbol": "MSFT",
        "Date": "2026-04-27T11:20:00Z",
        "Data": "buy",
        "Quantity": 1,
        "Price": 424.60,
        "OrderType": "MKT",
        "InstrumentType": "STK",
        "AccountRiskPercentage": 0,
        "AccountQuantityMultiplier": 0,
    }
    body.update(data)
    return {
        "id": event_id or secrets.token_hex(8),
        "type": "SubmitSignal",
        "source": "trading",
        "dataSchema": "submit-signal/1.0",
        "dataContentType": "application/json",
        "time": "2026-04-27T11:20:00Z",
        "data": body,
    }


def to_structured(event: dict[str, Any]) -> dict[str, Any]:
    """The spec dialect's event in CloudEvents structured mode (lowercase names, specversion)."""
    renamed = {"dataSchema": "dataschema", "dataContentType": "datacontenttype"}
    return {"specversion": "1.0", **{renamed.get(k, k): v for k, v in event.items()}}
