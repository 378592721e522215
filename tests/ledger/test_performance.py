"""GET …/performance and …/nav on real prices (tests/data: AAPL, IBM, MSFT and the S&P 500 index,
2003–2012): a strategy that deposits cash and buys on its first day."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from baas.core.ledger import CashEvent, Order, build_nav_series, performance_report

from .support import SP500, STOCKS, Desk, read_closes

BENCH = "^GSPC"
FIRST = date(2003, 1, 2)


@pytest.fixture
async def invested(desk: Desk) -> Desk:
    await desk.import_csv(STOCKS)
    await desk.import_csv(SP500)
    deposit = await desk.cash(
        event_type="deposit", amount=100000, occurred_at="2003-01-02T14:00:00Z", external_id="d"
    )
    assert deposit.status_code == 201
    buy = await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 2000, "executed_at": "2003-01-02T20:00:00Z"},
        {
            "symbol": "MSFT",
            "side": "buy",
            "quantity": 1000,
            "fees": 9.99,
            "executed_at": "2003-01-02T20:00:00Z",
        },
    )
    assert buy.status_code == 201, buy.text
    assert [o["price"] for o in buy.json()["accepted"]] == [14.8, 53.72]
    return desk


def expected_report(risk_free_rate: float = 0.0, benchmark: str | None = BENCH) -> dict:
    closes = read_closes(STOCKS) | read_closes(SP500)
    at = datetime(2003, 1, 2, 20, tzinfo=UTC)
    events = [
        CashEvent("deposit", Decimal(100000), datetime(2003, 1, 2, 14, tzinfo=UTC), "d"),
        Order("AAPL", "buy", Decimal(2000), Decimal("14.8"), at),
        Order("MSFT", "buy", Decimal(1000), Decimal("53.72"), at, fees=Decimal("9.99")),
    ]
    nav = build_nav_series(events, closes, benchmark=benchmark)
    return performance_report(
        "s",
        nav,
        benchmark=benchmark,
        benchmark_closes=closes[benchmark] if benchmark else None,
        risk_free_rate=risk_free_rate,
    )


async def test_performance_on_ten_years_of_real_closes(invested):
    started = time.perf_counter()
    answer = await invested.get("performance", benchmark=BENCH, risk_free_rate="0.045")
    elapsed = time.perf_counter() - started
    print(f"\nGET /performance, 10 years (in-process): {elapsed * 1000:.0f} ms")
    assert answer.status_code == 200
    report = answer.json()
    expected = expected_report(0.045)
    expected["strategy_id"] = invested.strategy_id
    assert report == expected  # the core's report on the same events and closes, to the bit
    assert report["inception_date"] == "2003-01-02" and report["latest_date"] == "2012-12-31"
    assert report["starting_equity"] == 100000
    # Held to the end, no flow after the first day: the total return is the NAV's growth.
    stocks = read_closes(STOCKS)
    cash = 100000 - 2000 * 14.8 - 1000 * 53.72 - 9.99
    end = date(2012, 12, 31)
    ending = cash + 2000 * float(stocks["AAPL"][end]) + 1000 * float(stocks["MSFT"][end])
    assert report["ending_equity"] == pytest.approx(ending, rel=1e-12)
    assert report["total_return"] == pytest.approx(ending / 100000 - 1, rel=1e-9)
    bench = read_closes(SP500)[BENCH]
    assert report["benchmark"]["symbol"] == BENCH
    assert report["benchmark"]["benchmark_total_return"] == pytest.approx(
        float(bench[end] / bench[FIRST]) - 1, rel=1e-9
    )
    assert all(v is not None for v in report["benchmark"].values())
    assert set(report["yearly_returns"]) == {str(y) for y in range(2003, 2013)}
    assert len(report["monthly_returns"]) == 120


async def test_the_benchmark_block_is_left_out_for_an_empty_benchmark(invested):
    answer = await invested.get("performance", benchmark="")
    assert answer.status_code == 200
    report = answer.json()
    assert "benchmark" not in report
    expected = expected_report(benchmark=None)
    expected["strategy_id"] = invested.strategy_id
    assert report == expected


async def test_the_default_benchmark_without_prices_is_all_null(invested):
    report = (await invested.get("performance")).json()
    assert report["benchmark"] == {
        "symbol": "SPY",
        "beta": None,
        "alpha_annualized": None,
        "tracking_error_annualized": None,
        "information_ratio": None,
        "benchmark_total_return": None,
    }
    assert report["sharpe_ratio"] == pytest.approx(expected_report(benchmark=None)["sharpe_ratio"])


@pytest.mark.parametrize("rate", ["abc", "nan", "inf", "-1", "11", "0.04%"])
async def test_a_bad_risk_free_rate_is_422(desk, rate):
    answer = await desk.get("performance", risk_free_rate=rate)
    assert answer.status_code == 422
    message = "must be an annual rate between -1 and 10, e.g. 0.045 for 4.5%"
    assert answer.json() == {
        "detail": f"Validation failed: risk_free_rate: {message}",
        "errors": [{"path": "risk_free_rate", "message": message}],
    }


async def test_a_bad_benchmark_is_422(desk):
    answer = await desk.get("performance", benchmark="S P Y")
    assert answer.status_code == 422 and answer.json()["detail"].startswith(
        "Validation failed: benchmark:"
    )


async def test_nav_series_for_charts(invested):
    answer = await invested.get("nav", benchmark=BENCH)
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["strategy_id", "nav"]
    points = body["nav"]
    sessions = sorted(read_closes(SP500)[BENCH])
    assert [p["date"] for p in points] == [d.isoformat() for d in sessions]
    assert list(points[0]) == [
        "date",
        "total_equity",
        "cash_balance",
        "market_value",
        "daily_return",
    ]
    first = points[0]
    cash = 100000 - 2000 * 14.8 - 1000 * 53.72 - 9.99
    assert first["cash_balance"] == pytest.approx(cash)
    assert first["market_value"] == pytest.approx(2000 * 14.8 + 1000 * 53.72)
    assert first["daily_return"] == pytest.approx(first["total_equity"] / 100000 - 1)
    assert all(math.isfinite(p["daily_return"]) for p in points)
    # The same series as the performance's: compounding the returns gives the total return.
    growth = math.prod(1 + p["daily_return"] for p in points) - 1
    report = (await invested.get("performance", benchmark=BENCH)).json()
    assert growth == pytest.approx(report["total_return"], rel=1e-9)


async def test_an_empty_strategy_has_no_performance_yet(desk):
    report = (await desk.get("performance")).json()
    assert report["inception_date"] is None and report["total_return"] is None
    assert (await desk.get("nav")).json() == {"strategy_id": desk.strategy_id, "nav": []}
