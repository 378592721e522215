"""Rows as answered: the spec's field order, exact decimal strings as JSON numbers (an int when
whole)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

ORDER_FIELDS = (
    "id",
    "strategy_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "fees",
    "order_type",
    "status",
    "executed_at",
    "created_at",
    "external_order_id",
    "details",
)
ORDER_AMOUNTS = frozenset({"quantity", "price", "fees"})
CASH_FIELDS = (
    "id",
    "strategy_id",
    "event_type",
    "amount",
    "occurred_at",
    "external_id",
    "related_symbol",
    "note",
    "created_at",
)


def number(value: Decimal | str | None) -> int | float | None:
    if value is None:
        return None
    exact = value if isinstance(value, Decimal) else Decimal(value)
    if exact == exact.to_integral_value() and abs(exact) < 2**63:
        return int(exact)
    return float(exact)


def order_view(row: dict[str, Any]) -> dict[str, Any]:
    """The spec's Order."""
    return {k: number(row[k]) if k in ORDER_AMOUNTS else row.get(k) for k in ORDER_FIELDS}


def cash_view(row: dict[str, Any]) -> dict[str, Any]:
    """The spec's CashEvent."""
    return {k: number(row[k]) if k == "amount" else row.get(k) for k in CASH_FIELDS}
