"""Ledger events: orders, cash events and position snapshots, with exact Decimal amounts.

Constructors take already-typed values (Decimal, aware datetime) and only check them;
``from_dict`` builds an event from the JSON-like fields of the API contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)

SIDES = frozenset({"buy", "sell"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit"})
ORDER_STATUSES = frozenset({"pending", "filled", "partial", "cancelled"})
# Only these move positions and cash.
EFFECTIVE_STATUSES = frozenset({"filled", "partial"})

CASH_EVENT_TYPES = frozenset({"deposit", "withdraw", "dividend", "interest", "fee", "adjustment"})
# External flows are neutralised in returns; every other cash event is performance.
EXTERNAL_FLOW_TYPES = frozenset({"deposit", "withdraw"})


def to_decimal(value: Decimal | int | float | str) -> Decimal:
    """Exact Decimal for a JSON number or string; a float is read through its shortest repr."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        # repr gives the shortest string that round-trips, so 0.1 becomes Decimal("0.1").
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def parse_timestamp(value: datetime | str) -> datetime:
    """Aware UTC datetime from an ISO-8601 string or datetime; naive values are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from exc
    elif not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+00:10 is in year 0 in UTC
        raise ValueError(f"{value.isoformat()} is outside the years 1 to 9999 in UTC") from None


def utc_date(ts: datetime) -> date:
    """The UTC calendar date of an aware timestamp."""
    return ts.astimezone(UTC).date()


def _require_aware(ts: datetime, name: str) -> None:
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _require_exact(value: object, name: str) -> None:
    # Floats are refused here so that inexact amounts cannot reach the accounting.
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a Decimal or an int (see to_decimal), not {value!r}")


def _require_symbol(symbol: str) -> None:
    if not isinstance(symbol, str) or not symbol:
        raise ValueError("symbol must be a non-empty string")


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)


@dataclass(frozen=True, slots=True)
class Order:
    """One order; ``quantity`` is positive, the side gives the direction."""

    symbol: str
    side: str
    quantity: Decimal
    price: Decimal | None
    executed_at: datetime
    fees: Decimal = ZERO
    status: str = "filled"
    order_type: str = "market"
    external_order_id: str | None = None

    def __post_init__(self) -> None:
        _require_symbol(self.symbol)
        if self.side not in SIDES:
            raise ValueError(f"side must be buy or sell, not {self.side!r}")
        if self.status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {self.status!r}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"unknown order type {self.order_type!r}")
        _require_exact(self.quantity, "quantity")
        _require_exact(self.fees, "fees")
        if self.price is not None:
            _require_exact(self.price, "price")
        if not self.quantity > 0:
            raise ValueError("quantity must be positive")
        if self.price is not None and self.price < 0:
            raise ValueError("price must not be negative")
        if self.fees < 0:
            raise ValueError("fees must not be negative")
        _require_aware(self.executed_at, "executed_at")

    @property
    def timestamp(self) -> datetime:
        return self.executed_at

    @property
    def is_effective(self) -> bool:
        """True when the order moves positions and cash (filled or partial)."""
        return self.status in EFFECTIVE_STATUSES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, now: datetime | None = None) -> Order:
        """Build from API fields; ``executed_at`` defaults to ``now``."""
        executed_at = data.get("executed_at")
        if executed_at is None:
            if now is None:
                raise ValueError("executed_at is required when no default time is given")
            executed_at = now
        fees = data.get("fees")
        return cls(
            symbol=data.get("symbol"),  # type: ignore[arg-type]
            side=data.get("side"),  # type: ignore[arg-type]
            quantity=to_decimal(data.get("quantity")),  # type: ignore[arg-type]
            price=_optional_decimal(data.get("price")),
            executed_at=parse_timestamp(executed_at),
            fees=ZERO if fees is None else to_decimal(fees),
            status=data.get("status") or "filled",
            order_type=data.get("order_type") or "market",
            external_order_id=data.get("external_order_id"),
        )


@dataclass(frozen=True, slots=True)
class CashEvent:
    """A signed cash movement (positive = cash in)."""

    event_type: str
    amount: Decimal
    occurred_at: datetime
    external_id: str | None = None
    related_symbol: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.event_type not in CASH_EVENT_TYPES:
            raise ValueError(f"unknown cash event type {self.event_type!r}")
        _require_exact(self.amount, "amount")
        # The amount is signed; a deposit that takes cash out is a client error, not a convention.
        if self.event_type == "deposit" and not self.amount > 0:
            raise ValueError("a deposit amount must be positive")
        if self.event_type == "withdraw" and not self.amount < 0:
            raise ValueError("a withdraw amount must be negative (signed: positive = cash in)")
        _require_aware(self.occurred_at, "occurred_at")

    @property
    def timestamp(self) -> datetime:
        return self.occurred_at

    @property
    def is_external_flow(self) -> bool:
        return self.event_type in EXTERNAL_FLOW_TYPES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, now: datetime | None = None) -> CashEvent:
        """Build from API fields; ``occurred_at`` defaults to ``now``."""
        occurred_at = data.get("occurred_at")
        if occurred_at is None:
            if now is None:
                raise ValueError("occurred_at is required when no default time is given")
            occurred_at = now
        return cls(
            event_type=data.get("event_type"),  # type: ignore[arg-type]
            amount=to_decimal(data.get("amount")),  # type: ignore[arg-type]
            occurred_at=parse_timestamp(occurred_at),
            external_id=data.get("external_id"),
            related_symbol=data.get("related_symbol"),
            note=data.get("note"),
        )


@dataclass(frozen=True, slots=True)
class SnapshotPosition:
    """One line of a positions snapshot; ``cost_basis`` is the average entry price (>= 0)."""

    symbol: str
    quantity: Decimal
    cost_basis: Decimal

    def __post_init__(self) -> None:
        _require_symbol(self.symbol)
        _require_exact(self.quantity, "quantity")
        _require_exact(self.cost_basis, "cost_basis")
        if self.cost_basis < 0:
            raise ValueError("cost_basis must not be negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SnapshotPosition:
        return cls(
            symbol=data.get("symbol"),  # type: ignore[arg-type]
            quantity=to_decimal(data.get("quantity")),  # type: ignore[arg-type]
            cost_basis=to_decimal(data.get("cost_basis", 0)),
        )


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A reconciliation: the full position set as of ``taken_at``."""

    taken_at: datetime
    positions: tuple[SnapshotPosition, ...]

    def __post_init__(self) -> None:
        _require_aware(self.taken_at, "taken_at")
        seen: set[str] = set()
        for position in self.positions:
            if position.symbol in seen:
                raise ValueError(f"symbol {position.symbol!r} appears twice in the snapshot")
            seen.add(position.symbol)

    @property
    def timestamp(self) -> datetime:
        return self.taken_at

    @classmethod
    def of(cls, taken_at: datetime, positions: Iterable[SnapshotPosition]) -> PositionSnapshot:
        return cls(taken_at, tuple(positions))


LedgerEvent = Order | CashEvent | PositionSnapshot
