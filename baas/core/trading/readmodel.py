"""The read models of a tenant's trading, and how each recorded outcome changes them.

A ``ReadModel`` holds the part of a tenant's state a decision needs (the worker loads only
that) or all of it (``baas rebuild`` folds the whole log into an empty one). ``evolve`` is
the only way it changes, so live projections and rebuilt ones agree by construction; every
record it touches is remembered in ``dirty`` for the store to write back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from baas.core.event_time import format_time
from baas.core.trading import events as ev
from baas.core.trading.paper import (
    Cancelled,
    Fill,
    Filled,
    PaperAccount,
    PaperSettings,
    Resting,
    RestingOrder,
    apply_outcome,
    apply_price,
)

ALERTS, BROKERS, ACCOUNTS, SIGNALS = "alerts", "brokers", "paper", "signals"
DEFAULT_BROKER_ID = "paper"
DEFAULT_PAPER_BROKER: dict[str, Any] = {
    "BrokerId": DEFAULT_BROKER_ID,
    "Kind": "paper",
    "Name": "Paper trading",
    "Enabled": True,
    "StartingCash": 100000,
    "CommissionPerShare": 0,
    "MinCommission": 0,
    "SlippageBps": 0,
}
FINAL_STATUSES = frozenset({"filled", "rejected", "cancelled"})


@dataclass
class ReadModel:
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    brokers: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, PaperAccount] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed_brokers: set[str] = field(default_factory=set)
    # Equity that brokers outside the sandbox report (IBKR net liquidation), for risk sizing.
    external_equity: dict[str, Decimal] = field(default_factory=dict)
    dirty: set[tuple[str, str]] = field(default_factory=set)

    def broker(self, broker_id: str) -> dict[str, Any] | None:
        """A configured broker; every tenant has the paper broker ``paper`` until it is removed."""
        if broker_id in self.brokers:
            return self.brokers[broker_id]
        if broker_id == DEFAULT_BROKER_ID and broker_id not in self.removed_brokers:
            return DEFAULT_PAPER_BROKER
        return None

    def account(self, broker_id: str) -> PaperAccount:
        """The paper account of a paper broker, opened with its starting cash on first use."""
        if broker_id not in self.accounts:
            config = self.broker(broker_id) or DEFAULT_PAPER_BROKER
            self.accounts[broker_id] = PaperAccount.open(PaperSettings.from_config(config))
        return self.accounts[broker_id]

    def touch(self, kind: str, key: str) -> None:
        self.dirty.add((kind, key))


def evolve(model: ReadModel, event: ev.DomainEvent) -> None:
    handler = _EVOLVERS.get(event.type)
    if handler is not None:
        handler(model, event)


def _alert_configured(model: ReadModel, event: ev.DomainEvent) -> None:
    model.alerts[event.subject] = dict(event.data)
    model.touch(ALERTS, event.subject)


def _broker_configured(model: ReadModel, event: ev.DomainEvent) -> None:
    model.brokers[event.subject] = dict(event.data)
    model.removed_brokers.discard(event.subject)
    model.touch(BROKERS, event.subject)


def _broker_removed(model: ReadModel, event: ev.DomainEvent) -> None:
    model.brokers.pop(event.subject, None)
    model.removed_brokers.add(event.subject)
    model.touch(BROKERS, event.subject)


def _signal_recorded(model: ReadModel, event: ev.DomainEvent) -> None:
    status = "accepted" if event.type == ev.SIGNAL_ACCEPTED else "rejected"
    record = {
        **event.data,
        "Status": status,
        "FilledQuantity": "0",
        "Fills": [],
        "History": [],
        "CreatedAt": format_time(event.time),
    }
    model.signals[event.subject] = record
    _history(model, event, status, event.data.get("Reason"))


def _order_submitted(model: ReadModel, event: ev.DomainEvent) -> None:
    data = event.data
    if data.get("Resting"):
        account = model.account(data["BrokerId"])
        order = RestingOrder(
            order_id=data["OrderId"],
            symbol=data["Symbol"],
            side=data["Side"],
            quantity=Decimal(data["Quantity"]),
            limit_price=Decimal(data["LimitPrice"]),
            placed_at=event.time,
            expires_at=_time_or_none(data.get("ExpiresAt")),
        )
        apply_outcome(account, Resting(order))
        model.touch(ACCOUNTS, data["BrokerId"])
    if event.subject in model.signals:
        model.signals[event.subject]["BrokerOrderId"] = data.get("BrokerOrderId") or data["OrderId"]
    _history(model, event, "submitted", None)


def _order_filled(model: ReadModel, event: ev.DomainEvent) -> None:
    data = event.data
    if data.get("Paper"):
        fill = Fill(
            fill_id=data["FillId"],
            order_id=data["OrderId"],
            symbol=data["Symbol"],
            side=data["Side"],
            quantity=Decimal(data["Quantity"]),
            price=Decimal(data["Price"]),
            commission=Decimal(data["Commission"]),
            time=event.time,
        )
        apply_outcome(model.account(data["BrokerId"]), Filled(fill))
        model.touch(ACCOUNTS, data["BrokerId"])
    record = model.signals.get(event.subject)
    if record is None:
        return
    fills = [f for f in record["Fills"] if f["FillId"] != data["FillId"]]
    fills.append(
        {
            "FillId": data["FillId"],
            "Quantity": data["Quantity"],
            "Price": data["Price"],
            "Commission": data["Commission"],
            "BrokerOrderId": data.get("BrokerOrderId") or data["OrderId"],
            "Time": format_time(event.time),
        }
    )
    record["Fills"] = fills
    filled = sum((Decimal(f["Quantity"]) for f in fills), Decimal(0))
    record["FilledQuantity"] = str(filled)
    ordered = Decimal(data.get("OrderQuantity") or record.get("Quantity") or filled)
    _history(model, event, "filled" if filled >= ordered else "partially_filled", None)


def _order_ended(model: ReadModel, event: ev.DomainEvent) -> None:
    data = event.data
    if event.type == ev.ORDER_CANCELLED and data.get("Paper"):
        apply_outcome(model.account(data["BrokerId"]), Cancelled(data["OrderId"], data["Reason"]))
        model.touch(ACCOUNTS, data["BrokerId"])
    status = "rejected" if event.type == ev.ORDER_REJECTED else "cancelled"
    record = model.signals.get(event.subject)
    if record is not None and data.get("BrokerCode") is not None:
        record["BrokerCode"] = data["BrokerCode"]
    _history(model, event, status, data.get("Reason"))


def _price_observed(model: ReadModel, event: ev.DomainEvent) -> None:
    data = event.data
    apply_price(model.account(data["BrokerId"]), data["Symbol"], Decimal(data["Price"]))
    model.touch(ACCOUNTS, data["BrokerId"])


def _history(model: ReadModel, event: ev.DomainEvent, status: str, reason: str | None) -> None:
    record = model.signals.get(event.subject)
    if record is None:
        return
    entry: dict[str, Any] = {"Status": status, "Time": format_time(event.time), "Event": event.type}
    if reason:
        entry["Reason"] = reason
        record["Reason"] = reason
    record["History"] = [*record["History"], entry]
    record["Status"] = status
    record["UpdatedAt"] = entry["Time"]
    model.touch(SIGNALS, event.subject)


def _time_or_none(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_EVOLVERS = {
    ev.ALERT_CONFIGURED: _alert_configured,
    ev.BROKER_CONFIGURED: _broker_configured,
    ev.BROKER_REMOVED: _broker_removed,
    ev.SIGNAL_ACCEPTED: _signal_recorded,
    ev.SIGNAL_REJECTED: _signal_recorded,
    ev.ORDER_SUBMITTED: _order_submitted,
    ev.ORDER_FILLED: _order_filled,
    ev.ORDER_REJECTED: _order_ended,
    ev.ORDER_CANCELLED: _order_ended,
    ev.PRICE_OBSERVED: _price_observed,
}
