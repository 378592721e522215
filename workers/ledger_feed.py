"""From the gateway to the ledger: every fill becomes a ledger order of its strategy.

The worker reads the ``OrderFilled`` events of the log like any other entry, so a fill reaches
the ledger even if the worker that recorded it died a moment later. The strategy is the alert's
``StrategyId``, else the tenant's default strategy. The ledger is idempotent on
``external_order_id`` (the fill's id), so a fill is never counted twice; a paper broker's
starting cash is deposited once per strategy (``external_id`` ``paper-start:<broker>``) before
its first fill there.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from baas.core.ledger.events import CashEvent, Order
from baas.core.ledger.writes import OrderInput
from baas.core.trading import events
from baas.core.trading.readmodel import BROKERS, DEFAULT_PAPER_BROKER, SIGNALS
from baas.store.ledger import LedgerStore
from baas.store.trading import TradingStore

log = logging.getLogger("baas.worker")


async def _no_lookup(pairs: Collection[tuple[str, date]]) -> Mapping[tuple[str, date], Decimal]:
    return {}  # a fill always has its price


class LoggedFill(NamedTuple):
    tenant_id: str
    fill: events.DomainEvent


def decode_fill(entry_id: str, tenant_id: str, document: dict[str, Any]) -> LoggedFill | None:
    """The entry's fill, if it is one (the workers' ``OrderFilled`` outcome)."""
    outcome = events.outcome_of(document)
    if outcome is None or outcome.type != events.ORDER_FILLED:
        return None
    return LoggedFill(tenant_id, outcome)


class LedgerFeed:
    def __init__(self, ledger: LedgerStore, trading: TradingStore) -> None:
        self.ledger = ledger
        self.trading = trading
        # What this process already knows to exist; saves store round trips on every fill.
        self._strategies: set[tuple[str, str]] = set()
        self._deposited: set[tuple[str, str, str]] = set()

    async def handle(self, logged: LoggedFill) -> None:
        """Post a logged fill to the ledger."""
        tenant_id, fill = logged
        data = fill.data
        signal = await self.trading.record_of(tenant_id, SIGNALS, fill.subject) or {}
        strategy_id = await self._strategy(tenant_id, signal.get("StrategyId"))
        executed_at = fill.time
        if data.get("Paper"):
            await self._starting_cash(tenant_id, strategy_id, data["BrokerId"], executed_at)
        side = data.get("Side")
        if side not in ("buy", "sell"):  # a close: the opposite of the position it flattens
            held = (await self.ledger.projection(tenant_id, strategy_id)).state.positions
            position = held.get(data["Symbol"])
            side = "sell" if position is None or position.quantity > 0 else "buy"
        order = Order(
            symbol=data["Symbol"],
            side=side,
            quantity=Decimal(data["Quantity"]),
            price=Decimal(data["Price"]),
            executed_at=executed_at,
            fees=Decimal(data.get("Commission") or "0"),
            external_order_id=data["FillId"],
        )
        details = {
            "SignalId": fill.subject,
            "BrokerId": data["BrokerId"],
            "AlertId": signal.get("AlertId"),
        }
        await self.ledger.record_orders(
            tenant_id, strategy_id, [OrderInput(order, details)], _no_lookup
        )

    async def _strategy(self, tenant_id: str, strategy_id: str | None) -> str:
        if strategy_id and (tenant_id, strategy_id) in self._strategies:
            return strategy_id
        if strategy_id and await self.ledger.get_strategy(tenant_id, strategy_id) is not None:
            self._strategies.add((tenant_id, strategy_id))
            return strategy_id
        if strategy_id:
            log.warning(
                "unknown strategy: fills go to the default", extra={"strategy_id": strategy_id}
            )
        return await self.ledger.default_strategy_id(tenant_id)

    async def _starting_cash(
        self, tenant_id: str, strategy_id: str, broker_id: str, first_fill: datetime
    ) -> None:
        if (tenant_id, strategy_id, broker_id) in self._deposited:
            return
        broker = await self.trading.record_of(tenant_id, BROKERS, broker_id) or DEFAULT_PAPER_BROKER
        amount = Decimal(str(broker.get("StartingCash") or DEFAULT_PAPER_BROKER["StartingCash"]))
        deposit = CashEvent(
            event_type="deposit",
            amount=amount,
            occurred_at=first_fill - timedelta(microseconds=1),
            external_id=f"paper-start:{broker_id}",
            note=f"starting cash of the paper broker {broker_id}",
        )
        await self.ledger.record_cash(tenant_id, strategy_id, deposit)
        self._deposited.add((tenant_id, strategy_id, broker_id))
