"""Positions and cash derived from the event log, in exact Decimal arithmetic.

Rules:

- Only orders with status ``filled`` or ``partial`` move positions and cash.
- Quantity is signed (negative = short). ``cost_basis`` is the weighted-average entry
  price, always positive; it is unchanged by reductions and resets to the fill price
  when a position crosses zero. A position that reaches exactly zero is removed.
- Realised P&L is booked on reductions: ``(price - cost_basis) * closed quantity`` for
  a long, the opposite for a short. Fees are not part of it; they leave cash and are
  summed in ``fees_paid``.
- Buy ``q`` at ``p`` with fees ``f``: ``cash -= q*p + f``. Sell: ``cash += q*p - f``.
- A cash event adds its signed amount to cash. Deposits and withdrawals are external
  flows; dividends, interest, fees and adjustments are performance.
- A positions snapshot replaces the whole position set (upsert what is sent, delete
  what is absent) and does not touch cash.

Sums of quantities and cash are exact. The weighted average needs a division, done at
34 significant digits (``ACCOUNTING_CONTEXT``), as is the realised P&L derived from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from operator import attrgetter

from baas.core.ledger.events import (
    EFFECTIVE_STATUSES,
    EXTERNAL_FLOW_TYPES,
    ZERO,
    CashEvent,
    LedgerEvent,
    Order,
    PositionSnapshot,
    SnapshotPosition,
)

ACCOUNTING_CONTEXT = Context(prec=34, traps=[InvalidOperation, DivisionByZero, Overflow])


@dataclass(slots=True)
class Position:
    """An open position: signed quantity and positive average entry price."""

    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    updated_at: datetime | None = None


@dataclass(slots=True)
class LedgerState:
    """The derived state of one strategy."""

    cash: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    # Signed sum of cash events per event type.
    cash_totals: dict[str, Decimal] = field(default_factory=dict)
    last_order_at: datetime | None = None
    # Per symbol, the newest effective fill's time and price: a price of the symbol at that time.
    last_fills: dict[str, tuple[datetime, Decimal]] = field(default_factory=dict)

    def copy(self) -> LedgerState:
        """An independent copy (positions are mutable; amounts and times are not)."""
        return LedgerState(
            self.cash,
            {
                symbol: Position(symbol, p.quantity, p.cost_basis, p.updated_at)
                for symbol, p in self.positions.items()
            },
            self.realized_pnl,
            self.fees_paid,
            dict(self.cash_totals),
            self.last_order_at,
            dict(self.last_fills),
        )

    @property
    def external_flows(self) -> Decimal:
        """Net deposits minus withdrawals."""
        totals = self.cash_totals
        return sum((totals.get(kind, ZERO) for kind in EXTERNAL_FLOW_TYPES), ZERO)


@dataclass(frozen=True, slots=True)
class ReconciliationEntry:
    """A symbol whose position a snapshot changed; an absent position has quantity 0, cost None."""

    symbol: str
    old_quantity: Decimal
    new_quantity: Decimal
    old_cost_basis: Decimal | None
    new_cost_basis: Decimal | None


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """Counts of a snapshot, and its deltas when they were asked for."""

    upserted: int
    removed: int
    entries: tuple[ReconciliationEntry, ...] = ()


def _apply_order(state: LedgerState, order: Order) -> Decimal:
    # Unwrapped hot path: the caller sets ACCOUNTING_CONTEXT.
    if order.status not in EFFECTIVE_STATUSES:
        return ZERO
    price = order.price
    if price is None:
        raise ValueError(f"order for {order.symbol} has no price; resolve it before applying")
    qty = order.quantity
    fees = order.fees
    notional = qty * price
    if order.side == "buy":
        state.cash -= notional + fees
        delta = qty
    else:
        state.cash += notional - fees
        delta = -qty
    if fees:
        state.fees_paid += fees
    at = order.executed_at
    last = state.last_order_at
    if last is None or at > last:
        state.last_order_at = at
    symbol = order.symbol
    fill = state.last_fills.get(symbol)
    if fill is None or at >= fill[0]:
        state.last_fills[symbol] = (at, price)

    positions = state.positions
    position = positions.get(symbol)
    if position is None:
        positions[symbol] = Position(symbol, delta, price, at)
        return ZERO
    old = position.quantity
    new = old + delta
    position.updated_at = at
    if (old > 0) == (delta > 0):
        # Adding to the position: weighted average of the old and new lots.
        position.cost_basis = (abs(old) * position.cost_basis + notional) / abs(new)
        position.quantity = new
        return ZERO
    closed = qty if qty < abs(old) else abs(old)
    pnl = (price - position.cost_basis) * closed
    if old < 0:
        pnl = -pnl
    state.realized_pnl += pnl
    if not new:
        del positions[symbol]
    else:
        if (new > 0) != (old > 0):
            position.cost_basis = price  # crossed zero: the remainder is a new lot
        position.quantity = new
    return pnl


def _apply_cash_event(state: LedgerState, event: CashEvent) -> None:
    amount = event.amount
    state.cash += amount
    totals = state.cash_totals
    totals[event.event_type] = totals.get(event.event_type, ZERO) + amount


def _apply_snapshot(
    state: LedgerState,
    positions: Iterable[SnapshotPosition],
    log_deltas: bool,
    at: datetime | None,
) -> SnapshotResult:
    current = state.positions
    sent: dict[str, SnapshotPosition] = {}
    for line in positions:
        if line.symbol in sent:
            raise ValueError(f"symbol {line.symbol!r} appears twice in the snapshot")
        sent[line.symbol] = line
    removed_symbols = [symbol for symbol in current if symbol not in sent]
    entries: list[ReconciliationEntry] = []
    if log_deltas:
        for symbol in removed_symbols:
            old = current[symbol]
            entries.append(ReconciliationEntry(symbol, old.quantity, ZERO, old.cost_basis, None))
    for symbol in removed_symbols:
        del current[symbol]
    for symbol, line in sent.items():
        old = current.get(symbol)
        if log_deltas:
            old_qty = ZERO if old is None else old.quantity
            old_cost = None if old is None else old.cost_basis
            new_cost = line.cost_basis if line.quantity else None
            if old_qty != line.quantity or old_cost != new_cost:
                entries.append(
                    ReconciliationEntry(symbol, old_qty, line.quantity, old_cost, new_cost)
                )
        # Flat positions are not kept, as after an order that closes one.
        if not line.quantity:
            current.pop(symbol, None)
        elif old is None:
            current[symbol] = Position(symbol, line.quantity, line.cost_basis, at)
        else:
            old.quantity = line.quantity
            old.cost_basis = line.cost_basis
            old.updated_at = at
    return SnapshotResult(len(sent), len(removed_symbols), tuple(entries))


def apply_order(state: LedgerState, order: Order) -> Decimal:
    """Apply one order in place; returns the realised P&L it booked (0 when ignored)."""
    with localcontext(ACCOUNTING_CONTEXT):
        return _apply_order(state, order)


def apply_cash_event(state: LedgerState, event: CashEvent) -> None:
    """Apply one cash event in place."""
    with localcontext(ACCOUNTING_CONTEXT):
        _apply_cash_event(state, event)


def apply_snapshot(
    state: LedgerState,
    positions: Iterable[SnapshotPosition],
    *,
    log_deltas: bool = False,
    at: datetime | None = None,
) -> SnapshotResult:
    """Replace the position set; counts every line sent as upserted (quantity 0 = no position)."""
    with localcontext(ACCOUNTING_CONTEXT):
        return _apply_snapshot(state, positions, log_deltas, at)


def _apply_event(state: LedgerState, event: LedgerEvent) -> None:
    if isinstance(event, Order):
        _apply_order(state, event)
    elif isinstance(event, CashEvent):
        _apply_cash_event(state, event)
    elif isinstance(event, PositionSnapshot):
        _apply_snapshot(state, event.positions, False, event.taken_at)
    else:
        raise TypeError(f"not a ledger event: {type(event).__name__}")


def apply_orders(state: LedgerState, orders: Iterable[Order]) -> LedgerState:
    """Apply orders in the given sequence; returns ``state``."""
    with localcontext(ACCOUNTING_CONTEXT):
        for order in orders:
            _apply_order(state, order)
    return state


def replay(
    events: Iterable[LedgerEvent], state: LedgerState | None = None, *, presorted: bool = False
) -> LedgerState:
    """Apply events in time order (stable for equal timestamps) to ``state`` or a new one."""
    if state is None:
        state = LedgerState()
    ordered = events if presorted else sorted(events, key=attrgetter("timestamp"))
    with localcontext(ACCOUNTING_CONTEXT):
        for event in ordered:
            _apply_event(state, event)
    return state
