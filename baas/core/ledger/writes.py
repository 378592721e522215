"""What a ledger write takes and gives back, and which of a batch's orders are new."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from baas.core.ledger.events import Order


@dataclass(frozen=True, slots=True)
class OrderInput:
    """An order to record; ``order.price`` None: the close on executed_at's date."""

    order: Order
    details: Any = None


@dataclass(frozen=True, slots=True)
class OrdersRecorded:
    accepted: list[dict[str, Any]]  # rows, amounts as exact decimal strings
    duplicates: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CashRecorded:
    created: bool
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SnapshotRecorded:
    upserted: int
    removed: int
    reconciliation_entries: int


# Closes of (symbol, date) pairs; pairs without one are left out.
PriceLookup = Callable[
    [Collection[tuple[str, date]]], Awaitable[Mapping[tuple[str, date], Decimal]]
]


def unrecorded_orders(inputs: list[OrderInput], known: Mapping[str, Any]) -> Iterable[OrderInput]:
    """The inputs that are neither recorded already nor a repeat within the batch."""
    seen: set[str] = set()
    for item in inputs:
        ext = item.order.external_order_id
        if ext is not None:
            if ext in known or ext in seen:
                continue
            seen.add(ext)
        yield item
