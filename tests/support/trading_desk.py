"""A gateway and workers on one real store, driven step by step from the test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from baas.bootstrap import command_consumer, ledger_consumer
from baas.core.keyspace import Keyspace
from baas.core.trading.signals import SignalPolicy
from baas.store.trading import TradingStore
from tests.support.store import TenantCredentials
from workers.consumer import LogConsumer
from workers.handlers import CommandHandler


def now_iso(offset: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class TradingDesk:
    """A tenant's trading desk: send commands through the gateway, let a worker handle them."""

    client: httpx.AsyncClient
    tenant: TenantCredentials
    consumer: LogConsumer
    trading: TradingStore
    keyspace: Keyspace
    store: Any
    ledger_consumer: LogConsumer | None = None

    @property
    def url(self) -> str:
        return f"/tenants/{self.tenant.tenant_id}/api/trading"

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.tenant.api_key}

    async def send(
        self, command_type: str, data: dict[str, Any], **attributes: Any
    ) -> httpx.Response:
        event = {
            "id": attributes.pop("id", secrets.token_hex(8)),
            "type": command_type,
            "source": "tests",
            "time": attributes.pop("time", now_iso()),
            "data": data,
            **attributes,
        }
        response = await self.client.post(self.url, json=event, headers=self.headers)
        assert response.status_code == 202, response.text
        return response

    async def signal(self, **data: Any) -> str:
        body = {
            "CorrelationId": "alert-1",
            "Id": secrets.token_hex(6),
            "BrokerId": "paper",
            "Symbol": "AAPL",
            "Date": now_iso(),
            "Data": "buy",
            "Quantity": 10,
            "Price": 200.0,
            "OrderType": "MKT",
            "InstrumentType": "STK",
            "AccountRiskPercentage": 0,
            "AccountQuantityMultiplier": 0,
        }
        body.update(data)
        body = {k: v for k, v in body.items() if v is not None}
        await self.send("SubmitSignal", body)
        return body["Id"]

    async def alert(
        self, alert_id: str = "alert-1", kind: str = "ConfigureIndicatorAlert", **data: Any
    ) -> None:
        await self.send(kind, {"AlertId": alert_id, "BrokerId": "paper", **data})

    async def drain(self) -> None:
        """Let the worker handle everything sent so far."""
        consumers = [c for c in (self.consumer, self.ledger_consumer) if c is not None]
        for _ in range(50):
            if not sum([await c.step() for c in consumers]):
                return
        raise AssertionError("the worker did not settle")

    async def signal_record(self, signal_id: str) -> dict[str, Any]:
        record = await self.trading.record_of(self.tenant.tenant_id, "signals", signal_id)
        assert record is not None, f"no record of {signal_id}"
        return record

    async def account(self, broker_id: str = "paper") -> dict[str, Any]:
        record = await self.trading.record_of(self.tenant.tenant_id, "paper", broker_id)
        assert record is not None
        return record

    async def log(self) -> list[dict[str, Any]]:
        entries = await self.store.xrange(self.keyspace.tenant_log(self.tenant.tenant_id))
        return [orjson.loads(fields[b"event"]) for _, fields in entries]


async def handle_again(consumer: LogConsumer, tenant_id: str, entry_id: str, event: Any) -> None:
    """Hand a logged entry to a consumer's handler once more, as another worker would after a
    crash before the acknowledgement."""
    decoded = consumer.decode(entry_id, tenant_id, event)
    if decoded is not None:
        await consumer.handle(decoded)


def make_consumer(store: Any, keyspace: Keyspace, settings: Any, name: str = "w1") -> LogConsumer:
    handler = CommandHandler(TradingStore(store, keyspace), SignalPolicy())
    return command_consumer(store, keyspace, settings, name, handler)


def make_ledger_consumer(
    store: Any, keyspace: Keyspace, settings: Any, name: str = "w1"
) -> LogConsumer:
    return ledger_consumer(store, keyspace, settings, name)
