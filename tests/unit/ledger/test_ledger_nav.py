"""Session, valuation and return rules of baas.core.ledger.nav."""

import csv
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from baas.core.ledger import (
    CashEvent,
    LedgerState,
    Order,
    PositionSnapshot,
    SnapshotPosition,
    apply_order,
    build_nav_series,
    mark_to_market,
)

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"

# 2024-01-05 is a Friday, 01-06/07 the weekend, 01-15 Martin Luther King Day.
FRI, SAT, SUN, MON, TUE, WED = (date(2024, 1, d) for d in (5, 6, 7, 8, 9, 10))


def at(d: date, hour: int = 15) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def buy(symbol, qty, price, d, **kw):
    return Order(symbol, "buy", D(str(qty)), D(str(price)), at(d), **kw)


def sell(symbol, qty, price, d, **kw):
    return Order(symbol, "sell", D(str(qty)), D(str(price)), at(d), **kw)


def deposit(amount, d):
    return CashEvent("deposit", D(str(amount)), at(d))


def weekday_closes(start: date, prices: list[float]) -> dict[date, float]:
    out, d = {}, start
    for price in prices:
        while d.weekday() >= 5:
            d += timedelta(days=1)
        out[d] = price
        d += timedelta(days=1)
    return out


def by_date(series):
    return {p.date: p for p in series.points}


def test_weekends_add_no_sessions():
    closes = {"AAA": weekday_closes(date(2024, 1, 2), [10, 11, 12, 13, 14, 15, 16])}
    series = build_nav_series([deposit(1000, date(2024, 1, 2))], closes, benchmark="AAA")
    days = [p.date for p in series.points]
    assert days == sorted(closes["AAA"])
    assert all(d.weekday() < 5 for d in days)
    assert all(p.daily_return == 0.0 for p in series.points)


def test_an_order_on_saturday_is_a_session_at_its_fill_price():
    closes = {"AAA": {FRI: 10.0, MON: 11.0, TUE: 12.0}, "SPX": {FRI: 1.0, MON: 1.0, TUE: 1.0}}
    events = [deposit(1000, FRI), buy("AAA", 10, 10.5, SAT)]
    series = by_date(build_nav_series(events, closes, benchmark="SPX"))
    assert list(series) == [FRI, SAT, MON, TUE]
    assert series[FRI].market_value == 0 and series[FRI].cash_balance == 1000
    assert (series[SAT].market_value, series[SAT].cash_balance) == (105, 895)
    assert series[MON].market_value == 110
    assert series[MON].daily_return == pytest.approx(1005 / 1000 - 1, rel=1e-12)


def test_a_fill_after_the_last_close_values_the_position_not_the_old_close():
    # Closes end on Friday; a fill on Tuesday is the symbol's newest price from then on.
    closes = {"AAA": {FRI: 27.95}}
    events = [deposit(1000, FRI), buy("AAA", 2, 421, TUE)]
    series = build_nav_series(events, closes)
    last = series.points[-1]
    assert (last.date, last.market_value, last.total_equity) == (TUE, 842, 1000)
    # A close of the fill's own day is newer (the end of the day); an older one is not.
    later = build_nav_series(events, {"AAA": {FRI: 27.95, TUE: 430}})
    assert later.points[-1].market_value == 860


def test_a_deposit_alone_waits_for_a_session():
    # Nothing held and no benchmark: Friday has no close that matters, so no session.
    closes = {"AAA": {FRI: 10.0, MON: 11.0}}
    series = build_nav_series([deposit(1000, FRI), buy("AAA", 1, 11, MON)], closes)
    assert series.inception_date == MON
    assert series.points[0].external_flow == 1000


def test_inception_is_the_first_session_on_or_after_the_first_event():
    closes = {"AAA": {FRI: 10.0, MON: 11.0}}
    series = build_nav_series([deposit(1000, SUN), buy("AAA", 1, 11, MON)], closes)
    assert series.inception_date == MON
    assert series.points[0].external_flow == 1000
    assert series.starting_equity == 1000


def test_first_return_is_nav_over_initial_deposit():
    closes = {"AAA": {FRI: 10.0, MON: 12.0}}
    series = build_nav_series([deposit(1000, FRI), buy("AAA", 50, 9, FRI)], closes)
    first = series.points[0]
    assert first.total_equity == D(1000) - 450 + 500
    assert first.daily_return == pytest.approx(1050 / 1000 - 1, rel=1e-12)
    assert series.points[1].daily_return == pytest.approx(1150 / 1050 - 1, rel=1e-12)


def test_missing_close_carries_the_last_close():
    closes = {
        "AAA": {FRI: 10.0, MON: 11.0, TUE: 12.0},
        "BBB": {FRI: 100.0, TUE: 90.0},  # no close on Monday
    }
    events = [deposit(10_000, FRI), buy("AAA", 10, 10, FRI), buy("BBB", 10, 100, FRI)]
    series = by_date(build_nav_series(events, closes))
    assert series[MON].market_value == 10 * 11 + 10 * 100
    assert series[TUE].market_value == 10 * 12 + 10 * 90


def test_latest_date_is_never_after_the_last_close():
    closes = {"AAA": {FRI: 10.0, MON: 11.0}}
    events = [deposit(1000, FRI), buy("AAA", 1, 10, FRI), deposit(500, WED)]
    series = build_nav_series(events, closes)
    assert series.latest_date == MON
    assert series.ending_equity == D(1000) - 10 + 11  # the later deposit waits for a close


def test_mid_history_deposit_and_withdrawal_are_not_returns():
    closes = {"AAA": {FRI: 10.0, MON: 10.0, TUE: 11.0, WED: 11.0}}
    events = [
        deposit(1000, FRI),
        buy("AAA", 100, 10, FRI),
        deposit(5000, MON),
        CashEvent("withdraw", D(-2000), at(WED)),
    ]
    points = by_date(build_nav_series(events, closes))
    assert points[MON].external_flow == 5000
    assert points[MON].daily_return == 0.0
    assert points[TUE].daily_return == pytest.approx(6100 / 6000 - 1, rel=1e-12)
    assert points[WED].external_flow == -2000
    assert points[WED].daily_return == 0.0
    assert points[WED].total_equity == 4100


def test_dividends_interest_and_fees_are_performance():
    closes = {"AAA": {FRI: 10.0, MON: 10.0, TUE: 10.0}}
    events = [
        deposit(1000, FRI),
        buy("AAA", 10, 10, FRI),
        CashEvent("dividend", D(5), at(MON), related_symbol="AAA"),
        CashEvent("fee", D(-2), at(TUE)),
    ]
    points = by_date(build_nav_series(events, closes))
    assert points[MON].external_flow == 0
    assert points[MON].daily_return == pytest.approx(0.005, rel=1e-12)
    assert points[TUE].daily_return == pytest.approx(1003 / 1005 - 1, rel=1e-12)


def test_short_position_value_is_negative():
    closes = {"AAA": {FRI: 10.0, MON: 8.0}}
    events = [deposit(1000, FRI), sell("AAA", 10, 10, FRI)]
    points = by_date(build_nav_series(events, closes))
    assert points[MON].market_value == -80
    assert points[MON].cash_balance == 1100
    assert points[MON].daily_return == pytest.approx(1020 / 1000 - 1, rel=1e-12)


def test_pending_and_cancelled_orders_define_nothing():
    closes = {"AAA": {FRI: 10.0, MON: 11.0}}
    events = [
        buy("AAA", 10, 10, FRI, status="pending"),
        buy("AAA", 10, 10, FRI, status="cancelled"),
        deposit(100, MON),
        buy("AAA", 1, 11, MON),
    ]
    series = build_nav_series(events, closes)
    assert series.inception_date == MON
    assert series.points[0].market_value == 11


def test_no_capital_gives_undefined_returns():
    # An order-only strategy has no capital base: NAV_{t-1} + F_t = 0.
    closes = {"AAA": {FRI: 10.0, MON: 11.0}}
    series = build_nav_series([buy("AAA", 10, 10, FRI)], closes)
    assert series.points[0].daily_return is None
    assert series.points[0].total_equity == 0
    assert series.points[1].daily_return is None  # NAV_{t-1} = 0 again
    dates, returns = series.returns()
    assert dates.size == returns.size == 0


def test_unpriced_symbol_is_marked_at_cost():
    closes = {"SPX": {FRI: 100.0, MON: 101.0}}
    events = [deposit(1000, FRI), buy("PRIVATE", 2, 50, FRI)]
    points = by_date(build_nav_series(events, closes, benchmark="SPX"))
    assert points[MON].market_value == 100
    assert points[MON].daily_return == 0.0


def test_benchmark_dates_make_sessions_for_a_cash_only_strategy():
    closes = {"SPX": {FRI: 100.0, MON: 101.0, TUE: 99.0}}
    series = build_nav_series([deposit(1000, FRI)], closes, benchmark="SPX")
    assert [p.date for p in series.points] == [FRI, MON, TUE]
    assert series.ending_equity == 1000


def test_seven_day_symbol_adds_weekend_sessions_only_while_held():
    crypto = {date(2024, 1, d): 100.0 + d for d in range(5, 16)}
    stock = weekday_closes(FRI, [10.0] * 7)
    closes = {"BTC-USD": crypto, "AAA": stock}
    events = [
        deposit(10_000, FRI),
        buy("AAA", 1, 10, FRI),
        buy("BTC-USD", 1, 105, FRI),
        sell("BTC-USD", 1, 108, date(2024, 1, 8)),
    ]
    days = [p.date for p in build_nav_series(events, closes).points]
    assert SAT in days and SUN in days  # BTC held over the first weekend
    assert date(2024, 1, 13) not in days  # sold on the 8th: the next weekend adds nothing
    assert days[-1] == date(2024, 1, 15)


def test_snapshot_seeding_is_an_in_kind_flow_not_a_gain():
    closes = {"AAA": {FRI: 10.0, MON: 12.0, TUE: 12.0}, "SPX": {FRI: 1.0, MON: 1.0, TUE: 1.0}}
    seed = PositionSnapshot.of(at(MON), [SnapshotPosition("AAA", D(100), D(5))])
    events = [deposit(1000, FRI), seed]
    points = by_date(build_nav_series(events, closes, benchmark="SPX"))
    assert points[MON].external_flow == 1200  # valued at the session's close
    assert points[MON].total_equity == 2200
    assert points[MON].daily_return == 0.0


def test_nav_point_as_dict_is_json_ready():
    closes = {"AAA": {FRI: 10.0}}
    point = build_nav_series([deposit(1000, FRI)], closes, benchmark="AAA").points[0]
    assert point.as_dict() == {
        "date": "2024-01-05",
        "total_equity": 1000.0,
        "cash_balance": 1000.0,
        "market_value": 0.0,
        "external_flow": 1000.0,
        "daily_return": 0.0,
    }


def test_mark_to_market():
    state = LedgerState()
    apply_order(state, buy("AAA", 10, 10, FRI))
    apply_order(state, buy("BBB", 1, 7, FRI))
    valuation = mark_to_market(state, {"AAA": 12.5})
    assert valuation.market_value == D("125.0") + 7
    assert valuation.total_equity == valuation.cash_balance + valuation.market_value


def test_empty_log_gives_an_empty_series():
    series = build_nav_series([], {"AAA": {FRI: 1.0}}, benchmark="AAA")
    assert series.points == ()
    assert series.inception_date is None


def test_real_prices_buy_and_hold():
    closes: dict[str, dict[date, str]] = {}
    with (DATA / "stocks-daily-2003-2012.csv").open() as fh:
        for row in csv.DictReader(fh):
            day = date.fromisoformat(row["date"])
            if day.year == 2003:
                closes.setdefault(row["symbol"], {})[day] = row["close"]
    ibm = closes["IBM"]
    first = min(ibm)
    # Drop one IBM close: the session stays (AAPL has one) and IBM carries its last close.
    gap = sorted(ibm)[100]
    del ibm[gap]
    events = [
        deposit(100_000, first),
        buy("IBM", 300, ibm[first], first, fees=D(1)),
        buy("AAPL", 1000, closes["AAPL"][first], first, fees=D(1)),
    ]
    series = build_nav_series(events, closes)
    cash = D(100_000) - 300 * D(ibm[first]) - 1000 * D(closes["AAPL"][first]) - 2
    last_ibm = None
    for point in series.points:
        last_ibm = ibm.get(point.date, last_ibm)
        expected = 300 * D(last_ibm) + 1000 * D(closes["AAPL"][point.date])
        assert point.market_value == expected
        assert point.cash_balance == cash
    assert len(series.points) == len(closes["AAPL"])
    assert gap in by_date(series)
    growth = 1.0
    for point in series.points:
        growth *= 1 + point.daily_return
    assert growth == pytest.approx(float(series.ending_equity) / 100_000, rel=1e-12)
