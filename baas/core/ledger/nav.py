"""Daily NAV from inception and its flow-neutral (time-weighted) daily returns.

Sessions
    A session is a date on which a close exists for the benchmark, or for a symbol the
    strategy holds at that date or trades in the events that fall due on it, and a date
    with a fill (an effective order: its price is a price of its symbol that day). Weekends
    and holidays therefore add no zero returns, while a symbol that trades every day
    (crypto) makes every day a session while it is held.

    Events are dated by their UTC calendar date. Events dated between two sessions (a
    Saturday order, a holiday deposit) count in the next session. Inception is the
    first session on or after the first effective event (an order that is filled or
    partial, a cash event, a snapshot). The latest date is the last session: never a
    day after the last close known. Events after it wait for a later close.

Valuation
    NAV_t = cash_t + sum(quantity * mark). The mark is the symbol's newest price by then:
    its close that session (a close is the end of its day), else its last fill or close
    before, whichever is newer, else (no price known at all) the position's cost basis.
    A close older than a fill never values the position after it.

Returns
    F_t is the session's external flow: deposits and withdrawals (signed), plus the
    in-kind value a positions snapshot adds or removes, sum(Δquantity * mark) at that
    session's marks (seeding or correcting positions is not performance).
    The flow counts at the start of its session:

        r_t = NAV_t / (NAV_{t-1} + F_t) - 1,   NAV_0 = 0 before inception,

    so r_1 = NAV_1 / F_1 - 1 and a deposit is never a gain. When the denominator
    NAV_{t-1} + F_t is zero or negative there is no capital to measure a return on
    (for example an order-only strategy that never deposited): that session's return
    is undefined, reported as None, and left out of every metric (not counted as 0).

Checkpoints
    ``build_nav_projection`` returns the series and a ``NavCheckpoint``: the state after the
    last date processed before the newest event's date, the events not applied by then, and
    the sessions up to it. ``extend_nav_series`` goes on from a checkpoint with later events
    (dated at or after the newest one) and with the closes after it, and gives exactly what
    ``build_nav_series`` gives over the whole history: the sessions before the checkpoint do not
    depend on later events (an event changes no session dated before it) nor on later closes.
    An older event (a backfill) or a changed close up to the checkpoint needs a rebuild.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from operator import attrgetter
from typing import Any

import numpy as np

from baas.core.ledger.accounting import (
    ACCOUNTING_CONTEXT,
    LedgerState,
    _apply_cash_event,
    _apply_order,
    _apply_snapshot,
)
from baas.core.ledger.events import (
    ZERO,
    CashEvent,
    LedgerEvent,
    Order,
    PositionSnapshot,
    to_decimal,
    utc_date,
)
from baas.core.ledger.metrics import as_datetime64

Price = Decimal | float | int | str
Closes = Mapping[str, Mapping[date, Price]]


@dataclass(frozen=True, slots=True)
class NavPoint:
    """The NAV of one session."""

    date: date
    total_equity: Decimal
    cash_balance: Decimal
    market_value: Decimal
    external_flow: Decimal
    daily_return: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO date and floats."""
        return {
            "date": self.date.isoformat(),
            "total_equity": float(self.total_equity),
            "cash_balance": float(self.cash_balance),
            "market_value": float(self.market_value),
            "external_flow": float(self.external_flow),
            "daily_return": self.daily_return,
        }


@dataclass(frozen=True, slots=True)
class NavSeries:
    """Sessions from inception to the latest date; ``starting_equity`` = NAV_0 + F_1."""

    points: tuple[NavPoint, ...]
    starting_equity: Decimal | None = None

    @property
    def inception_date(self) -> date | None:
        return self.points[0].date if self.points else None

    @property
    def latest_date(self) -> date | None:
        return self.points[-1].date if self.points else None

    @property
    def ending_equity(self) -> Decimal | None:
        return self.points[-1].total_equity if self.points else None

    def returns(self) -> tuple[np.ndarray, np.ndarray]:
        """Dates (``datetime64[D]``) and float returns of the sessions whose return is defined."""
        defined = [p for p in self.points if p.daily_return is not None]
        values = np.array([p.daily_return for p in defined], dtype=np.float64)
        return as_datetime64([p.date for p in defined]), values

    def as_list(self) -> list[dict[str, Any]]:
        return [point.as_dict() for point in self.points]


@dataclass(frozen=True, slots=True)
class Valuation:
    """Equity of a state at given marks."""

    total_equity: Decimal
    cash_balance: Decimal
    market_value: Decimal


def _market_value(state: LedgerState, marks: Mapping[str, Decimal]) -> Decimal:
    value = ZERO
    for symbol, position in state.positions.items():
        mark = marks.get(symbol)
        value += position.quantity * (position.cost_basis if mark is None else mark)
    return value


def mark_to_market(state: LedgerState, closes: Mapping[str, Price]) -> Valuation:
    """Value ``state`` at the given closes (a symbol without one is marked at its cost basis)."""
    with localcontext(ACCOUNTING_CONTEXT):
        marks = {symbol: to_decimal(close) for symbol, close in closes.items()}
        market_value = _market_value(state, marks)
        return Valuation(state.cash + market_value, state.cash, market_value)


def _event_symbols(event: LedgerEvent) -> Iterable[str]:
    if isinstance(event, Order):
        return (event.symbol,)
    if isinstance(event, PositionSnapshot):
        return (line.symbol for line in event.positions)
    return ()


def _is_effective(event: LedgerEvent) -> bool:
    return not isinstance(event, Order) or event.is_effective


def _apply_snapshot_flow(
    state: LedgerState, snapshot: PositionSnapshot, marks: Mapping[str, Decimal]
) -> Decimal:
    result = _apply_snapshot(state, snapshot.positions, True, snapshot.taken_at)
    flow = ZERO
    for entry in result.entries:
        mark = marks.get(entry.symbol)
        if mark is None:
            cost = entry.new_cost_basis
            if cost is None:
                cost = entry.old_cost_basis
            mark = ZERO if cost is None else cost
        flow += (entry.new_quantity - entry.old_quantity) * mark
    return flow


class CloseSeries(Mapping[date, Price]):
    """One symbol's closes in date order: a read-only mapping that also finds the closes after a
    date by bisection, so that extending a NAV reads only the closes it has not seen."""

    __slots__ = ("_closes", "dates")

    def __init__(self, closes: Mapping[date, Price]) -> None:
        ordered = sorted(closes.items())
        self.dates: tuple[date, ...] = tuple(d for d, _ in ordered)
        self._closes: dict[date, Price] = dict(ordered)

    def __getitem__(self, day: date) -> Price:
        return self._closes[day]

    def __iter__(self) -> Iterator[date]:
        return iter(self.dates)

    def __len__(self) -> int:
        return len(self.dates)

    def count_through(self, day: date) -> int:
        """How many closes are dated on or before ``day``."""
        return bisect.bisect_right(self.dates, day)


def _split(
    series: Mapping[date, Price], floor: date
) -> tuple[tuple[date, Price] | None, list[tuple[date, Price]]]:
    """The last close on or before ``floor`` (with its date), and the closes after it."""
    if isinstance(series, CloseSeries):
        dates = series.dates
        k = series.count_through(floor)
        last = (dates[k - 1], series[dates[k - 1]]) if k else None
        return last, [(d, series[d]) for d in dates[k:]]
    before = [d for d in series if d <= floor]
    last = (max(before), series[max(before)]) if before else None
    return last, [(d, close) for d, close in series.items() if d > floor]


def newest_prices(
    closes: Mapping[str, tuple[date, Price]], fills: Mapping[str, tuple[datetime, Decimal]]
) -> dict[str, Decimal]:
    """Each symbol's newest price: its last close (dated: the end of that day), or its last fill
    (``LedgerState.last_fills``) when that fill is dated after the close."""
    with localcontext(ACCOUNTING_CONTEXT):
        prices = {symbol: to_decimal(close) for symbol, (_, close) in closes.items()}
        for symbol, (at, price) in fills.items():
            close = closes.get(symbol)
            if close is None or utc_date(at) > close[0]:
                prices[symbol] = price
        return prices


@dataclass(frozen=True, slots=True)
class NavCheckpoint:
    """Where a NAV computation can go on from, without the events before it.

    Every date up to ``through`` is done: ``state`` is the accounting state after it, ``points``
    the sessions up to it, ``previous_nav`` the NAV of the last of them. ``pending`` holds the
    effective events not applied yet, in time order: those dated after ``through``, and those that
    were waiting for a session. ``symbols`` are every symbol traded or snapshotted, and the
    benchmark: the checkpoint holds only for the closes of these symbols up to ``through`` that it
    was made with. ``last_event_at`` is the newest effective event's time: an event at or after it
    extends the checkpoint, an older one (a backfill) needs the whole history again.

    ``through`` is always before the newest event's date, so that more events of that day (or
    later) find the sessions they change still ahead. Treat a checkpoint as immutable (``state``
    is copied before it is applied to).
    """

    benchmark: str | None = None
    inception: date | None = None
    through: date | None = None
    last_event_at: datetime | None = None
    state: LedgerState = field(default_factory=LedgerState)
    pending: tuple[LedgerEvent, ...] = ()
    points: tuple[NavPoint, ...] = ()
    previous_nav: Decimal = ZERO
    starting_equity: Decimal | None = None
    symbols: frozenset[str] = frozenset()

    def accepts(self, events: Iterable[LedgerEvent]) -> bool:
        """True when no effective event of ``events`` is older than the newest one folded in."""
        last = self.last_event_at
        return last is None or all(e.timestamp >= last for e in events if _is_effective(e))


@dataclass(frozen=True, slots=True)
class NavProjection:
    """A NAV series and the checkpoint from which later events extend it."""

    series: NavSeries
    checkpoint: NavCheckpoint


class NavBackfill(ValueError):
    """An effective event older than the newest one of the checkpoint: rebuild from the start."""


def build_nav_series(
    events: Iterable[LedgerEvent], closes: Closes, *, benchmark: str | None = None
) -> NavSeries:
    """Replay ``events`` session by session against ``closes`` (symbol -> date -> close).

    ``closes`` needs the symbols the strategy trades and the benchmark; other symbols
    in it are ignored. See the module docstring for the session and return rules.
    """
    return build_nav_projection(events, closes, benchmark=benchmark).series


def build_nav_projection(
    events: Iterable[LedgerEvent], closes: Closes, *, benchmark: str | None = None
) -> NavProjection:
    """``build_nav_series`` and the checkpoint to extend it from."""
    return extend_nav_series(NavCheckpoint(benchmark=benchmark or None), events, closes)


def extend_nav_series(
    checkpoint: NavCheckpoint, events: Iterable[LedgerEvent], closes: Closes
) -> NavProjection:
    """The NAV of the checkpoint's history followed by ``events`` (in the order recorded), as
    ``build_nav_series`` gives it over the whole history, and the next checkpoint.

    Only the pending events, the new ones, and the closes after ``checkpoint.through`` are
    read: the cost grows with them and with the sessions after ``through``, not with the
    history before it. ``closes`` up to ``through`` of ``checkpoint.symbols`` must be those the
    checkpoint was made with (a changed one needs a rebuild). Raises ``NavBackfill`` when an
    effective event is older than ``checkpoint.last_event_at``.
    """
    new = sorted((e for e in events if _is_effective(e)), key=attrgetter("timestamp"))
    last = checkpoint.last_event_at
    if new and last is not None and new[0].timestamp < last:
        raise NavBackfill(f"an event at {new[0].timestamp.isoformat()} is older than {last}")
    ordered = [*checkpoint.pending, *new]
    inception = checkpoint.inception
    if inception is None:
        if not ordered:
            return NavProjection(NavSeries(()), checkpoint)
        inception = utc_date(ordered[0].timestamp)
    newest = new[-1].timestamp if new else last
    assert newest is not None
    # The next checkpoint is taken before the newest event's date is processed.
    stop = utc_date(newest)
    event_dates = [utc_date(e.timestamp) for e in ordered]
    benchmark = checkpoint.benchmark

    relevant = set(checkpoint.symbols)
    for event in ordered:
        relevant.update(_event_symbols(event))
    if benchmark:
        relevant.add(benchmark)
    through = checkpoint.through
    floor = through if through is not None else inception - timedelta(days=1)

    with localcontext(ACCOUNTING_CONTEXT):
        # A symbol's mark is its newest price (close or fill) by the day being valued.
        last_closes: dict[str, tuple[date, Price]] = {}
        by_date: dict[date, list[tuple[str, Price]]] = defaultdict(list)
        for symbol in relevant:
            series = closes.get(symbol)
            if not series:
                continue
            before, after = _split(series, floor)
            if before is not None:
                last_closes[symbol] = before
            for d, close in after:
                by_date[d].append((symbol, close))
        marks = newest_prices(last_closes, checkpoint.state.last_fills)
        fill_dates = {d for e, d in zip(ordered, event_dates, strict=True) if isinstance(e, Order)}
        fill_dates = {d for d in fill_dates if d > floor}

        state = checkpoint.state.copy()
        points = list(checkpoint.points)
        prev_nav = checkpoint.previous_nav
        starting_equity = checkpoint.starting_equity
        symbols = frozenset(relevant)
        saved: NavCheckpoint | None = None
        i = 0
        n = len(ordered)
        for d in sorted(by_date.keys() | fill_dates):
            if saved is None and d >= stop:
                saved = NavCheckpoint(
                    benchmark,
                    inception,
                    through,
                    newest,
                    state.copy(),
                    tuple(ordered[i:]),
                    tuple(points),
                    prev_nav,
                    starting_equity,
                    symbols,
                )
            today = by_date.get(d, [])
            for symbol, close in today:
                marks[symbol] = to_decimal(close)
            through = d
            j = bisect.bisect_right(event_dates, d, lo=i)
            if d not in fill_dates and not _is_session(today, benchmark, state, ordered, i, j):
                continue
            flow = ZERO
            for k in range(i, j):
                event = ordered[k]
                if isinstance(event, Order):
                    _apply_order(state, event)
                    if event.price is not None and all(s != event.symbol for s, _ in today):
                        marks[event.symbol] = event.price  # today's close, if any, is newer
                elif isinstance(event, CashEvent):
                    _apply_cash_event(state, event)
                    if event.is_external_flow:
                        flow += event.amount
                else:
                    flow += _apply_snapshot_flow(state, event, marks)
            i = j
            market_value = _market_value(state, marks)
            nav = state.cash + market_value
            capital = prev_nav + flow
            if starting_equity is None:
                starting_equity = capital
            daily_return = float(nav / capital - 1) if capital > 0 else None
            points.append(NavPoint(d, nav, state.cash, market_value, flow, daily_return))
            prev_nav = nav
            if i == n and not state.positions and not benchmark:
                break  # nothing left that could make another session
        if saved is None:  # every date known is before the newest event's
            saved = NavCheckpoint(
                benchmark,
                inception,
                through,
                newest,
                state,
                tuple(ordered[i:]),
                tuple(points),
                prev_nav,
                starting_equity,
                symbols,
            )
    return NavProjection(NavSeries(tuple(points), starting_equity), saved)


def _is_session(
    today: list[tuple[str, Price]],
    benchmark: str | None,
    state: LedgerState,
    ordered: list[LedgerEvent],
    start: int,
    stop: int,
) -> bool:
    held = state.positions
    due: set[str] | None = None
    for symbol, _ in today:
        if symbol == benchmark or symbol in held:
            return True
        if due is None:
            due = set()
            for k in range(start, stop):
                due.update(_event_symbols(ordered[k]))
        if symbol in due:
            return True
    return False
