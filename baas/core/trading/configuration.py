"""Decisions on configuration commands: alerts and brokers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from baas.core.trading import events as ev

ALERT_DEFAULTS: dict[str, Any] = {
    "Name": None,
    "BrokerId": None,
    "InstrumentType": "STK",
    "Symbol": None,
    "SymbolMap": None,
    "Quantity": None,
    "OrderType": "MKT",
    "QuantityMultiplier": 0,
    "RiskPercentage": 0,
    "MaxSignalAgeSeconds": 60,
    "StrategyId": None,
    "Enabled": True,
}
KIND_DEFAULTS = {
    "indicator": {"Action": "from_message"},
    "strategy": {"Mode": "orders"},
}
BROKER_DEFAULTS = {
    "paper": {
        "StartingCash": 100000,
        "CommissionPerShare": 0,
        "MinCommission": 0,
        "SlippageBps": 0,
    },
    "ibkr": {"ClientId": 0, "Account": None},
}
_NOT_STORED = ("TenantId", "RotateWebhookToken")


def configure_alert(
    kind: str, data: dict[str, Any], existing: dict[str, Any] | None, now: datetime, new_token: str
) -> ev.DomainEvent:
    """Create an alert (defaults for what is left out) or update the fields sent."""
    alert = dict(existing) if existing else {**ALERT_DEFAULTS, **KIND_DEFAULTS[kind]}
    if existing and existing.get("Kind") != kind:
        for name in ("Action", "Mode"):
            alert.pop(name, None)
        alert.update(KIND_DEFAULTS[kind])
    fields = {k: v for k, v in data.items() if k not in _NOT_STORED}
    if "Symbol" in fields:
        alert["SymbolMap"] = None
    if "SymbolMap" in fields:
        alert["Symbol"] = None
    alert.update(fields)
    alert["Kind"] = kind
    alert["Name"] = alert.get("Name") or alert["AlertId"]
    if not existing or data.get("RotateWebhookToken") or not alert.get("WebhookToken"):
        alert["WebhookToken"] = new_token
    return ev.DomainEvent(ev.ALERT_CONFIGURED, alert["AlertId"], now, alert)


def configure_broker(data: dict[str, Any], now: datetime) -> ev.DomainEvent:
    """A broker's configuration is replaced as a whole; what is left out takes its default."""
    broker = {"Enabled": True, "Name": data["BrokerId"], **BROKER_DEFAULTS[data["Kind"]]}
    broker.update({k: v for k, v in data.items() if k not in _NOT_STORED})
    return ev.DomainEvent(ev.BROKER_CONFIGURED, broker["BrokerId"], now, broker)


def remove_broker(broker_id: str, exists: bool, now: datetime) -> list[ev.DomainEvent]:
    return (
        [ev.DomainEvent(ev.BROKER_REMOVED, broker_id, now, {"BrokerId": broker_id})]
        if exists
        else []
    )
