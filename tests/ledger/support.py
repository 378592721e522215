"""The gateway with the ledger routes, in-process or as a live process, and a strategy's desk."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from baas.settings import Settings, env_name
from gateway.app import create_app
from gateway.ledger import LEDGER_ROUTES
from tests.conftest import REPO, TenantCredentials, free_port, settings_env

DATA = REPO / "tests" / "data"
STOCKS = DATA / "stocks-daily-2003-2012.csv"
SP500 = DATA / "sp500-index-daily-2003-2012.csv"


def with_ledger(app: Starlette) -> Starlette:
    """``app`` serving the ledger routes too (those gateway.app does not list yet)."""
    present = {
        (r.path, frozenset(r.methods or ())) for r in app.router.routes if isinstance(r, Route)
    }
    for route in LEDGER_ROUTES:
        if (route.path, frozenset(route.methods or ())) not in present:
            app.router.routes.append(route)
    return app


def ledger_app(settings: Settings | None = None) -> Starlette:
    return with_ledger(create_app(settings))


@contextlib.asynccontextmanager
async def ledger_client(
    settings: Settings, client_ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    app = ledger_app(settings)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


@contextlib.contextmanager
def live_ledger_gateway(settings: Settings) -> Iterator[str]:
    """A real gateway process (uvicorn, uvloop) serving the ledger routes; yields its base URL."""
    port = free_port()
    env = {**os.environ, **settings_env(settings), env_name("port"): str(port)}
    process = subprocess.Popen([sys.executable, "-m", "tests.ledger.serve"], env=env, cwd=REPO)
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


def read_closes(path: Path, column: str = "close") -> dict[str, dict[date, Decimal]]:
    """symbol → date → close of one of the test data files."""
    closes: dict[str, dict[date, Decimal]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            closes.setdefault(row["symbol"], {})[date.fromisoformat(row["date"])] = Decimal(
                row[column]
            )
    return closes


@dataclass
class Desk:
    """A tenant with a strategy and its ledger key, on an HTTP client."""

    client: httpx.AsyncClient
    tenant: TenantCredentials
    strategy_id: str
    key: str

    @property
    def tenant_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.tenant.api_key}

    def bearer(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def url(self, tail: str, strategy_id: str | None = None) -> str:
        return f"/api/v1/strategies/{strategy_id or self.strategy_id}/{tail}"

    async def post(self, tail: str, body: Any, key: str | None = None) -> httpx.Response:
        return await self.client.post(self.url(tail), json=body, headers=self.bearer(key))

    async def get(self, tail: str, key: str | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(self.url(tail), headers=self.bearer(key), params=params)

    async def orders(self, *orders: dict[str, Any]) -> httpx.Response:
        return await self.post("orders", {"orders": list(orders)})

    async def cash(self, **fields: Any) -> httpx.Response:
        return await self.post("cash", fields)

    async def state(self) -> dict[str, Any]:
        answer = await self.get("state")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def import_prices(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        answer = await self.client.post(
            f"/tenants/{self.tenant.tenant_id}/api/prices",
            json={"prices": rows},
            headers=self.tenant_headers,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def import_csv(self, path: Path, symbol: str | None = None) -> dict[str, Any]:
        answer = await self.client.post(
            f"/tenants/{self.tenant.tenant_id}/api/prices",
            content=await asyncio.to_thread(path.read_bytes),
            headers={**self.tenant_headers, "Content-Type": "text/csv"},
            params={"symbol": symbol} if symbol else None,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def new_strategy(self, name: str = "another") -> tuple[str, str]:
        """Another strategy of the same tenant, and a key of it."""
        return await open_strategy(self.client, self.tenant, name)


async def create_strategy(
    client: httpx.AsyncClient, tenant: TenantCredentials, name: str = "bot", **body: Any
) -> dict[str, Any]:
    answer = await client.post(
        f"/tenants/{tenant.tenant_id}/api/strategies",
        json={"name": name, **body},
        headers={"X-Api-Key": tenant.api_key},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def create_key(
    client: httpx.AsyncClient, tenant: TenantCredentials, strategy_id: str, name: str = "bot-key"
) -> dict[str, Any]:
    answer = await client.post(
        f"/strategies/{strategy_id}/api-keys",
        json={"name": name},
        headers={"X-Api-Key": tenant.api_key},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def open_strategy(
    client: httpx.AsyncClient, tenant: TenantCredentials, name: str = "bot"
) -> tuple[str, str]:
    strategy = await create_strategy(client, tenant, name)
    key = await create_key(client, tenant, strategy["id"])
    return strategy["id"], key["plaintext"]
