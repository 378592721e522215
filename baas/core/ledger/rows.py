"""How the ledger writes what it records: times as the spec prints them, amounts as exact decimal
strings, and the rows of orders, cash events and reconciliation entries (the spec's shapes)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from baas.core.ledger.accounting import ReconciliationEntry
from baas.core.ledger.events import CashEvent, Order


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z; fractions of a second only when there are some."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def iso_seconds(moment: datetime) -> str:
    """ISO-8601 UTC to the second, as the spec prints times (2026-04-18T14:00:00Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_none(moment: datetime | None) -> str | None:
    """``datetime.isoformat`` (the offset kept), None for None."""
    return None if moment is None else moment.isoformat()


def time_or_none(text: str | None) -> datetime | None:
    """The inverse of ``iso_or_none``."""
    return None if text is None else datetime.fromisoformat(text)


def decimal_text(value: Decimal | None) -> str | None:
    """An amount as its exact decimal string, None for None."""
    return None if value is None else str(value)


def sorted_json(value: Any) -> bytes:
    """JSON with its keys sorted: the same record is always the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def order_row(
    order: Order, order_id: str, strategy_id: str, created_at: str, details: Any
) -> dict[str, Any]:
    """An order as recorded (the spec's Order; amounts as exact decimal strings)."""
    return {
        "id": order_id,
        "strategy_id": strategy_id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": str(order.quantity),
        "price": decimal_text(order.price),
        "fees": str(order.fees),
        "order_type": order.order_type,
        "status": order.status,
        "executed_at": iso(order.executed_at),
        "created_at": created_at,
        "external_order_id": order.external_order_id,
        "details": details,
    }


def cash_row(event: CashEvent, event_id: str, strategy_id: str, created_at: str) -> dict[str, Any]:
    """A cash event as recorded (the spec's CashEvent; the amount as an exact decimal string)."""
    return {
        "id": event_id,
        "strategy_id": strategy_id,
        "event_type": event.event_type,
        "amount": str(event.amount),
        "occurred_at": iso(event.occurred_at),
        "external_id": event.external_id,
        "related_symbol": event.related_symbol,
        "note": event.note,
        "created_at": created_at,
    }


def reconciliation_row(entry: ReconciliationEntry, logged_at: str) -> dict[str, Any]:
    """A snapshot's change of one position, as the reconciliation log keeps it."""
    return {
        "symbol": entry.symbol,
        "old_quantity": str(entry.old_quantity),
        "new_quantity": str(entry.new_quantity),
        "old_cost_basis": decimal_text(entry.old_cost_basis),
        "new_cost_basis": decimal_text(entry.new_cost_basis),
        "logged_at": logged_at,
    }
