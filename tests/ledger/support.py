"""Test data and a strategy's desk for the ledger tests."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.support.repo import REPO
from tests.support.store import TenantCredentials

DATA = REPO / "tests" / "data"
STOCKS = DATA / "stocks-daily-2003-2012.csv"
SP500 = DATA / "sp500-index-daily-2003-2012.csv"


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
