"""NAV checkpoints: a history told in chunks (each dated at or after the last) and extended from
checkpoint to checkpoint, with closes arriving day by day, gives exactly the series of the whole
history built at once, and the series recomputed session by session from scratch through the
public functions, on real closes (tests/data) with gaps, weekends, flows and snapshots."""

from __future__ import annotations

import bisect
import csv
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from operator import attrgetter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baas.core.ledger import (
    ACCOUNTING_CONTEXT,
    CashEvent,
    CloseSeries,
    LedgerEvent,
    LedgerState,
    NavBackfill,
    NavCheckpoint,
    NavPoint,
    NavSeries,
    Order,
    PositionSnapshot,
    SnapshotPosition,
    apply_snapshot,
    build_nav_projection,
    build_nav_series,
    extend_nav_series,
    mark_to_market,
    newest_prices,
    replay,
    utc_date,
)
from baas.core.ledger.nav_record import FingerprintedCloses, NavRecord, fingerprints

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
BENCH = "^GSPC"
STOCKS = ("AAPL", "IBM", "MSFT")
WEEKEND = "WKND"  # AAPL's close carried onto every calendar day: a symbol that trades 7 days
UNPRICED = "PRIV"  # no close at all: marked at its cost basis


def load_closes() -> dict[str, dict[date, str]]:
    closes: dict[str, dict[date, str]] = defaultdict(dict)
    for name in ("stocks-daily-2003-2012.csv", "sp500-index-daily-2003-2012.csv"):
        with (DATA / name).open() as f:
            for row in csv.DictReader(f):
                closes[row["symbol"]][date.fromisoformat(row["date"])] = row["close"]
    return dict(closes)


CLOSES = load_closes()
DAYS = sorted(CLOSES[BENCH])


def symbols_of(event: LedgerEvent) -> set[str]:
    if isinstance(event, Order):
        return {event.symbol}
    if isinstance(event, PositionSnapshot):
        return {line.symbol for line in event.positions}
    return set()


def recomputed_nav_series(events, closes, *, benchmark=None) -> NavSeries:
    """The session NAV by the rules of ``baas.core.ledger.nav``'s docstring, each session folded
    from scratch with the public functions: its state is the ``replay`` of every event due by
    then, its marks the ``newest_prices`` by then, its equity ``mark_to_market``. Nothing is
    carried from one session to the next but the previous NAV."""
    recorded = [e for e in events if not isinstance(e, Order) or e.is_effective]
    if not recorded:
        return NavSeries(())
    ordered = sorted(recorded, key=attrgetter("timestamp"))  # ties in the order recorded
    dates = [utc_date(e.timestamp) for e in ordered]
    inception = dates[0]
    wanted = set().union(*(symbols_of(e) for e in ordered)) | ({benchmark} if benchmark else set())
    series = {s: dict(closes[s]) for s in wanted if closes.get(s)}
    fill_days = {d for d, e in zip(dates, ordered, strict=True) if isinstance(e, Order)}
    days = sorted({d for c in series.values() for d in c if d >= inception} | fill_days)

    def prices_by(day: date, state: LedgerState) -> dict[str, Decimal]:
        latest = {}
        for symbol, by_day in series.items():
            known = [d for d in by_day if d <= day]
            if known:
                latest[symbol] = (max(known), by_day[max(known)])
        return newest_prices(latest, state.last_fills)

    points: list[NavPoint] = []
    previous, starting, last_session = Decimal(0), None, None
    with localcontext(ACCOUNTING_CONTEXT):
        for day in days:
            # Dates only grow along ``ordered``: what is applied and what falls due are slices.
            start = 0 if last_session is None else bisect.bisect_right(dates, last_session)
            stop = bisect.bisect_right(dates, day)
            due = ordered[start:stop]
            touched = set(replay(ordered[:start]).positions).union(*map(symbols_of, due))
            if benchmark:
                touched.add(benchmark)
            if day not in fill_days and not any(day in series.get(s, {}) for s in touched):
                continue
            flow = Decimal(0)
            for k, event in enumerate(due, start):
                if isinstance(event, CashEvent) and event.is_external_flow:
                    flow += event.amount
                elif isinstance(event, PositionSnapshot):  # in kind, at the marks of its moment
                    before = replay(ordered[:k])
                    marks = prices_by(day, before)
                    changes = apply_snapshot(before, event.positions, log_deltas=True)
                    for change in changes.entries:
                        cost = change.new_cost_basis
                        cost = change.old_cost_basis if cost is None else cost
                        mark = marks.get(change.symbol, Decimal(0) if cost is None else cost)
                        flow += (change.new_quantity - change.old_quantity) * mark
            state = replay(ordered[:stop])
            value = mark_to_market(state, prices_by(day, state))
            capital = previous + flow
            starting = capital if starting is None else starting
            daily_return = float(value.total_equity / capital - 1) if capital > 0 else None
            points.append(
                NavPoint(
                    day,
                    value.total_equity,
                    value.cash_balance,
                    value.market_value,
                    flow,
                    daily_return,
                )
            )
            previous, last_session = value.total_equity, day
            if stop == len(ordered) and not state.positions and not benchmark:
                break  # nothing left that could make another session
    return NavSeries(tuple(points), starting)


def exactly(series: NavSeries) -> tuple:
    """Every figure of a series, decimals by their exact text."""
    return (
        str(series.starting_equity),
        tuple(
            (
                p.date,
                str(p.total_equity),
                str(p.cash_balance),
                str(p.market_value),
                str(p.external_flow),
                p.daily_return,
            )
            for p in series.points
        ),
    )


# Random histories


@st.composite
def windows(draw):
    """Closes of a few weeks of real prices (some dropped), and the calendar days around them."""
    start = draw(st.integers(0, len(DAYS) - 45))
    length = draw(st.integers(2, 40))
    first, last = DAYS[start], DAYS[start + length]
    lo = first - timedelta(days=6)
    closes: dict[str, dict[date, str]] = {}
    for symbol in (*STOCKS, BENCH):
        closes[symbol] = {d: c for d, c in CLOSES[symbol].items() if lo <= d <= last}
    for symbol in STOCKS:
        dates = sorted(closes[symbol])
        for k in draw(st.lists(st.integers(0, len(dates) - 1), max_size=4)):
            closes[symbol].pop(dates[k], None)  # a gap: the last close carries
    aapl = CLOSES["AAPL"]
    weekend, mark, d = {}, None, lo
    while d <= last:
        mark = aapl.get(d, mark)
        if mark is not None:
            weekend[d] = mark
        d += timedelta(days=1)
    closes[WEEKEND] = weekend
    return closes, first - timedelta(days=3), (last - first).days + 6


def moments(first: date, span: int):
    return st.builds(
        lambda day, hour, minute: (
            datetime(first.year, first.month, first.day, hour, minute, tzinfo=UTC)
            + timedelta(days=day)
        ),
        st.integers(0, span),
        st.sampled_from([0, 13, 20, 23]),
        st.sampled_from([0, 30]),
    )


def amounts(lo: int, hi: int):
    return st.builds(lambda c: D(c) / 100, st.integers(lo * 100, hi * 100))


def events_in(first: date, span: int):
    symbols = st.sampled_from([*STOCKS, WEEKEND, UNPRICED])
    orders = st.builds(
        Order,
        symbol=symbols,
        side=st.sampled_from(["buy", "sell"]),
        quantity=st.sampled_from([D(1), D(3), D("0.5"), D(10), D(25)]),
        price=amounts(1, 300),
        executed_at=moments(first, span),
        fees=st.sampled_from([D(0), D("0.99"), D(2)]),
        status=st.sampled_from(["filled", "filled", "filled", "partial", "pending", "cancelled"]),
    )
    flows = st.one_of(
        st.builds(
            lambda a, t: CashEvent("deposit", a, t), amounts(1, 100_000), moments(first, span)
        ),
        st.builds(
            lambda a, t: CashEvent("withdraw", -a, t), amounts(1, 5_000), moments(first, span)
        ),
        st.builds(
            CashEvent,
            st.sampled_from(["dividend", "interest", "fee", "adjustment"]),
            amounts(-50, 50),
            moments(first, span),
        ),
    )
    snapshots = st.builds(
        lambda lines, t: PositionSnapshot.of(
            t, [SnapshotPosition(s, D(q), c) for s, (q, c) in lines.items()]
        ),
        st.dictionaries(symbols, st.tuples(st.integers(-30, 60), amounts(1, 300)), max_size=3),
        moments(first, span),
    )
    return st.one_of(orders, orders, flows, snapshots)


@st.composite
def stories(draw):
    """A history cut in chunks told one after the other (each chunk recorded in any order), the
    date up to which closes are known at each chunk, and whether to store the checkpoint."""
    closes, first, span = draw(windows())
    events = draw(st.lists(events_in(first, span), max_size=30))
    ordered = sorted(events, key=attrgetter("timestamp"))
    cuts = draw(st.lists(st.booleans(), min_size=len(ordered), max_size=len(ordered)))
    shuffle = draw(st.randoms(use_true_random=False))
    chunks, chunk = [], []
    for event, cut in zip(ordered, cuts, strict=True):
        chunk.append(event)
        if cut:
            chunks.append(chunk)
            chunk = []
    chunks.append(chunk)
    for chunk in chunks:
        shuffle.shuffle(chunk)
    known = sorted(draw(st.lists(st.integers(0, span), min_size=len(chunks), max_size=len(chunks))))
    stored = draw(st.lists(st.booleans(), min_size=len(chunks), max_size=len(chunks)))
    benchmark = draw(st.sampled_from([None, None, BENCH, "AAPL", WEEKEND]))
    steps = [
        (chunk, first + timedelta(days=k), keep)
        for chunk, k, keep in zip(chunks, known, stored, strict=True)
    ]
    return closes, benchmark, steps


def closes_until(closes, until: date | None, sorted_series: bool):
    kept = {
        s: {d: c for d, c in series.items() if until is None or d <= until}
        for s, series in closes.items()
    }
    return {s: CloseSeries(c) for s, c in kept.items()} if sorted_series else kept


def still_holds(checkpoint: NavCheckpoint, before, now) -> bool:
    """Whether the closes up to the checkpoint's date are those it was made with (the store's
    fingerprint check)."""
    old = fingerprints(checkpoint, {s: FingerprintedCloses(c) for s, c in before.items()})
    return old == fingerprints(checkpoint, {s: FingerprintedCloses(c) for s, c in now.items()})


def through_the_store(checkpoint: NavCheckpoint, closes) -> NavCheckpoint:
    fingerprinted = {s: FingerprintedCloses(c) for s, c in closes.items()}
    record = NavRecord(7, "digest", 3, fingerprints(checkpoint, fingerprinted), checkpoint)
    again = NavRecord.from_json(record.to_json())
    assert again == record
    return again.checkpoint


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories(), st.booleans())
def test_extending_from_checkpoints_is_building_the_whole_history(story, sorted_series):
    closes, benchmark, steps = story
    history: list = []
    checkpoint = NavCheckpoint(benchmark=benchmark)
    before = closes_until(closes, None, sorted_series)
    for chunk, until, keep in steps:
        now = closes_until(closes, until, sorted_series)
        assert checkpoint.accepts(chunk)
        if still_holds(checkpoint, before, now):
            projection = extend_nav_series(checkpoint, chunk, now)
        else:  # a fill made a session of a date whose close came later: the store rebuilds
            projection = build_nav_projection(history + chunk, now, benchmark=benchmark)
        before = now
        history += chunk
        expected = recomputed_nav_series(history, now, benchmark=benchmark)
        assert exactly(projection.series) == exactly(expected)
        assert exactly(build_nav_series(history, now, benchmark=benchmark)) == exactly(expected)
        checkpoint = projection.checkpoint
        if checkpoint.through is not None:  # before the newest event's date
            assert checkpoint.through < utc_date(checkpoint.last_event_at)
        if keep:
            checkpoint = through_the_store(checkpoint, now)
    # The closes up to the end arrive, then nothing more: the same series again.
    everything = closes_until(closes, None, sorted_series)
    if still_holds(checkpoint, before, everything):
        final = extend_nav_series(checkpoint, [], everything)
    else:
        final = build_nav_projection(history, everything, benchmark=benchmark)
    expected = recomputed_nav_series(history, everything, benchmark=benchmark)
    assert exactly(final.series) == exactly(expected)


def at(d: date, hour: int = 15) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def ten_years(orders_per_day: int) -> list:
    """A deposit, then every session a buy of one stock and a sell of another (all long)."""
    events = [CashEvent("deposit", D(10_000_000), at(DAYS[0], 14))]
    for k, day in enumerate(DAYS):
        for n in range(orders_per_day):
            symbol = STOCKS[(k + n) % 3]
            price = D(CLOSES[symbol][day])
            side = "buy" if k < 3 or n % 2 == 0 else "sell"
            events.append(
                Order(symbol, side, D(1 + n % 3), price, at(day, 15) + timedelta(minutes=n))
            )
    return events


def test_a_late_order_extends_ten_years_from_the_last_day():
    history = ten_years(4)
    projection = build_nav_projection(history, CLOSES, benchmark=BENCH)
    checkpoint = projection.checkpoint
    assert checkpoint.through == DAYS[-2]  # the day before the newest event's
    assert len(checkpoint.pending) == 4  # only the last day's orders are applied again
    late = Order("IBM", "sell", D(1), D(190), at(DAYS[-1], 21))
    extended = extend_nav_series(checkpoint, [late], CLOSES)
    whole = build_nav_series([*history, late], CLOSES, benchmark=BENCH)
    assert exactly(extended.series) == exactly(whole)
    assert extended.series.points[-2] is projection.series.points[-2]  # not recomputed
    # An order dated after the last close is a session of its own, at its fill price; the
    # checkpoint moves to the last day.
    after = Order("IBM", "buy", D(1), D(190), at(DAYS[-1] + timedelta(days=1), 15))
    beyond = extend_nav_series(extended.checkpoint, [after], CLOSES)
    assert exactly(beyond.series) == exactly(
        build_nav_series([*history, late, after], CLOSES, benchmark=BENCH)
    )
    assert beyond.series.latest_date == DAYS[-1] + timedelta(days=1)
    assert beyond.checkpoint.through == DAYS[-1] and beyond.checkpoint.pending == (after,)


def test_events_waiting_for_a_session_stay_pending():
    # Nothing held, no benchmark: no close makes a session, so Friday's deposit and
    # Saturday's dividend wait for Monday's order.
    fri, sat, mon = date(2008, 3, 7), date(2008, 3, 8), date(2008, 3, 10)
    deposit = CashEvent("deposit", D(1000), at(fri))
    dividend = CashEvent("dividend", D(3), at(sat))
    first = closes_until(CLOSES, fri, True)
    projection = build_nav_projection([deposit, dividend], first)
    assert projection.series.points == ()
    assert projection.checkpoint.through is None
    assert projection.checkpoint.pending == (deposit, dividend)
    order = Order("AAPL", "buy", D(2), D(120), at(mon))
    later = closes_until(CLOSES, mon, True)
    extended = extend_nav_series(projection.checkpoint, [order], later)
    assert exactly(extended.series) == exactly(build_nav_series([deposit, dividend, order], later))
    assert extended.series.points[0].external_flow == 1000


def test_an_older_event_is_a_backfill():
    history = ten_years(1)[:50]
    checkpoint = build_nav_projection(history, CLOSES).checkpoint
    older = CashEvent("dividend", D(1), history[-1].timestamp - timedelta(seconds=1))
    assert not checkpoint.accepts([older])
    with pytest.raises(NavBackfill):
        extend_nav_series(checkpoint, [older], CLOSES)
    # Orders that move nothing never make a backfill.
    cancelled = Order("IBM", "buy", D(1), D(80), at(DAYS[0]), status="cancelled")
    assert checkpoint.accepts([cancelled])
    same_time = CashEvent("dividend", D(1), history[-1].timestamp)
    assert checkpoint.accepts([same_time])


def test_an_empty_history_has_an_empty_checkpoint():
    projection = build_nav_projection([], CLOSES, benchmark=BENCH)
    assert projection.series.points == ()
    assert projection.checkpoint == NavCheckpoint(benchmark=BENCH)
    first = CashEvent("deposit", D(100), at(DAYS[10]))
    extended = extend_nav_series(projection.checkpoint, [first], CLOSES)
    assert exactly(extended.series) == exactly(build_nav_series([first], CLOSES, benchmark=BENCH))


def test_random_chunks_of_a_long_history():
    # The same property over ten years and thousands of orders, in a few large chunks.
    history = ten_years(2)
    rng = random.Random(5)
    cuts = sorted(rng.sample(range(1, len(history)), 6))
    checkpoint = NavCheckpoint(benchmark=BENCH)
    for lo, hi in zip([0, *cuts], [*cuts, len(history)], strict=True):
        checkpoint = extend_nav_series(checkpoint, history[lo:hi], CLOSES).checkpoint
    final = extend_nav_series(checkpoint, [], CLOSES)
    assert exactly(final.series) == exactly(build_nav_series(history, CLOSES, benchmark=BENCH))
