"""Commands as a client sends them."""

from __future__ import annotations

import secrets
from typing import Any


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
