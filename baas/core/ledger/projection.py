"""A strategy's stored projection: the accounting ``LedgerState`` of its events replayed in time
order (``replay``: executed_at / occurred_at, ties in the order recorded), with what deciding how
to advance it needs. A write whose orders are not older than the newest order or snapshot applied
is applied to the state as it is; an order dated before that (a backfill) makes the whole history
replay. Cash events commute with everything else and never cause a replay."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import orjson

from baas.core.ledger.accounting import LedgerState, Position, replay
from baas.core.ledger.events import LedgerEvent, Order, PositionSnapshot
from baas.core.ledger.rows import iso_or_none, sorted_json, time_or_none


@dataclass(slots=True)
class Projection:
    """A strategy's derived state, and what deciding how to advance it needs."""

    state: LedgerState = field(default_factory=LedgerState)
    version: int = 0  # ledger events recorded (the length of the history list)
    # The newest effective order or snapshot applied: an order dated before it means a replay.
    last_position_at: datetime | None = None
    symbols: set[str] = field(default_factory=set)  # every symbol ordered or snapshotted
    # Written before the state kept the last fills: advancing it needs the whole history.
    stale: bool = False

    def to_json(self) -> bytes:
        state = self.state
        return sorted_json(
            {
                "cash": str(state.cash),
                "realized_pnl": str(state.realized_pnl),
                "fees_paid": str(state.fees_paid),
                "cash_totals": {k: str(v) for k, v in state.cash_totals.items()},
                "positions": {
                    symbol: {
                        "quantity": str(p.quantity),
                        "cost_basis": str(p.cost_basis),
                        "updated_at": iso_or_none(p.updated_at),
                    }
                    for symbol, p in state.positions.items()
                },
                "last_order_at": iso_or_none(state.last_order_at),
                "last_fills": {
                    s: [at.isoformat(), str(p)] for s, (at, p) in state.last_fills.items()
                },
                "last_position_at": iso_or_none(self.last_position_at),
                "symbols": sorted(self.symbols),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | None, version: int) -> Projection:
        if not raw:
            return cls(version=version)
        doc = orjson.loads(raw)
        state = LedgerState(
            cash=Decimal(doc["cash"]),
            positions={
                symbol: Position(
                    symbol,
                    Decimal(p["quantity"]),
                    Decimal(p["cost_basis"]),
                    time_or_none(p["updated_at"]),
                )
                for symbol, p in sorted(doc["positions"].items())
            },
            realized_pnl=Decimal(doc["realized_pnl"]),
            fees_paid=Decimal(doc["fees_paid"]),
            cash_totals={k: Decimal(v) for k, v in doc["cash_totals"].items()},
            last_order_at=time_or_none(doc["last_order_at"]),
            last_fills={
                s: (datetime.fromisoformat(at), Decimal(p))
                for s, (at, p) in doc.get("last_fills", {}).items()
            },
        )
        last_position_at = time_or_none(doc["last_position_at"])
        stale = "last_fills" not in doc
        return cls(state, version, last_position_at, set(doc["symbols"]), stale)

    def advance(self, events: list[LedgerEvent]) -> bool:
        """Apply ``events`` (in the order recorded) if none needs a replay; False if one does."""
        moves = [e for e in events if _moves_positions(e)]
        last = self.last_position_at
        if self.stale or (last is not None and any(e.timestamp < last for e in moves)):
            return False
        replay(events, self.state)  # stable sort by time: ties keep the order recorded
        self._note(events)
        return True

    def rebuild(self, history: list[LedgerEvent]) -> None:
        """The projection of a whole history (in the order recorded)."""
        self.state = replay(history)
        self.last_position_at = None
        self.symbols = set()
        self.stale = False
        self._note(history)

    def _note(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            if _moves_positions(event) and (
                self.last_position_at is None or event.timestamp > self.last_position_at
            ):
                self.last_position_at = event.timestamp
            if isinstance(event, Order):
                self.symbols.add(event.symbol)
            elif isinstance(event, PositionSnapshot):
                self.symbols.update(p.symbol for p in event.positions)


def _moves_positions(event: LedgerEvent) -> bool:
    return isinstance(event, PositionSnapshot) or (isinstance(event, Order) and event.is_effective)
