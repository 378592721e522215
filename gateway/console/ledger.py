"""The Ledger page of the console: the tenant's strategies (create one with a key, the key shown
once) and one strategy's NAV, drawdown, monthly returns, metrics, orders and cash events, read
and written through the ledger API's own functions (gateway.ledger.routes, baas.store.ledger)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from baas.core.ledger.errors import UnknownTenant
from baas.core.ledger.events import CashEvent, Order
from baas.core.ledger.strategies import Strategy
from baas.core.problems import FieldError, Problem
from gateway.console.sessions import ConsoleSession
from gateway.console.shell import page, render
from gateway.ledger.context import ledger_services
from gateway.ledger.errors import LedgerError
from gateway.ledger.payloads import parse_benchmark, parse_key_name, parse_strategy
from gateway.ledger.routes import issue_key, strategy_performance
from gateway.services import services

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@page
async def strategies(request: Request, session: ConsoleSession) -> Response:
    return await _strategies_page(request, session)


async def _strategies_page(
    request: Request,
    session: ConsoleSession,
    status: int = 200,
    errors: dict[str, str] | None = None,
    issued: dict[str, Any] | None = None,
) -> Response:
    listed = await ledger_services(request).ledger.list_strategies(session.tenant_id)
    return render(
        request,
        "ledger.html",
        status,
        session=session,
        strategies=[s.as_dict() for s in listed],
        values=(getattr(request.state, "form", None) or {}) if errors else {},
        errors=errors or {},
        issued=issued,
    )


@page
async def create_strategy(request: Request, session: ConsoleSession) -> Response:
    """POST …/api/strategies, then POST /strategies/{id}/api-keys: the key shown once. Both are
    checked before either is written."""
    form = request.state.form
    wanted, problems = parse_strategy(
        {"name": form.get("name", ""), "base_currency": form.get("base_currency") or None}
    )
    try:
        key_name = _key_name(form)
    except LedgerError as refused:
        problems += refused.errors
    if wanted is None or problems:
        return await _strategies_page(request, session, 422, dict(problems))
    try:
        strategy = await ledger_services(request).ledger.create_strategy(
            session.tenant_id, wanted.name, wanted.base_currency
        )
    except UnknownTenant:
        raise Problem(404, f"No tenant {session.tenant_id}.") from None
    return await _issue_key(request, session, strategy, key_name)


@page
async def create_key(request: Request, session: ConsoleSession) -> Response:
    strategy = await _strategy(request, session)
    with _refusals_as_problems():
        key_name = _key_name(request.state.form)
    return await _issue_key(request, session, strategy, key_name)


def _key_name(form: dict[str, str]) -> str:
    """The form's key name, checked as POST /strategies/{id}/api-keys checks its body's."""
    key_field = "key_name"
    try:
        return parse_key_name(orjson.dumps({"name": form.get(key_field, "")}))
    except LedgerError as refused:
        refused.errors = [(key_field, message) for _, message in refused.errors]
        raise


async def _issue_key(
    request: Request, session: ConsoleSession, strategy: Strategy, key_name: str
) -> Response:
    """A new ledger key of the strategy; the strategies page shows it once."""
    with _refusals_as_problems():
        issued = await issue_key(request, strategy, key_name)
    shown = {"strategy": strategy.as_dict(), "plaintext": issued.plaintext}
    return await _strategies_page(request, session, 201, issued=shown)


@page
async def nav_points(request: Request, session: ConsoleSession) -> Response:
    """The charts' data: the sessions' NAV as GET …/nav has it, and the benchmark's closes
    (none when unknown); the page's script draws the drawdown from the NAV."""
    found = await _strategy(request, session)
    benchmark = _benchmark(request)
    nav, closes = await ledger_services(request).navs.nav(
        session.tenant_id, found.strategy_id, benchmark
    )
    return JSONResponse(
        {
            "dates": [p.date.isoformat() for p in nav.points],
            "nav": [float(p.total_equity) for p in nav.points],
            "benchmark": {
                "symbol": benchmark,
                "closes": [[d.isoformat(), float(c)] for d, c in sorted(closes.items())],
            },
        }
    )


def _benchmark(request: Request) -> str | None:
    """``?benchmark=`` as /performance reads it (BAAS_LEDGER_DEFAULT_BENCHMARK when absent)."""
    default = services(request).settings.ledger_default_benchmark
    with _refusals_as_problems():
        return parse_benchmark(request.query_params, default)


@page
async def strategy(request: Request, session: ConsoleSession) -> Response:
    found = await _strategy(request, session)
    benchmark = _benchmark(request)
    report = await strategy_performance(request, session.tenant_id, found.strategy_id, benchmark)
    events = await ledger_services(request).ledger.history(session.tenant_id, found.strategy_id)
    return render(
        request,
        "ledger_strategy.html",
        session=session,
        strategy=found.as_dict(),
        benchmark=benchmark or "",
        report=report,
        heatmap=monthly_heatmap(report["monthly_returns"]),
        months=MONTHS,
        orders=[e for e in events if isinstance(e, Order)],
        cash=[e for e in events if isinstance(e, CashEvent)],
    )


def monthly_heatmap(monthly: dict[str, float | None]) -> list[tuple[str, list[float | None]]]:
    """/performance's monthly_returns ({"YYYY-MM": r}) as rows of years, twelve months each."""
    years: dict[str, list[float | None]] = {}
    for month, value in sorted(monthly.items()):
        year, number = month.split("-")
        years.setdefault(year, [None] * 12)[int(number) - 1] = value
    return list(years.items())


@contextmanager
def _refusals_as_problems() -> Iterator[None]:
    """A ledger refusal (LedgerError) shown as the console's error page, with its fields."""
    try:
        yield
    except LedgerError as refused:
        errors = [FieldError(path, message) for path, message in refused.errors]
        raise Problem(refused.status, refused.detail, errors, refused.headers) from None


async def _strategy(request: Request, session: ConsoleSession) -> Strategy:
    strategy_id = request.path_params["strategyId"]
    found = await ledger_services(request).ledger.get_strategy(session.tenant_id, strategy_id)
    if found is None:
        raise Problem(404, f"No strategy {strategy_id}.")
    return found
