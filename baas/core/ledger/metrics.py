"""Performance metrics of a daily time-weighted return series (numpy, no I/O).

Notation: r_1..r_n are the strategy's daily returns (sessions with an undefined return
are not in the series), b the benchmark's daily returns, N = 252 sessions a year,
rf the annual risk-free rate, mean and std over the n days, std with ddof = 1.

    days                  = calendar days from inception_date to latest_date
    years                 = days / 365
    total_return          = prod(1 + r) - 1
    cagr                  = (1 + total_return) ** (1 / years) - 1
    volatility_annualized = std(r) * sqrt(N)
    downside_volatility_annualized = sqrt(mean(min(r, 0) ** 2)) * sqrt(N)   (all n days)
    rf_d                  = (1 + rf) ** (1 / N) - 1
    sharpe_ratio          = mean(r - rf_d) / std(r - rf_d) * sqrt(N)
    sortino_ratio         = mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0) ** 2)) * sqrt(N)
    index                 I_0 = 1 (dated inception_date), I_t = prod_{s<=t}(1 + r_s)
    drawdown_t            = I_t / max_{s<=t} I_s - 1
    max_drawdown          = min_t drawdown_t                (<= 0; 0 when never under water)
    current_drawdown      = drawdown_n
    max_drawdown_duration_days = the longest drawdown: calendar days from its peak (the last
                            date at the running maximum) to the first date the index is back
                            at or above that peak, or to latest_date when it has not recovered
    calmar_ratio          = cagr / |max_drawdown|
    monthly_returns[YYYY-MM] = prod(1 + r over the month's sessions) - 1
    yearly_returns[YYYY]     = prod(1 + r over the year's sessions) - 1

Benchmark statistics use only the dates on which both r and b exist (paired):

    beta                      = cov(r, b) / var(b)
    alpha_annualized          = (mean(r - rf_d) - beta * mean(b - rf_d)) * N
    tracking_error_annualized = std(r - b) * sqrt(N)
    information_ratio         = mean(r - b) / std(r - b) * sqrt(N)
    benchmark_total_return    = prod(1 + b) - 1

A value that is undefined is None, never NaN or infinity: no returns at all (every
metric), fewer than two returns (volatility, ratios, benchmark statistics), zero days
or years (cagr), total wealth below zero (cagr), zero dispersion (sharpe_ratio,
information_ratio; beta and alpha when the benchmark is constant), no downside
(sortino_ratio), no drawdown (calmar_ratio). Zero dispersion itself is reported as 0.0
(volatility, tracking error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

PERIODS_PER_YEAR = 252
DAYS_PER_YEAR = 365
_SQRT_N = math.sqrt(PERIODS_PER_YEAR)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def as_datetime64(days: list[date]) -> np.ndarray:
    """``datetime64[D]`` array of dates (numpy's own conversion of date objects is slow)."""
    ordinals = np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
    return (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")


def _value(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _constant(x: np.ndarray) -> bool:
    # A constant series has std exactly 0; the float mean can leave a ~1e-18 residue.
    return bool(x.max() == x.min())


def daily_risk_free(rf: float) -> float:
    """rf_d = (1 + rf) ** (1 / 252) - 1."""
    return (1.0 + rf) ** (1.0 / PERIODS_PER_YEAR) - 1.0


def total_return(r: np.ndarray) -> float | None:
    """prod(1 + r) - 1."""
    if r.size == 0:
        return None
    return _value(np.prod(1.0 + r) - 1.0)


def cagr(total: float | None, years: float | None) -> float | None:
    """(1 + total) ** (1 / years) - 1."""
    if total is None or not years or years <= 0 or total < -1.0:
        return None
    try:
        return _value((1.0 + total) ** (1.0 / years) - 1.0)
    except OverflowError:  # a large return over a few days: no meaningful annual rate
        return None


def volatility(r: np.ndarray) -> float | None:
    """std(r, ddof=1) * sqrt(252)."""
    if r.size < 2:
        return None
    if _constant(r):
        return 0.0
    return _value(_std(r) * _SQRT_N)


def downside_volatility(r: np.ndarray) -> float | None:
    """sqrt(mean(min(r, 0) ** 2)) * sqrt(252), over every day."""
    if r.size == 0:
        return None
    down = np.minimum(r, 0.0)
    return _value(math.sqrt(np.dot(down, down) / r.size) * _SQRT_N)


def sharpe(r: np.ndarray, rf_d: float = 0.0) -> float | None:
    """mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(252)."""
    if r.size < 2:
        return None
    excess = r - rf_d
    if _constant(excess):
        return None
    return _value(_mean(excess) / _std(excess) * _SQRT_N)


def sortino(r: np.ndarray, rf_d: float = 0.0) -> float | None:
    """mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0) ** 2)) * sqrt(252)."""
    if r.size < 2:
        return None
    excess = r - rf_d
    down = np.minimum(excess, 0.0)
    downside = math.sqrt(np.dot(down, down) / r.size)
    if downside == 0.0:
        return None
    return _value(_mean(excess) / downside * _SQRT_N)


@dataclass(frozen=True, slots=True)
class Drawdown:
    max_drawdown: float | None
    max_drawdown_duration_days: int | None
    current_drawdown: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_drawdown": self.max_drawdown,
            "max_drawdown_duration_days": self.max_drawdown_duration_days,
            "current_drawdown": self.current_drawdown,
        }


def drawdown(
    dates: np.ndarray, r: np.ndarray, inception: np.datetime64, latest: np.datetime64
) -> Drawdown:
    """Drawdown statistics of the index I_t = prod(1 + r), baseline 1 dated at inception."""
    if r.size == 0:
        return Drawdown(None, None, None)
    index = np.empty(r.size + 1)
    index[0] = 1.0
    np.cumprod(1.0 + r, out=index[1:])
    peak = np.maximum.accumulate(index)
    depth = index / peak - 1.0
    under = index < peak
    duration = 0
    if under.any():
        at = np.empty(r.size + 1, dtype="datetime64[D]")
        at[0] = inception
        at[1:] = dates
        edges = np.diff(under.astype(np.int8))
        starts = np.flatnonzero(edges == 1) + 1  # first day under water
        ends = np.flatnonzero(edges == -1) + 1  # first day back at the peak
        peak_dates = at[starts - 1]
        recovered = np.empty(starts.size, dtype="datetime64[D]")
        recovered[: ends.size] = at[ends]
        recovered[ends.size :] = latest  # still under water
        duration = int((recovered - peak_dates).astype(np.int64).max())
    return Drawdown(_value(depth.min()), duration, _value(depth[-1]))


def calmar(cagr_value: float | None, max_dd: float | None) -> float | None:
    """cagr / |max_drawdown|."""
    if cagr_value is None or not max_dd:
        return None
    return _value(cagr_value / abs(max_dd))


def _mean(x: np.ndarray) -> float:
    # np.add.reduce skips ndarray.mean's Python-level overhead (it matters at ~2,500 points).
    return float(np.add.reduce(x)) / x.size


def _std(x: np.ndarray) -> float:
    # Two-pass sample standard deviation (ddof=1); np.std costs several times more.
    centered = x - _mean(x)
    return math.sqrt(float(np.dot(centered, centered)) / (x.size - 1))


_MONTH_KEYS: dict[int, str] = {}


def _month_key(month: int) -> str:
    # Months since 1970-01 -> "YYYY-MM", memoised: formatting dominates otherwise.
    key = _MONTH_KEYS.get(month)
    if key is None:
        key = _MONTH_KEYS[month] = f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"
    return key


def _compound_periods(
    dates: np.ndarray, growth: np.ndarray, unit: str
) -> tuple[np.ndarray, np.ndarray]:
    # Dates are sorted: each period's first index comes from searching its first day.
    first = dates[0].astype(f"datetime64[{unit}]")
    last = dates[-1].astype(f"datetime64[{unit}]")
    bounds = np.arange(first, last + 1).astype("datetime64[D]")
    starts = np.searchsorted(dates, bounds)
    present = np.concatenate((starts[:-1] < starts[1:], [True]))
    starts = starts[present]
    periods = bounds[present].astype(f"datetime64[{unit}]").astype(np.int64)
    return periods, np.multiply.reduceat(growth, starts) - 1.0


def period_returns(dates: np.ndarray, r: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """Returns compounded within each calendar month ("YYYY-MM") and year ("YYYY")."""
    if r.size == 0:
        return {}, {}
    growth = 1.0 + r
    months, monthly = _compound_periods(dates, growth, "M")
    years, yearly = _compound_periods(dates, growth, "Y")
    month_keys = [_month_key(m) for m in months.tolist()]
    year_keys = [str(1970 + y) for y in years.tolist()]
    return (
        dict(zip(month_keys, monthly.tolist(), strict=True)),
        dict(zip(year_keys, yearly.tolist(), strict=True)),
    )


def benchmark_stats(r: np.ndarray, b: np.ndarray, rf_d: float = 0.0) -> dict[str, float | None]:
    """beta, alpha_annualized, tracking_error_annualized, information_ratio,
    benchmark_total_return of paired daily returns ``r`` and ``b``."""
    stats: dict[str, float | None] = {
        "beta": None,
        "alpha_annualized": None,
        "tracking_error_annualized": None,
        "information_ratio": None,
        "benchmark_total_return": total_return(b),
    }
    if r.size < 2:
        return stats
    if not _constant(b):
        b_centered = b - _mean(b)
        beta = float(np.dot(r - _mean(r), b_centered) / np.dot(b_centered, b_centered))
        stats["beta"] = _value(beta)
        stats["alpha_annualized"] = _value(
            ((_mean(r) - rf_d) - beta * (_mean(b) - rf_d)) * PERIODS_PER_YEAR
        )
    active = r - b
    if _constant(active):
        stats["tracking_error_annualized"] = 0.0
    else:
        te = _std(active)
        stats["tracking_error_annualized"] = _value(te * _SQRT_N)
        stats["information_ratio"] = _value(_mean(active) / te * _SQRT_N)
    return stats


def _paired(
    dates: np.ndarray, r: np.ndarray, b_dates: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Both date arrays are sorted and unique.
    if b_dates.size == 0 or dates.size == 0:
        return r[:0], b[:0]
    keys = b_dates.view(np.int64)
    wanted = dates.view(np.int64)
    pos = np.searchsorted(keys, wanted)
    np.minimum(pos, keys.size - 1, out=pos)
    hit = keys[pos] == wanted
    return r[hit], b[pos[hit]]


def compute_metrics(
    dates: np.ndarray,
    r: np.ndarray,
    inception: date | None,
    latest: date | None,
    *,
    risk_free_rate: float = 0.0,
    benchmark: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Every metric of the /performance response except strategy_id, equities and the
    benchmark symbol. ``dates`` are sorted ``datetime64[D]``; ``benchmark`` is the
    benchmark's (dates, returns), paired here on the dates both series have. Without
    ``inception`` / ``latest`` the first / last return date stands in."""
    r = np.asarray(r, dtype=np.float64)
    dates = np.asarray(dates, dtype="datetime64[D]")
    if r.size and inception is None:
        inception = dates[0].astype(date)
    if r.size and latest is None:
        latest = dates[-1].astype(date)
    days = (latest - inception).days if inception is not None and latest is not None else None
    years = days / DAYS_PER_YEAR if days is not None else None
    rf_d = daily_risk_free(risk_free_rate)
    total = total_return(r)
    growth = cagr(total, years)
    if r.size:
        dd = drawdown(dates, r, np.datetime64(inception, "D"), np.datetime64(latest, "D"))
    else:
        dd = Drawdown(None, None, None)
    monthly, yearly = period_returns(dates, r)
    result: dict[str, Any] = {
        "days": days,
        "years": years,
        "total_return": total,
        "cagr": growth,
        "volatility_annualized": volatility(r),
        "downside_volatility_annualized": downside_volatility(r),
        "sharpe_ratio": sharpe(r, rf_d),
        "sortino_ratio": sortino(r, rf_d),
        "calmar_ratio": calmar(growth, dd.max_drawdown),
        "drawdown": dd.as_dict(),
        "monthly_returns": monthly,
        "yearly_returns": yearly,
    }
    if benchmark is not None:
        b_dates = np.asarray(benchmark[0], dtype="datetime64[D]")
        b_values = np.asarray(benchmark[1], dtype=np.float64)
        result["benchmark"] = benchmark_stats(*_paired(dates, r, b_dates, b_values), rf_d)
    return result
