"""The NAV projection in the store (``baas.store.ledger_cache``): extended after the usual write,
rebuilt only when its checkpoint no longer holds, shared by processes through the store, and
always what a replay of the whole history gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from baas.core.keyspace import Keyspace
from baas.core.ledger import CashEvent, NavSeries, Order, SnapshotPosition
from baas.core.ledger.price_files import PriceRow, parse_price_csv
from baas.core.ledger.writes import OrderInput
from baas.store.ledger import LedgerStore
from baas.store.ledger_cache import MAX_BENCHMARKS, NavCache
from baas.store.ledger_prices import PriceStore
from baas.store.ledger_rebuild import rebuild_ledger

from .support import SP500, STOCKS, read_closes

BENCH = "^GSPC"
D = Decimal
YEAR = 2008
CLOSES = read_closes(STOCKS) | read_closes(SP500)
DAYS = sorted(d for d in CLOSES[BENCH] if d.year == YEAR)


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def exactly(series: NavSeries) -> tuple:
    return (
        str(series.starting_equity),
        tuple(
            (p.date, str(p.total_equity), str(p.cash_balance), str(p.market_value), p.daily_return)
            for p in series.points
        ),
    )


class Book:
    """A strategy on the real store, its NAV cache, and a replay of its whole history."""

    def __init__(self, store, prefix: str, tenant_id: str, strategy_id: str) -> None:
        self.keys = Keyspace(prefix)
        self.ledger = LedgerStore(store, self.keys)
        self.prices = PriceStore(store, self.keys)
        self.navs = NavCache(self.ledger, self.prices)
        self.tenant_id = tenant_id
        self.strategy_id = strategy_id

    async def orders(self, *orders: Order) -> None:
        await self.ledger.record_orders(
            self.tenant_id,
            self.strategy_id,
            [OrderInput(o) for o in orders],
            self.prices.closes_on,
        )

    async def cash(self, event: CashEvent) -> None:
        await self.ledger.record_cash(self.tenant_id, self.strategy_id, event)

    async def nav(self, benchmark: str | None = BENCH, navs: NavCache | None = None) -> NavSeries:
        series, _ = await (navs or self.navs).nav(self.tenant_id, self.strategy_id, benchmark)
        return series

    async def replayed(self, benchmark: str | None = BENCH) -> NavSeries:
        series, _ = await self.ledger.nav_series(
            self.tenant_id, self.strategy_id, self.prices.closes, benchmark
        )
        return series

    async def check(self, benchmark: str | None = BENCH) -> NavSeries:
        series = await self.nav(benchmark)
        assert exactly(series) == exactly(await self.replayed(benchmark))
        return series


@pytest.fixture
async def book(store, prefix, tenant) -> Book:
    keys = Keyspace(prefix)
    rows = [
        r
        for r in parse_price_csv(STOCKS.read_text()).rows + parse_price_csv(SP500.read_text()).rows
        if r.day.year == YEAR and r.day <= DAYS[-40]  # the last weeks come later
    ]
    await PriceStore(store, keys).import_rows(rows)
    strategy = await LedgerStore(store, keys).create_strategy(tenant.tenant_id, "bot")
    return Book(store, prefix, tenant.tenant_id, strategy.strategy_id)


def trade(day: date, n: int) -> Order:
    symbol = ("AAPL", "IBM", "MSFT")[n % 3]
    side = "sell" if n % 4 == 3 else "buy"
    moment = at(day, 14) + timedelta(seconds=n)
    return Order(symbol, side, D(1 + n % 5), CLOSES[symbol][day], moment, fees=D(1))


async def test_the_usual_write_extends_the_projection(book: Book):
    await book.cash(CashEvent("deposit", D(100_000), at(DAYS[0], 10)))
    await book.check()
    assert book.navs.stats.rebuilds == 1  # the first read: nothing stored yet
    for k, day in enumerate(DAYS[:60]):
        await book.orders(trade(day, 2 * k), trade(day, 2 * k + 1))
        if k % 7 == 0:
            await book.cash(CashEvent("dividend", D("1.5"), at(day, 21)))
        if k % 5 == 0:
            await book.check()
    # A snapshot taken now (dated after every order) is an event like the others.
    await book.ledger.record_snapshot(
        book.tenant_id,
        book.strategy_id,
        [SnapshotPosition("IBM", D(7), D(100))],
        now=at(DAYS[60], 12),
    )
    await book.check()
    assert book.navs.stats.rebuilds == 1
    assert book.navs.stats.extensions >= 13
    # A read without a write is served as it is.
    hits = book.navs.stats.hits
    await book.check()
    assert book.navs.stats.hits == hits + 1


async def test_another_process_starts_from_the_stored_projection(book: Book):
    await book.cash(CashEvent("deposit", D(100_000), at(DAYS[0], 10)))
    for k, day in enumerate(DAYS[:30]):
        await book.orders(trade(day, k))
    await book.check()
    stored = await book.ledger.store.hget(
        book.keys.ledger_nav(book.tenant_id, book.strategy_id), BENCH
    )
    assert stored is not None
    await book.orders(trade(DAYS[30], 30), trade(DAYS[31], 31))
    cold = NavCache(book.ledger, book.prices)
    expected = await book.replayed()
    assert exactly(await book.nav(navs=cold)) == exactly(expected)
    assert (cold.stats.loads, cold.stats.rebuilds, cold.stats.extensions) == (1, 0, 1)
    # Without a benchmark it is another projection, stored beside it.
    assert exactly(await book.nav(None, navs=cold)) == exactly(await book.replayed(None))
    assert cold.stats.rebuilds == 1


async def test_what_rebuilds_and_what_does_not(book: Book):
    await book.cash(CashEvent("deposit", D(100_000), at(DAYS[0], 10)))
    for k, day in enumerate(DAYS[:40]):
        await book.orders(trade(day, k))
    await book.check()
    stats = book.navs.stats
    assert stats.rebuilds == 1

    # Closes of later dates (the last weeks of the year): the projection goes on.
    later = [
        PriceRow(s, d, CLOSES[s][d]) for s in ("AAPL", "IBM", "MSFT", BENCH) for d in DAYS[-40:]
    ]
    await book.prices.import_rows(later)
    series = await book.check()
    assert series.latest_date == DAYS[-1]
    # Closes of another symbol, and closes imported again unchanged: nothing to redo.
    await book.prices.import_rows([PriceRow("ZZZ", DAYS[3], D(5))])
    await book.prices.import_rows([PriceRow("AAPL", d, CLOSES["AAPL"][d]) for d in DAYS[:50]])
    await book.check()
    assert stats.rebuilds == 1

    # A close corrected before the checkpoint: everything again.
    await book.prices.import_rows([PriceRow("IBM", DAYS[5], D("99.99"))])
    await book.check()
    assert stats.rebuilds == 2
    # An order dated before the newest one (a backfill): everything again.
    await book.orders(trade(DAYS[2], 99))
    await book.check()
    assert stats.rebuilds == 3
    # So is a cash event dated before the newest order.
    await book.cash(CashEvent("interest", D(3), at(DAYS[10], 12)))
    await book.check()
    assert stats.rebuilds == 4
    # Orders that move nothing never do.
    await book.orders(
        Order("AAPL", "buy", D(1), D(1), at(DAYS[1]), status="cancelled"),
        Order("AAPL", "buy", D(1), D(1), at(DAYS[1]), status="pending"),
    )
    await book.check()
    assert stats.rebuilds == 4
    # Dated after the others again: extended.
    extensions = stats.extensions
    next_year = Order("IBM", "buy", D(2), D(90), at(date(YEAR + 1, 3, 2)))
    await book.orders(trade(DAYS[45], 45), next_year)
    await book.check()
    assert (stats.rebuilds, stats.extensions) == (4, extensions + 1)


async def test_a_rewritten_history_is_not_extended(book: Book, store, prefix):
    await book.cash(CashEvent("deposit", D(100_000), at(DAYS[0], 10)))
    await book.orders(trade(DAYS[1], 1), trade(DAYS[2], 2))
    await book.check()
    # The same events again after a rebuild of the ledger: the record is dropped, the cache holds.
    await rebuild_ledger(store, Keyspace(prefix), book.tenant_id)
    name = book.keys.ledger_nav(book.tenant_id, book.strategy_id)
    assert not await store.exists(name)
    await book.check()
    assert book.navs.stats.rebuilds == 1
    # Another history of the same length: found out by its last entry.
    await store.delete(
        book.keys.ledger_state(book.tenant_id, book.strategy_id),
        book.keys.ledger_history(book.tenant_id, book.strategy_id),
    )
    await book.cash(CashEvent("deposit", D(50_000), at(DAYS[0], 10)))
    await book.orders(trade(DAYS[1], 4), trade(DAYS[3], 5))
    await book.check()
    assert book.navs.stats.rebuilds == 2


async def test_stored_projections_are_few_per_strategy(book: Book, store):
    await book.cash(CashEvent("deposit", D(100_000), at(DAYS[0], 10)))
    await book.orders(trade(DAYS[1], 1))
    for benchmark in (None, BENCH, "AAPL", "IBM", "MSFT", "ZZZ"):
        await book.check(benchmark)
    name = book.keys.ledger_nav(book.tenant_id, book.strategy_id)
    fields = await store.hkeys(name)
    assert len(fields) == MAX_BENCHMARKS and b"ZZZ" in fields
