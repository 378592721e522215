"""The ledger's entries on the tenant's log: their types, the document a write appends, and the
accounting event read back from one.

Every write is an event on the tenant's log (``source`` "ledger", ``subject`` the strategy id):
``StrategyCreated``, ``LedgerOrderRecorded``, ``CashRecorded``, ``PositionsSnapshotted``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from baas.core.ledger.bounds import within_bounds
from baas.core.ledger.events import (
    CashEvent,
    LedgerEvent,
    Order,
    PositionSnapshot,
    SnapshotPosition,
)

SOURCE = "ledger"
STRATEGY_CREATED = "StrategyCreated"
ORDER_RECORDED = "LedgerOrderRecorded"
CASH_RECORDED = "CashRecorded"
POSITIONS_SNAPSHOTTED = "PositionsSnapshotted"
LEDGER_EVENTS = frozenset({ORDER_RECORDED, CASH_RECORDED, POSITIONS_SNAPSHOTTED})


def log_entry(
    kind: str, event_id: str, tenant_id: str, strategy_id: str, time: str, data: dict[str, Any]
) -> bytes:
    """The CloudEvents document of a ledger write, as the tenant's log holds it."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": SOURCE,
            "type": kind,
            "subject": strategy_id,
            "time": time,
            "datacontenttype": "application/json",
            "tenantid": tenant_id,
            "data": data,
        }
    )


def ledger_event(document: Mapping[str, Any]) -> LedgerEvent | None:
    """The accounting event of a ledger log entry (None for other entries, and for an event
    outside the ledger's bounds: stored before they were checked, it is left out of the reads)."""
    event = _logged_event(document)
    return event if event is not None and within_bounds(event) else None


def _logged_event(document: Mapping[str, Any]) -> LedgerEvent | None:
    kind = document.get("type")
    data = document.get("data") or {}
    if kind == ORDER_RECORDED:
        price = data["price"]
        return Order(
            symbol=data["symbol"],
            side=data["side"],
            quantity=Decimal(data["quantity"]),
            price=None if price is None else Decimal(price),
            executed_at=datetime.fromisoformat(data["executed_at"]),
            fees=Decimal(data["fees"]),
            status=data["status"],
            order_type=data["order_type"],
            external_order_id=data["external_order_id"],
        )
    if kind == CASH_RECORDED:
        return CashEvent(
            event_type=data["event_type"],
            amount=Decimal(data["amount"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            external_id=data["external_id"],
            related_symbol=data["related_symbol"],
            note=data["note"],
        )
    if kind == POSITIONS_SNAPSHOTTED:
        return PositionSnapshot.of(
            datetime.fromisoformat(data["taken_at"]),
            (
                SnapshotPosition(p["symbol"], Decimal(p["quantity"]), Decimal(p["cost_basis"]))
                for p in data["positions"]
            ),
        )
    return None
