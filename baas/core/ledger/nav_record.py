"""A strategy's NAV projection as the store keeps it (``baas.store.ledger_cache``): the checkpoint
of ``baas.core.ledger.nav`` (the session series up to a date, the accounting state there, the
events not applied yet) and what tells whether it still holds.

It lives in the hash ``Keyspace.ledger_nav(tenant, strategy)``, one field per benchmark ("" for
none), and is derived data: any record can be dropped (it is rebuilt from the history). A record
holds for the history it names (its length, ``version``, and a digest of its last entry) and for
the closes it was made with, checked by a fingerprint per symbol of the closes up to the
checkpoint's date (so that a close imported for a later date leaves it valid, and a close
changed or added before it does not).

Everything is exact: amounts as decimal strings, returns as floats (orjson writes the shortest
repr, which reads back to the same float), positions in the order the accounting keeps them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from baas.core.ledger.accounting import LedgerState, Position
from baas.core.ledger.events import (
    CashEvent,
    LedgerEvent,
    Order,
    PositionSnapshot,
    SnapshotPosition,
)
from baas.core.ledger.nav import CloseSeries, NavCheckpoint, NavPoint
from baas.core.ledger.rows import decimal_text, iso_or_none, time_or_none

FORMAT = 2  # 2: the state keeps the last fill of each symbol
_MASK = (1 << 64) - 1


def history_digest(document: bytes) -> str:
    """What a record keeps of the last history entry it folded in (entries carry a unique id)."""
    return hashlib.blake2b(document, digest_size=16).hexdigest()


class FingerprintedCloses:
    """One symbol's closes (``CloseSeries``) with running sums of a 64-bit hash of each
    (date, close), so that the fingerprint of the closes up to any date costs a bisection."""

    __slots__ = ("_sums", "series")

    def __init__(self, closes: Mapping[date, Any]) -> None:
        self.series = CloseSeries(closes)
        total = 0
        sums = [0]
        for day in self.series.dates:
            text = f"{day.isoformat()} {self.series[day]}".encode()
            total = (total + int.from_bytes(hashlib.blake2b(text, digest_size=8).digest())) & _MASK
            sums.append(total)
        self._sums = sums

    def fingerprint(self, through: date) -> str:
        """``count:sum`` of the closes dated on or before ``through``."""
        k = self.series.count_through(through)
        return f"{k}:{self._sums[k]:016x}"


def fingerprint(closes: FingerprintedCloses | None, through: date) -> str:
    return "0:0000000000000000" if closes is None else closes.fingerprint(through)


def fingerprints(
    checkpoint: NavCheckpoint, closes: Mapping[str, FingerprintedCloses]
) -> dict[str, str]:
    """The fingerprints a checkpoint depends on (none before its first date is processed)."""
    through = checkpoint.through
    if through is None:
        return {}
    return {symbol: fingerprint(closes.get(symbol), through) for symbol in checkpoint.symbols}


@dataclass(frozen=True, slots=True)
class NavRecord:
    """A stored NAV projection."""

    version: int  # history entries folded in
    last: str | None  # history_digest of the last of them
    generation: int  # the price generation of the closes it was made with
    fingerprints: dict[str, str]
    checkpoint: NavCheckpoint

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": FORMAT,
                "version": self.version,
                "last": self.last,
                "generation": self.generation,
                "fingerprints": self.fingerprints,
                "checkpoint": checkpoint_document(self.checkpoint),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> NavRecord | None:
        """None for a record of another format."""
        doc = orjson.loads(raw)
        if doc.get("format") != FORMAT:
            return None
        return cls(
            doc["version"],
            doc["last"],
            doc["generation"],
            doc["fingerprints"],
            checkpoint_from_document(doc["checkpoint"]),
        )


# Checkpoints


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def checkpoint_document(checkpoint: NavCheckpoint) -> dict[str, Any]:
    state = checkpoint.state
    return {
        "benchmark": checkpoint.benchmark,
        "inception": None if checkpoint.inception is None else checkpoint.inception.isoformat(),
        "through": None if checkpoint.through is None else checkpoint.through.isoformat(),
        "last_event_at": iso_or_none(checkpoint.last_event_at),
        "state": {
            "cash": str(state.cash),
            "positions": [
                [p.symbol, str(p.quantity), str(p.cost_basis), iso_or_none(p.updated_at)]
                for p in state.positions.values()
            ],
            "realized_pnl": str(state.realized_pnl),
            "fees_paid": str(state.fees_paid),
            "cash_totals": [[kind, str(total)] for kind, total in state.cash_totals.items()],
            "last_order_at": iso_or_none(state.last_order_at),
            "last_fills": [[s, iso_or_none(at), str(p)] for s, (at, p) in state.last_fills.items()],
        },
        "pending": [compact_event(e) for e in checkpoint.pending],
        "points": [
            [
                p.date.isoformat(),
                str(p.total_equity),
                str(p.cash_balance),
                str(p.market_value),
                str(p.external_flow),
                p.daily_return,
            ]
            for p in checkpoint.points
        ],
        "previous_nav": str(checkpoint.previous_nav),
        "starting_equity": decimal_text(checkpoint.starting_equity),
        "symbols": sorted(checkpoint.symbols),
    }


def checkpoint_from_document(doc: Mapping[str, Any]) -> NavCheckpoint:
    s = doc["state"]
    state = LedgerState(
        cash=Decimal(s["cash"]),
        positions={
            symbol: Position(symbol, Decimal(qty), Decimal(cost), time_or_none(at))
            for symbol, qty, cost, at in s["positions"]
        },
        realized_pnl=Decimal(s["realized_pnl"]),
        fees_paid=Decimal(s["fees_paid"]),
        cash_totals={kind: Decimal(total) for kind, total in s["cash_totals"]},
        last_order_at=time_or_none(s["last_order_at"]),
        last_fills={
            symbol: (datetime.fromisoformat(at), Decimal(p)) for symbol, at, p in s["last_fills"]
        },
    )
    starting = doc["starting_equity"]
    return NavCheckpoint(
        benchmark=doc["benchmark"],
        inception=_day(doc["inception"]),
        through=_day(doc["through"]),
        last_event_at=time_or_none(doc["last_event_at"]),
        state=state,
        pending=tuple(event_from_compact(e) for e in doc["pending"]),
        points=tuple(
            NavPoint(date.fromisoformat(d), Decimal(eq), Decimal(cash), Decimal(mv), Decimal(f), r)
            for d, eq, cash, mv, f, r in doc["points"]
        ),
        previous_nav=Decimal(doc["previous_nav"]),
        starting_equity=None if starting is None else Decimal(starting),
        symbols=frozenset(doc["symbols"]),
    )


def compact_event(event: LedgerEvent) -> list[Any]:
    """A compact, exact form of an accounting event."""
    if isinstance(event, Order):
        return [
            "order",
            event.symbol,
            event.side,
            str(event.quantity),
            decimal_text(event.price),
            event.executed_at.isoformat(),
            str(event.fees),
            event.status,
            event.order_type,
            event.external_order_id,
        ]
    if isinstance(event, CashEvent):
        return [
            "cash",
            event.event_type,
            str(event.amount),
            event.occurred_at.isoformat(),
            event.external_id,
            event.related_symbol,
            event.note,
        ]
    return [
        "snapshot",
        event.taken_at.isoformat(),
        [[p.symbol, str(p.quantity), str(p.cost_basis)] for p in event.positions],
    ]


def event_from_compact(doc: list[Any]) -> LedgerEvent:
    kind = doc[0]
    if kind == "order":
        _, symbol, side, qty, price, at, fees, status, order_type, ext = doc
        return Order(
            symbol,
            side,
            Decimal(qty),
            None if price is None else Decimal(price),
            datetime.fromisoformat(at),
            Decimal(fees),
            status,
            order_type,
            ext,
        )
    if kind == "cash":
        _, event_type, amount, at, ext, related, note = doc
        moment = datetime.fromisoformat(at)
        return CashEvent(event_type, Decimal(amount), moment, ext, related, note)
    if kind == "snapshot":
        _, at, lines = doc
        return PositionSnapshot.of(
            datetime.fromisoformat(at),
            (SnapshotPosition(s, Decimal(q), Decimal(c)) for s, q, c in lines),
        )
    raise ValueError(f"not an event document: {kind!r}")
