"""The worker's brokers outside the sandbox (IBKR): one adapter per (tenant, broker), what is
sent to them, and what they report back, recorded in the tenant's log.

Recording a broker's report is idempotent like a command: each is recorded under a key of its
own (``ibkr:<broker>:<signal>:<kind>``, ``ibkr-fill:<broker>:<execId>``), so a report that
arrives twice (after a reconnect, or through the periodic reconciliation) is recorded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from baas.core.keyspace import Keyspace
from baas.core.trading import events as ev
from baas.core.trading.readmodel import BROKERS, FINAL_STATUSES, evolve
from baas.settings import Settings
from baas.store.trading import Recorded, TradingStore
from workers.ibkr import BrokerOrder, BrokerOutcome, ConnectionOptions, IbkrBroker, IbkrOptions
from workers.outcome_log import log_outcomes

log = logging.getLogger("baas.worker")

STATUS_TTL_SECONDS = 30
MAX_ATTEMPTS = 50
_OUTCOME_EVENTS = {
    "submitted": ev.ORDER_SUBMITTED,
    "filled": ev.ORDER_FILLED,
    "rejected": ev.ORDER_REJECTED,
    "cancelled": ev.ORDER_CANCELLED,
}


def ibkr_options(settings: Settings) -> IbkrOptions:
    return IbkrOptions(
        connection=ConnectionOptions(
            initial_delay=settings.ibkr_reconnect_initial_seconds,
            max_delay=settings.ibkr_reconnect_max_seconds,
            connect_timeout=settings.ibkr_connect_timeout_seconds,
            heartbeat_interval=settings.ibkr_heartbeat_seconds,
            heartbeat_timeout=settings.ibkr_heartbeat_timeout_seconds,
        ),
        request_timeout=settings.ibkr_request_timeout_seconds,
        commission_wait=settings.ibkr_commission_wait_seconds,
    )


def _connected_to(broker: dict[str, Any]) -> bool:
    """Whether a worker keeps a connection to this broker (a read-model record)."""
    return (
        broker.get("Kind") == "ibkr" and broker.get("Enabled", True) and not broker.get("Removed")
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class BrokerRegistry:
    def __init__(
        self,
        store: aioredis.Redis,
        keyspace: Keyspace,
        trading: TradingStore,
        settings: Settings,
        worker: str,
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.trading = trading
        self.settings = settings
        self.worker = worker
        self.options = ibkr_options(settings)
        self.adapters: dict[tuple[str, str], tuple[dict[str, Any], IbkrBroker]] = {}
        self._changing = asyncio.Lock()  # one adapter per broker, even when sync and submit race

    async def submit(
        self, tenant_id: str, broker: dict[str, Any], accepted: dict[str, Any]
    ) -> None:
        """Send an accepted signal to its broker (safe to repeat: the adapter checks IB first)."""
        adapter = await self._adapter(tenant_id, broker)
        price = accepted.get("Price")
        limit = accepted.get("LimitPrice")
        order = BrokerOrder(
            signal_id=accepted["SignalId"],
            tenant_id=tenant_id,
            broker_id=broker["BrokerId"],
            instrument_type=accepted["InstrumentType"],
            symbol=accepted["Symbol"],
            side=accepted["Side"],
            quantity=Decimal(accepted["Quantity"]),
            order_type=accepted["OrderType"],
            deadline=datetime.fromisoformat(accepted["Deadline"]),
            limit_price=Decimal(limit) if limit else None,
            price=Decimal(price) if price else None,
        )
        await adapter.submit(order)

    def equity(self, tenant_id: str, broker_id: str) -> Decimal | None:
        entry = self.adapters.get((tenant_id, broker_id))
        return entry[1].net_liquidation() if entry else None

    async def sync(self, tenant_ids: Iterable[str] | None = None) -> None:
        """Bring the connections in step with the brokers' configuration: one for every enabled
        ibkr broker of the tenants (all when None), none for a broker removed or disabled."""
        if tenant_ids is None:
            tenant_ids = [raw.decode() for raw in await self.store.hkeys(self.keys.tenants)]
        tenants = list(tenant_ids)
        async with self.store.pipeline(transaction=False) as pipe:
            for tenant_id in tenants:
                pipe.hgetall(self.keys.readmodel(tenant_id, BROKERS))
            rows = await pipe.execute()
        wanted = {
            (tenant_id, raw_id.decode()): broker
            for tenant_id, brokers in zip(tenants, rows, strict=True)
            for raw_id, raw in brokers.items()
            if _connected_to(broker := orjson.loads(raw))
        }
        synced = set(tenants)
        for key in list(self.adapters):
            if key[0] in synced and key not in wanted:
                await self._close(*key)
        for (tenant_id, broker_id), broker in wanted.items():
            try:
                await self._adapter(tenant_id, broker)
            except Exception:
                log.exception(
                    "cannot connect to the broker",
                    extra={"tenant_id": tenant_id, "broker_id": broker_id},
                )

    async def _close(self, tenant_id: str, broker_id: str) -> None:
        async with self._changing:
            entry = self.adapters.pop((tenant_id, broker_id), None)
            if entry is None:
                return
            await entry[1].stop()
        await self.store.hdel(self.keys.broker_status(tenant_id, broker_id), self.worker)
        log.info(
            "ibkr connection to broker %s closed",
            broker_id,
            extra={"tenant_id": tenant_id, "broker_id": broker_id},
        )

    async def _adapter(self, tenant_id: str, broker: dict[str, Any]) -> IbkrBroker:
        key = (tenant_id, broker["BrokerId"])
        async with self._changing:
            current = self.adapters.get(key)
            if current is not None and current[0] == broker:
                return current[1]
            if current is not None:  # reconfigured: a new connection with the new settings
                await current[1].stop()

            async def sink(outcome: BrokerOutcome) -> None:
                await self.record(outcome)

            adapter = IbkrBroker.for_broker(
                broker,
                tenant_id=tenant_id,
                worker_index=self.settings.worker_index,
                on_outcome=sink,
                options=self.options,
            )
            await adapter.start()
            self.adapters[key] = (dict(broker), adapter)
            return adapter

    async def record(self, outcome: BrokerOutcome) -> None:
        """Record what the broker reported as an outcome event of the signal."""
        if outcome.kind == "filled":
            key = f"ibkr-fill:{outcome.broker_id}:{outcome.fill_id}"
        else:
            key = f"ibkr:{outcome.broker_id}:{outcome.signal_id}:{outcome.kind}"
        for _ in range(MAX_ATTEMPTS):
            version, model = await self.trading.load(outcome.tenant_id, signals=[outcome.signal_id])
            record = model.signals.get(outcome.signal_id)
            status = record["Status"] if record else None
            if (outcome.kind == "submitted" and status != "accepted") or (
                outcome.kind in ("rejected", "cancelled") and status in FINAL_STATUSES
            ):
                return
            event = self._event(outcome, record or {})
            evolve(model, event)
            result = await self.trading.record(
                outcome.tenant_id, key, version, key, [event], model, outcome.time
            )
            if result is Recorded.OK:
                log_outcomes(outcome.tenant_id, [event])
            if result is not Recorded.CONFLICT:
                return
        raise RuntimeError(f"{key}: still conflicting after {MAX_ATTEMPTS} attempts")

    @staticmethod
    def _event(outcome: BrokerOutcome, signal: dict[str, Any]) -> ev.DomainEvent:
        data: dict[str, Any] = {
            "BrokerId": outcome.broker_id,
            "OrderId": outcome.signal_id,
            "BrokerOrderId": outcome.broker_order_id,
        }
        if outcome.kind == "submitted":
            data.update(
                Symbol=signal.get("Symbol"),
                Side=signal.get("Side"),
                Quantity=_text(outcome.quantity) or signal.get("Quantity"),
                OrderType=signal.get("OrderType"),
                LimitPrice=_text(outcome.price),
                Resting=signal.get("OrderType") == "LMT",
                Note=outcome.reason,
            )
        elif outcome.kind == "filled":
            data.update(
                FillId=outcome.fill_id,
                Symbol=signal.get("Symbol"),
                Side=outcome.side or signal.get("Side"),
                Quantity=_text(outcome.quantity),
                Price=_text(outcome.price),
                Commission=_text(outcome.commission) or "0",
                CommissionCurrency=outcome.commission_currency,
                OrderQuantity=_text(outcome.order_quantity) or signal.get("Quantity"),
            )
        else:
            data.update(Reason=outcome.reason, BrokerCode=outcome.code)
        return ev.DomainEvent(_OUTCOME_EVENTS[outcome.kind], outcome.signal_id, outcome.time, data)

    async def reconcile(self) -> int:
        """Ask every broker for executions missed while away (the periodic job)."""
        delivered = 0
        for _, adapter in list(self.adapters.values()):
            with contextlib.suppress(Exception):
                delivered += await adapter.reconcile_executions()
        return delivered

    async def publish_status(self) -> None:
        """Each worker's connection status, for ``GET …/brokers/{id}`` (expires with the worker)."""
        for (tenant_id, broker_id), (_, adapter) in list(self.adapters.items()):
            key = self.keys.broker_status(tenant_id, broker_id)
            status = {**adapter.status().to_dict(), "worker": self.worker}
            async with self.store.pipeline(transaction=False) as pipe:
                pipe.hset(key, self.worker, orjson.dumps(status))
                pipe.expire(key, STATUS_TTL_SECONDS)
                await pipe.execute()

    async def run_status_publisher(self, stop: asyncio.Event) -> None:
        """Every ``BAAS_IBKR_SYNC_SECONDS``: connections in step with the configuration (from
        the start, not from a broker's first signal), then their status published."""
        while not stop.is_set():
            try:
                await self.sync()
                await self.publish_status()
            except Exception:
                log.exception("cannot bring the ibkr connections in step")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.ibkr_sync_seconds)

    async def stop(self) -> None:
        for _, adapter in list(self.adapters.values()):
            with contextlib.suppress(Exception):
                await adapter.stop()
        self.adapters.clear()
