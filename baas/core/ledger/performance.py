"""The /performance response: a NAV series and a benchmark's closes in, a JSON-ready dict out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from baas.core.ledger.metrics import as_datetime64, compute_metrics
from baas.core.ledger.nav import NavSeries, Price


def benchmark_returns(closes: Mapping[date, Price]) -> tuple[np.ndarray, np.ndarray]:
    """Dates and close-to-close returns of a benchmark; the first close gives no return."""
    ordered = sorted(closes.items())
    if len(ordered) < 2:
        return np.array([], dtype="datetime64[D]"), np.array([], dtype=np.float64)
    dates = as_datetime64([d for d, _ in ordered[1:]])
    values = np.array([float(c) for _, c in ordered], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = values[1:] / values[:-1] - 1.0
    keep = np.isfinite(returns)
    return dates[keep], returns[keep]


def performance_report(
    strategy_id: str,
    nav: NavSeries,
    *,
    benchmark: str | None = None,
    benchmark_closes: Mapping[date, Price] | None = None,
    risk_free_rate: float = 0.0,
) -> dict[str, Any]:
    """The /performance body; the ``benchmark`` key is present only when a symbol is asked."""
    dates, returns = nav.returns()
    bench = benchmark_returns(benchmark_closes or {}) if benchmark else None
    metrics = compute_metrics(
        dates,
        returns,
        nav.inception_date,
        nav.latest_date,
        risk_free_rate=risk_free_rate,
        benchmark=bench,
    )
    report: dict[str, Any] = {
        "strategy_id": strategy_id,
        "inception_date": _iso(nav.inception_date),
        "latest_date": _iso(nav.latest_date),
        "days": metrics["days"],
        "years": metrics["years"],
        "starting_equity": _float(nav.starting_equity),
        "ending_equity": _float(nav.ending_equity),
    }
    for key in (
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
    ):
        report[key] = metrics[key]
    if benchmark:
        report["benchmark"] = {"symbol": benchmark, **metrics["benchmark"]}
    return report


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _float(x: Any) -> float | None:
    return float(x) if x is not None else None
