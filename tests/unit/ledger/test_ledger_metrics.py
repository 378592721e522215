"""Metrics of baas.core.ledger against quantstats and empyrical-reloaded on real prices.

A strategy is built through the ledger itself (orders, a short leg, dividends, interest,
a mid-history deposit and a withdrawal) on AAPL/MSFT/IBM split- and dividend-adjusted
closes from 2003 to 2012, benchmarked on the S&P 500 index. Where a library defines a
metric differently, the test says so and checks a direct numpy computation instead.
"""

import csv
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from baas.core.ledger import (
    CashEvent,
    LedgerState,
    NavPoint,
    NavSeries,
    Order,
    apply_cash_event,
    apply_order,
    benchmark_returns,
    build_nav_series,
    performance_report,
)
from baas.core.ledger.metrics import cagr, daily_risk_free

DATA = Path(__file__).resolve().parents[2] / "data"
REL = 1e-9
SQRT_252 = math.sqrt(252)
BENCH = "^GSPC"


def load_closes() -> dict[str, dict[date, Decimal]]:
    closes: dict[str, dict[date, Decimal]] = {}
    with (DATA / "stocks-daily-2003-2012.csv").open() as fh:
        for row in csv.DictReader(fh):
            closes.setdefault(row["symbol"], {})[date.fromisoformat(row["date"])] = Decimal(
                row["adj_close"]
            )
    with (DATA / "sp500-index-daily-2003-2012.csv").open() as fh:
        for row in csv.DictReader(fh):
            closes.setdefault(BENCH, {})[date.fromisoformat(row["date"])] = Decimal(row["close"])
    return closes


def build_events(closes) -> list:
    """Monthly rebalancing into fixed weights, sized from a mirror of the ledger state."""
    sessions = sorted(closes["AAPL"])
    state = LedgerState()
    events = []

    def add(event):
        events.append(event)
        (apply_order if isinstance(event, Order) else apply_cash_event)(state, event)

    for k, day in enumerate(sessions):
        ts = datetime(day.year, day.month, day.day, 20, tzinfo=UTC)
        if k == 0:
            add(CashEvent("deposit", Decimal(1_000_000), ts))
        if k == 1000:
            add(CashEvent("deposit", Decimal(500_000), ts))
        if k == 1800:
            add(CashEvent("withdraw", Decimal(-200_000), ts))
        if k % 63 == 30:
            add(CashEvent("dividend", Decimal("812.40"), ts, related_symbol="IBM"))
        if k % 21 == 10:
            add(CashEvent("interest", Decimal("35.10"), ts))
        if k % 21 == 0:
            equity = state.cash + sum(
                p.quantity * closes[s][day] for s, p in state.positions.items()
            )
            ibm_weight = Decimal("-0.2") if 500 <= k < 900 else Decimal("0.2")
            weights = {"AAPL": Decimal("0.4"), "MSFT": Decimal("0.3"), "IBM": ibm_weight}
            for symbol, weight in weights.items():
                price = closes[symbol][day]
                held = state.positions[symbol].quantity if symbol in state.positions else 0
                change = int(equity * weight / price) - held
                if change:
                    side = "buy" if change > 0 else "sell"
                    add(Order(symbol, side, Decimal(abs(change)), price, ts, fees=Decimal(1)))
    return events


@pytest.fixture(scope="module")
def strategy():
    closes = load_closes()
    nav = build_nav_series(build_events(closes), closes, benchmark=BENCH)
    dates, r = nav.returns()
    b_dates, b = benchmark_returns(closes[BENCH])
    common, ri, bi = np.intersect1d(dates, b_dates, return_indices=True)
    index = pd.DatetimeIndex(dates.astype("datetime64[ns]"))
    paired = pd.DatetimeIndex(common.astype("datetime64[ns]"))
    return {
        "closes": closes,
        "nav": nav,
        "dates": dates,
        "r": r,
        "R": pd.Series(r, index=index),
        "rp": r[ri],
        "bp": b[bi],
        "Rp": pd.Series(r[ri], index=paired),
        "Bp": pd.Series(b[bi], index=paired),
        "report": performance_report("s-1", nav, benchmark=BENCH, benchmark_closes=closes[BENCH]),
    }


@pytest.fixture(scope="module")
def report_rf(strategy):
    return performance_report(
        "s-1",
        strategy["nav"],
        benchmark=BENCH,
        benchmark_closes=strategy["closes"][BENCH],
        risk_free_rate=0.03,
    )


def close(actual, *expected):
    for value in expected:
        assert actual == pytest.approx(float(value), rel=REL, abs=0)


# -- the series itself ---------------------------------------------------------------


def test_series_covers_every_session_and_neutralises_flows(strategy):
    nav, r = strategy["nav"], strategy["r"]
    assert len(nav.points) == len(strategy["closes"]["AAPL"]) == r.size == 2517
    assert nav.inception_date == date(2003, 1, 2)
    assert nav.latest_date == date(2012, 12, 31)
    flows = [p for p in nav.points if p.external_flow]
    assert [float(p.external_flow) for p in flows] == [1_000_000.0, 500_000.0, -200_000.0]
    # On a flow day the return is measured on the capital including the flow.
    for point in flows[1:]:
        before = nav.points[nav.points.index(point) - 1].total_equity
        expected = point.total_equity / (before + point.external_flow) - 1
        assert point.daily_return == pytest.approx(float(expected), rel=1e-12)
        assert abs(float(point.total_equity / before - 1) - point.daily_return) > 0.02


# -- single-series metrics -----------------------------------------------------------


def test_total_return(strategy):
    close(strategy["report"]["total_return"], qs.stats.comp(strategy["R"]))
    close(strategy["report"]["total_return"], ep.cum_returns_final(strategy["r"]))


def test_days_and_years(strategy):
    report = strategy["report"]
    assert report["days"] == (date(2012, 12, 31) - date(2003, 1, 2)).days
    assert report["years"] == report["days"] / 365


def test_cagr(strategy):
    # Both libraries annualise by count / 252; ours uses calendar days / 365 (the issue's
    # definition). empyrical's mechanics agree once given that many periods per year.
    report, r = strategy["report"], strategy["r"]
    close(report["cagr"], (1 + report["total_return"]) ** (365 / report["days"]) - 1)
    close(report["cagr"], ep.cagr(r, annualization=r.size * 365 / report["days"]))


def test_volatility(strategy):
    vol = strategy["report"]["volatility_annualized"]
    close(vol, qs.stats.volatility(strategy["R"]), ep.annual_volatility(strategy["r"]))


def test_downside_volatility(strategy):
    # quantstats has no downside-deviation function; empyrical's downside_risk is ours.
    r = strategy["r"]
    value = strategy["report"]["downside_volatility_annualized"]
    close(value, ep.downside_risk(r), np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * SQRT_252)


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_sharpe(strategy, rf):
    nav, r = strategy["nav"], strategy["r"]
    value = performance_report("s", nav, risk_free_rate=rf)["sharpe_ratio"]
    close(value, qs.stats.sharpe(strategy["R"], rf=rf, periods=252))
    close(value, ep.sharpe_ratio(r, risk_free=daily_risk_free(rf)))


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_sortino(strategy, rf):
    nav, r = strategy["nav"], strategy["r"]
    value = performance_report("s", nav, risk_free_rate=rf)["sortino_ratio"]
    close(value, qs.stats.sortino(strategy["R"], rf=rf, periods=252))
    close(value, ep.sortino_ratio(r, required_return=daily_risk_free(rf)))


def test_risk_free_rate_is_deannualised_geometrically():
    assert daily_risk_free(0.03) == pytest.approx(1.03 ** (1 / 252) - 1, rel=1e-15)


def test_max_and_current_drawdown(strategy):
    dd = strategy["report"]["drawdown"]
    R, r = strategy["R"], strategy["r"]
    assert dd["max_drawdown"] < 0
    close(dd["max_drawdown"], qs.stats.max_drawdown(R), ep.max_drawdown(r))
    close(dd["current_drawdown"], qs.stats.to_drawdown_series(R).iloc[-1])
    close(dd["current_drawdown"], ep.stats.drawdown_series(r)[-1])


def reference_duration(dates, r, inception, latest) -> int:
    """Longest peak-to-recovery span in calendar days, written as a plain loop."""
    level, peak, peak_day, longest, under = 1.0, 1.0, inception, 0, False
    for day, ret in zip(dates.tolist(), r.tolist(), strict=True):
        level *= 1 + ret
        if level >= peak:
            if under:
                longest = max(longest, (day - peak_day).days)
            peak, peak_day, under = level, day, False
        else:
            under = True
    if under:
        longest = max(longest, (latest - peak_day).days)
    return longest


def test_max_drawdown_duration(strategy):
    # quantstats' drawdown_details counts from the first day under water to the last one
    # (+1); ours runs from the peak to the recovery. The episodes are the same, so map them.
    nav, dates, R = strategy["nav"], strategy["dates"], strategy["R"]
    value = strategy["report"]["drawdown"]["max_drawdown_duration_days"]
    assert value == reference_duration(dates, strategy["r"], nav.inception_date, nav.latest_date)

    days = [d.date() for d in R.index]
    position = {d: i for i, d in enumerate(days)}
    series = qs.stats.to_drawdown_series(R)
    longest = 0
    for _, row in qs.stats.drawdown_details(series).iterrows():
        start, end = date.fromisoformat(row["start"]), date.fromisoformat(row["end"])
        peak = days[position[start] - 1] if position[start] else nav.inception_date
        recovered = nav.latest_date if end == days[-1] and series.iloc[-1] < 0 else None
        if recovered is None:
            recovered = days[position[end] + 1]
        longest = max(longest, (recovered - peak).days)
    assert value == longest


def test_calmar(strategy):
    # Both libraries divide their own count/252 CAGR; with our annualisation empyrical agrees.
    report, r = strategy["report"], strategy["r"]
    expected = report["cagr"] / abs(report["drawdown"]["max_drawdown"])
    close(report["calmar_ratio"], expected)
    close(report["calmar_ratio"], ep.calmar_ratio(r, annualization=r.size * 365 / report["days"]))


def test_monthly_and_yearly_returns(strategy):
    report, R = strategy["report"], strategy["R"]
    monthly, yearly = report["monthly_returns"], report["yearly_returns"]
    assert len(monthly) == 120 and len(yearly) == 10
    ep_monthly = ep.aggregate_returns(R, "monthly")
    assert len(ep_monthly) == len(monthly)
    for (year, month), value in ep_monthly.items():
        close(monthly[f"{year}-{month:02d}"], value)
    for year, value in ep.aggregate_returns(R, "yearly").items():
        close(yearly[str(year)], value)
    table = qs.stats.monthly_returns(R)
    columns = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    for key, value in monthly.items():
        year, month = key.split("-")
        close(value, table.loc[year, columns[int(month) - 1]])
    for year, value in yearly.items():
        close(value, table.loc[year, "EOY"])


# -- benchmark-relative metrics ------------------------------------------------------


def test_benchmark_is_paired_on_common_dates(strategy):
    # The benchmark's first close has no return, so the first session is unpaired.
    assert strategy["rp"].size == strategy["r"].size - 1


def test_beta(strategy):
    beta = strategy["report"]["benchmark"]["beta"]
    close(beta, qs.stats.greeks(strategy["Rp"], strategy["Bp"])["beta"])
    close(beta, ep.beta(strategy["rp"], strategy["bp"]))


def test_alpha_without_risk_free(strategy):
    # quantstats' greeks alpha is ours at rf = 0 (it ignores rf altogether).
    alpha = strategy["report"]["benchmark"]["alpha_annualized"]
    close(alpha, qs.stats.greeks(strategy["Rp"], strategy["Bp"])["alpha"])


def test_alpha_with_risk_free(strategy, report_rf):
    # empyrical compounds the mean daily alpha, (1 + a_d) ** 252 - 1, where we annualise
    # linearly, a_d * 252: check ours against numpy and the two against each other.
    rp, bp, rf_d = strategy["rp"], strategy["bp"], daily_risk_free(0.03)
    stats = report_rf["benchmark"]
    cov = np.cov(rp, bp)
    beta = cov[0, 1] / cov[1, 1]
    close(stats["beta"], beta)
    close(stats["alpha_annualized"], (np.mean(rp - rf_d) - beta * np.mean(bp - rf_d)) * 252)
    compounded = (1 + stats["alpha_annualized"] / 252) ** 252 - 1
    close(compounded, ep.alpha(rp, bp, risk_free=rf_d))


def test_tracking_error(strategy):
    # quantstats has no tracking-error function; empyrical's annual volatility of r - b is it.
    te = strategy["report"]["benchmark"]["tracking_error_annualized"]
    active = strategy["rp"] - strategy["bp"]
    close(te, ep.annual_volatility(active), np.std(active, ddof=1) * SQRT_252)


def test_information_ratio(strategy):
    # Both libraries leave the ratio per day; ours is annualised by sqrt(252).
    ir = strategy["report"]["benchmark"]["information_ratio"]
    close(ir, qs.stats.information_ratio(strategy["Rp"], strategy["Bp"]) * SQRT_252)
    close(ir, ep.excess_sharpe(strategy["rp"], strategy["bp"]) * SQRT_252)


def test_benchmark_total_return(strategy):
    value = strategy["report"]["benchmark"]["benchmark_total_return"]
    close(value, qs.stats.comp(strategy["Bp"]), ep.cum_returns_final(strategy["bp"]))


# -- the response --------------------------------------------------------------------


RESPONSE_KEYS = [
    "strategy_id",
    "inception_date",
    "latest_date",
    "days",
    "years",
    "starting_equity",
    "ending_equity",
    "total_return",
    "cagr",
    "volatility_annualized",
    "downside_volatility_annualized",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "drawdown",
    "monthly_returns",
    "yearly_returns",
]


def test_report_shape(strategy):
    report = strategy["report"]
    assert list(report) == [*RESPONSE_KEYS, "benchmark"]
    assert list(report["drawdown"]) == [
        "max_drawdown",
        "max_drawdown_duration_days",
        "current_drawdown",
    ]
    assert list(report["benchmark"]) == [
        "symbol",
        "beta",
        "alpha_annualized",
        "tracking_error_annualized",
        "information_ratio",
        "benchmark_total_return",
    ]
    assert report["benchmark"]["symbol"] == BENCH
    assert report["inception_date"] == "2003-01-02"
    assert report["latest_date"] == "2012-12-31"
    assert report["starting_equity"] == 1_000_000.0
    assert report["ending_equity"] == float(strategy["nav"].ending_equity)
    json.dumps(report, allow_nan=False)


def test_no_benchmark_key_when_none_is_asked(strategy):
    assert list(performance_report("s", strategy["nav"])) == RESPONSE_KEYS
    assert list(performance_report("s", strategy["nav"], benchmark="")) == RESPONSE_KEYS


def test_benchmark_without_prices_is_all_none(strategy):
    stats = performance_report("s", strategy["nav"], benchmark="SPY", benchmark_closes={})
    assert stats["benchmark"] == {
        "symbol": "SPY",
        "beta": None,
        "alpha_annualized": None,
        "tracking_error_annualized": None,
        "information_ratio": None,
        "benchmark_total_return": None,
    }


# -- undefined values ----------------------------------------------------------------


def series_of(returns: list[float | None], start: date = date(2024, 1, 1)) -> NavSeries:
    days = pd.bdate_range(start, periods=len(returns)).date
    points = tuple(
        NavPoint(d, Decimal(1), Decimal(1), Decimal(0), Decimal(0), r)
        for d, r in zip(days, returns, strict=True)
    )
    return NavSeries(points, Decimal(1))


def all_values(report) -> list:
    out = []
    for value in report.values():
        out.extend(all_values(value) if isinstance(value, dict) else [value])
    return out


def test_empty_series_is_all_none():
    report = performance_report("s", NavSeries(()), benchmark="SPY", benchmark_closes={})
    assert report["monthly_returns"] == {} and report["yearly_returns"] == {}
    assert {k: v for k, v in report.items() if not isinstance(v, dict)} == {
        "strategy_id": "s",
        **dict.fromkeys(RESPONSE_KEYS[1:14]),
    }
    assert set(all_values(report["drawdown"])) == {None}


def test_single_session_has_no_dispersion_metrics():
    report = performance_report("s", series_of([0.01]))
    assert report["days"] == 0
    assert report["total_return"] == pytest.approx(0.01)
    assert report["cagr"] is None  # zero years
    assert report["volatility_annualized"] is None
    assert report["sharpe_ratio"] is None and report["sortino_ratio"] is None
    assert report["drawdown"] == {
        "max_drawdown": 0.0,
        "max_drawdown_duration_days": 0,
        "current_drawdown": 0.0,
    }
    assert report["calmar_ratio"] is None  # no drawdown


def test_constant_returns_give_no_sharpe_and_no_sortino():
    report = performance_report("s", series_of([0.001] * 30))
    assert report["volatility_annualized"] == 0.0
    assert report["downside_volatility_annualized"] == 0.0
    assert report["sharpe_ratio"] is None
    assert report["sortino_ratio"] is None
    assert report["calmar_ratio"] is None
    json.dumps(report, allow_nan=False)


def test_total_loss_is_finite():
    report = performance_report("s", series_of([0.1, -1.0, 0.0]))
    assert report["total_return"] == -1.0
    assert report["cagr"] == -1.0
    assert report["drawdown"]["max_drawdown"] == -1.0
    json.dumps(report, allow_nan=False)


def test_undefined_sessions_are_left_out():
    with_gap = performance_report("s", series_of([None, 0.02, -0.01, 0.03]))
    assert with_gap["total_return"] == pytest.approx(1.02 * 0.99 * 1.03 - 1, rel=1e-12)
    assert with_gap["days"] == 3  # the calendar still starts at inception


def test_drawdown_duration_runs_to_the_latest_date_when_unrecovered():
    # Sessions Wed 01-03 .. Tue 01-09: the peak is Thu 01-04, under water to the end.
    report = performance_report("s", series_of([0.1, 0.1, -0.05, -0.01, 0.001], date(2024, 1, 3)))
    assert report["drawdown"]["max_drawdown_duration_days"] == 5  # calendar days, weekend included
    assert report["drawdown"]["current_drawdown"] < 0


def test_drawdown_from_the_first_day_starts_at_inception():
    report = performance_report("s", series_of([-0.1, 0.05, 0.1, 0.0]))
    # Baseline 1 dated 2024-01-01; back above it on 2024-01-03.
    assert report["drawdown"]["max_drawdown"] == pytest.approx(-0.1)
    assert report["drawdown"]["max_drawdown_duration_days"] == 2
    assert report["drawdown"]["current_drawdown"] == 0.0


def test_a_cagr_beyond_a_float_is_undefined_not_an_error():
    # A 1e14 return over one day: (1 + 1e14) ** 365 has no float.
    assert cagr(1e14, 1 / 365) is None
    assert cagr(0.1, 1.0) == pytest.approx(0.1)
