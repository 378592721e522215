"""Ledger core benchmark (not collected by pytest).

    .venv/bin/python -m bench ledger

Order application throughput, a 1,000,000-event replay, and the metrics of a 10-year
daily series against the equivalent quantstats calls.
"""

import math
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import quantstats as qs

# The real-data loader and strategy of the metrics tests are reused here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "ledger"))
import test_ledger_metrics as real

from baas.core.ledger import (
    CashEvent,
    LedgerState,
    Order,
    apply_orders,
    benchmark_returns,
    build_nav_series,
    compute_metrics,
    replay,
)


def best(fn, repeat: int) -> float:
    fastest = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main() -> None:
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    symbols = ["AAPL", "MSFT", "IBM", "GOOG", "SPY"]
    orders = [
        Order(
            symbols[i % 5],
            "buy" if i % 3 else "sell",
            Decimal(i % 97 + 1),
            Decimal(10_000 + i % 5_000) / 100,
            t0 + timedelta(minutes=i),
            fees=Decimal("1.25"),
        )
        for i in range(10_000)
    ]
    t = best(lambda: apply_orders(LedgerState(), orders), 5)
    print(f"apply_orders: 10,000 orders in {t * 1e3:.1f} ms = {10_000 / t:,.0f} orders/s")

    events = []
    for i in range(1_000_000):
        ts = t0 + timedelta(seconds=i)
        if i % 10 == 0:
            events.append(CashEvent("deposit", Decimal(1000), ts))
        else:
            side = "buy" if i % 3 else "sell"
            events.append(Order(symbols[i % 5], side, Decimal(i % 97 + 1), Decimal("101.25"), ts))
    t = best(lambda: replay(events, presorted=True), 2)
    print(f"replay 1,000,000 events, presorted: {t:.2f} s = {1e6 / t:,.0f} events/s")
    t = best(lambda: replay(events), 2)
    print(f"replay 1,000,000 events, sorted by time: {t:.2f} s = {1e6 / t:,.0f} events/s")

    closes = real.load_closes()
    strategy = real.build_events(closes)
    nav = build_nav_series(strategy, closes, benchmark=real.BENCH)
    t = best(lambda: build_nav_series(strategy, closes, benchmark=real.BENCH), 3)
    print(
        f"build_nav_series: {len(strategy)} events, {len(nav.points)} sessions in {t * 1e3:.0f} ms"
    )

    dates, r = nav.returns()
    bench = benchmark_returns(closes[real.BENCH])
    common, ri, bi = np.intersect1d(dates, bench[0], return_indices=True)
    R = pd.Series(r, index=pd.DatetimeIndex(dates.astype("datetime64[ns]")))
    paired = pd.DatetimeIndex(common.astype("datetime64[ns]"))
    Rp, Bp = pd.Series(r[ri], index=paired), pd.Series(bench[1][bi], index=paired)

    def ours():
        compute_metrics(
            dates, r, nav.inception_date, nav.latest_date, risk_free_rate=0.03, benchmark=bench
        )

    def theirs():
        qs.stats.comp(R)
        qs.stats.cagr(R)
        qs.stats.volatility(R)
        qs.stats.sharpe(R, rf=0.03, periods=252)
        qs.stats.sortino(R, rf=0.03, periods=252)
        qs.stats.max_drawdown(R)
        qs.stats.drawdown_details(qs.stats.to_drawdown_series(R))
        qs.stats.calmar(R)
        qs.stats.monthly_returns(R)
        qs.stats.greeks(Rp, Bp)
        qs.stats.information_ratio(Rp, Bp)
        qs.stats.comp(Bp)

    mine = best(ours, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quant = best(theirs, 10)
    print(
        f"metrics of {r.size} daily returns: compute_metrics {mine * 1e3:.3f} ms, "
        f"quantstats {quant * 1e3:.1f} ms, {quant / mine:.0f}x faster"
    )


if __name__ == "__main__":
    main()
