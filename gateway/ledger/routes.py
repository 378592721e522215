"""The ledger API: strategies and prices for a tenant, keys for a strategy, and the strategy's
orders, cash, positions, state, NAV and performance under ``/api/v1`` (the ledger spec).

- ``/tenants/{tenantId}/api/strategies`` and ``…/api/prices``: the tenant's ``X-Api-Key``; errors
  in the gateway's shape (``{"detail", "errors"}``) like every tenant endpoint; POSTs count as
  the tenant's writes.
- ``/strategies/{id}/api-keys…`` and ``/api/v1/strategies/{id}/…``: errors ``{"detail"}`` only,
  as the ledger spec has them (see ``gateway.ledger.errors``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baas.core.ledger import (
    mark_to_market,
    newest_prices,
    performance_report,
)
from baas.core.ledger.api_keys import KEY_WARNING, IssuedLedgerKey
from baas.core.ledger.errors import LedgerKeyRevoked, MissingPrice, UnknownTenant
from baas.core.ledger.price_files import (
    PriceError,
    parse_day,
    parse_price_csv,
    parse_price_entries,
)
from baas.core.ledger.rows import iso
from baas.core.ledger.strategies import Strategy
from baas.core.ledger.symbols import normalize_symbol
from baas.core.problems import FieldError, Problem, bad_request, unprocessable
from baas.core.surrogates import lone_surrogates
from baas.settings import Settings
from baas.store.capped import TooManyKeys
from gateway.body import read_body
from gateway.guard import authenticate, reject_key
from gateway.ledger.auth import INVALID_KEY, authenticate_bearer, authenticate_strategy_owner
from gateway.ledger.context import ledger_services
from gateway.ledger.errors import LedgerError, json_response, ledger_endpoint
from gateway.ledger.payloads import (
    parse_benchmark,
    parse_cash,
    parse_json,
    parse_key_name,
    parse_orders,
    parse_performance,
    parse_snapshot,
    parse_strategy,
)
from gateway.ledger.present import cash_view, number, order_view
from gateway.services import services

TENANT = "/tenants/{tenantId}"
KEYS = "/strategies/{strategyId}/api-keys"
V1 = "/api/v1/strategies/{strategyId}"
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv"})


def _tenant_json(body: bytes) -> Any:
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}") from None
    found = lone_surrogates(document)
    if found:
        raise unprocessable("The body holds text that is not Unicode.", found[:10])
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


# Strategies (tenant API)


async def _tenant_write(request: Request, max_body: Callable[[Settings], int]) -> tuple[str, bytes]:
    """The tenant of a tenant-API write (authenticated, the write counted) and its body."""
    gateway = services(request)
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    await gateway.limits.count_tenant_write(tenant_id)
    return tenant_id, await read_body(request, max_body(gateway.settings))


async def create_strategy(request: Request) -> Response:
    tenant_id, body = await _tenant_write(request, attrgetter("max_body_bytes"))
    wanted, problems = parse_strategy(_tenant_json(body))
    if wanted is None:
        raise unprocessable("The strategy is invalid.", [FieldError(p, m) for p, m in problems])
    try:
        strategy = await ledger_services(request).ledger.create_strategy(
            tenant_id, wanted.name, wanted.base_currency
        )
    except UnknownTenant:
        raise Problem(404, f"No tenant {tenant_id}.") from None
    return json_response(strategy.as_dict(), 201)


async def list_strategies(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    strategies = await ledger_services(request).ledger.list_strategies(tenant_id)
    return json_response({"strategies": [s.as_dict() for s in strategies]})


# Prices (tenant API; a tenant's imports are its own, over the operator's shared closes)


async def import_prices(request: Request) -> Response:
    tenant_id, body = await _tenant_write(request, attrgetter("ledger_max_body_bytes"))
    content_type = request.headers.get("content-type", "application/json")
    media = content_type.split(";", 1)[0].strip().lower()
    skipped = 0
    try:
        if media in CSV_TYPES:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request("The CSV body is not UTF-8 text.") from None
            parsed = parse_price_csv(text, request.query_params.get("symbol") or None)
            rows, skipped = parsed.rows, parsed.skipped
        elif media == "application/json" or media.endswith("+json"):
            document = _tenant_json(body)
            if not isinstance(document, dict):
                raise PriceError('the body must be {"prices": [{"symbol", "date", "close"}, ...]}')
            rows = parse_price_entries(document.get("prices"))
        else:
            raise Problem(
                415,
                f"Unsupported content type {media!r}: send application/json "
                '({"prices": [...]}) or text/csv (date,symbol,close).',
            )
    except PriceError as exc:
        raise unprocessable(
            "The prices cannot be imported.", [FieldError("body", str(exc))]
        ) from None
    except ValueError as exc:  # a bad ?symbol=
        raise unprocessable(
            "The prices cannot be imported.", [FieldError("query.symbol", str(exc))]
        ) from None
    result = await ledger_services(request).prices.import_rows(rows, skipped, tenant_id)
    return json_response(result.as_dict())


async def get_prices(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    errors = []
    bounds: dict[str, date | None] = {}
    for name in ("start", "end"):
        raw = request.query_params.get(name)
        bounds[name] = None
        if raw:
            try:
                bounds[name] = parse_day(raw)
            except ValueError as exc:
                errors.append(FieldError(f"query.{name}", str(exc)))
    try:
        symbol = normalize_symbol(request.path_params["symbol"])
    except ValueError as exc:
        errors.append(FieldError("symbol", str(exc)))
    if errors:
        raise bad_request("Invalid parameters.", *errors)
    prices = ledger_services(request).prices
    closes = await prices.closes_of(symbol, bounds["start"], bounds["end"], tenant_id)
    if not closes and not (await prices.closes([symbol], tenant_id)):
        raise Problem(404, f"No closes for {symbol}. Import them at POST .../api/prices.")
    return json_response(
        {"symbol": symbol, "closes": {d.isoformat(): number(c) for d, c in closes.items()}}
    )


# Keys of a strategy (the tenant's X-Api-Key; ledger error shape)


def _key_view(info: Any) -> dict[str, Any]:
    return {
        "id": info.key_id,
        "name": info.name,
        "key_prefix": info.key_prefix,
        "created_at": info.created_at,
        "revoked_at": info.revoked_at,
    }


async def issue_key(request: Request, strategy: Strategy, name: str) -> IssuedLedgerKey:
    """A new ledger key of the strategy, within BAAS_LEDGER_MAX_KEYS_PER_STRATEGY (409 beyond)."""
    limit = services(request).settings.ledger_max_keys_per_strategy
    try:
        return await ledger_services(request).ledger.create_key(strategy, name, limit=limit)
    except TooManyKeys:
        raise LedgerError(
            409,
            f"Strategy {strategy.strategy_id} has {limit} active API keys, the most allowed "
            "(BAAS_LEDGER_MAX_KEYS_PER_STRATEGY): revoke one first.",
        ) from None


@ledger_endpoint
async def create_key(request: Request) -> Response:
    strategy, _ = await authenticate_strategy_owner(request, request.path_params["strategyId"])
    body = await read_body(request, services(request).settings.max_body_bytes)
    issued = await issue_key(request, strategy, parse_key_name(body))
    info = issued.info
    return json_response(
        {
            "id": info.key_id,
            "name": info.name,
            "key_prefix": info.key_prefix,
            "created_at": info.created_at,
            "plaintext": issued.plaintext,
            "warning": KEY_WARNING,
        },
        201,
    )


@ledger_endpoint
async def list_keys(request: Request) -> Response:
    strategy, _ = await authenticate_strategy_owner(request, request.path_params["strategyId"])
    keys = await ledger_services(request).ledger.list_keys(strategy.tenant_id, strategy.strategy_id)
    return json_response([_key_view(k) for k in keys])


@ledger_endpoint
async def revoke_key(request: Request) -> Response:
    strategy, _ = await authenticate_strategy_owner(request, request.path_params["strategyId"])
    key_id = request.path_params["keyId"]
    info = await ledger_services(request).ledger.revoke_key(
        strategy.tenant_id, strategy.strategy_id, key_id
    )
    if info is None:
        raise LedgerError(404, f"API key {key_id} not found for strategy {strategy.strategy_id}.")
    return json_response(_key_view(info))


# /api/v1: a strategy's ledger (Authorization: Bearer fq_live_…)


async def _body(request: Request) -> Any:
    body = await read_body(request, services(request).settings.ledger_max_body_bytes)
    return parse_json(body)


@ledger_endpoint
async def post_orders(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    now = datetime.now(UTC)
    inputs = parse_orders(await _body(request), now, services(request).settings.ledger_max_orders)
    ledger = ledger_services(request)
    try:
        result = await ledger.ledger.record_orders(
            caller.tenant_id,
            strategy_id,
            inputs,
            functools.partial(ledger.prices.closes_on, tenant_id=caller.tenant_id),
            key_id=caller.key_id,
            client_ip=caller.client_ip,
            now=now,
        )
    except MissingPrice as exc:
        raise LedgerError(422, str(exc)) from None
    except LedgerKeyRevoked:
        raise await reject_key(request, INVALID_KEY) from None
    body = {
        "accepted": [order_view(r) for r in result.accepted],
        "duplicates": [order_view(r) for r in result.duplicates],
        "counts": {"accepted": len(result.accepted), "duplicates": len(result.duplicates)},
    }
    return json_response(body, 201 if result.accepted else 200)


@ledger_endpoint
async def post_snapshot(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    positions, log_deltas = parse_snapshot(await _body(request))
    try:
        result = await ledger_services(request).ledger.record_snapshot(
            caller.tenant_id,
            strategy_id,
            positions,
            log_deltas=log_deltas,
            key_id=caller.key_id,
            client_ip=caller.client_ip,
        )
    except LedgerKeyRevoked:
        raise await reject_key(request, INVALID_KEY) from None
    return json_response(
        {
            "upserted": result.upserted,
            "removed": result.removed,
            "reconciliation_entries": result.reconciliation_entries,
        }
    )


@ledger_endpoint
async def post_cash(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    now = datetime.now(UTC)
    event = parse_cash(await _body(request), now)
    try:
        result = await ledger_services(request).ledger.record_cash(
            caller.tenant_id,
            strategy_id,
            event,
            key_id=caller.key_id,
            client_ip=caller.client_ip,
            now=now,
        )
    except LedgerKeyRevoked:
        raise await reject_key(request, INVALID_KEY) from None
    return json_response(
        {"status": "created" if result.created else "duplicate", "event": cash_view(result.row)},
        201 if result.created else 200,
    )


@ledger_endpoint
async def get_state(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    ledger = ledger_services(request)
    projection = await ledger.ledger.projection(caller.tenant_id, strategy_id)
    state = projection.state
    latest = await ledger.prices.latest(state.positions, caller.tenant_id)
    valuation = mark_to_market(state, newest_prices(latest, state.last_fills))
    positions = [
        {
            "symbol": symbol,
            "quantity": number(p.quantity),
            "cost_basis": number(p.cost_basis),
            "updated_at": None if p.updated_at is None else iso(p.updated_at),
        }
        for symbol, p in sorted(state.positions.items())
    ]
    return json_response(
        {
            "strategy_id": strategy_id,
            "positions": positions,
            "nav": {
                "total_equity": number(valuation.total_equity),
                "cash_balance": number(valuation.cash_balance),
                "market_value": number(valuation.market_value),
                "captured_at": iso(datetime.now(UTC)),
            },
            "last_order_at": None if state.last_order_at is None else iso(state.last_order_at),
        }
    )


@ledger_endpoint
async def get_performance(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    query = parse_performance(
        request.query_params, services(request).settings.ledger_default_benchmark
    )
    report = await strategy_performance(
        request, caller.tenant_id, strategy_id, query.benchmark, query.risk_free_rate
    )
    return json_response(report)


async def strategy_performance(
    request: Request,
    tenant_id: str,
    strategy_id: str,
    benchmark: str | None,
    risk_free_rate: float = 0.0,
) -> dict[str, Any]:
    """The /performance body of a strategy (the console's Ledger page shows the same)."""
    nav, bench = await ledger_services(request).navs.nav(tenant_id, strategy_id, benchmark)
    return performance_report(
        strategy_id,
        nav,
        benchmark=benchmark,
        benchmark_closes=bench,
        risk_free_rate=risk_free_rate,
    )


@ledger_endpoint
async def get_nav(request: Request) -> Response:
    strategy_id = request.path_params["strategyId"]
    caller = await authenticate_bearer(request, strategy_id)
    benchmark = parse_benchmark(
        request.query_params, services(request).settings.ledger_default_benchmark
    )
    nav, _ = await ledger_services(request).navs.nav(caller.tenant_id, strategy_id, benchmark)
    points = [
        {
            "date": p.date.isoformat(),
            "total_equity": float(p.total_equity),
            "cash_balance": float(p.cash_balance),
            "market_value": float(p.market_value),
            "daily_return": p.daily_return,
        }
        for p in nav.points
    ]
    return json_response({"strategy_id": strategy_id, "nav": points})


LEDGER_ROUTES: list[Route] = [
    Route(f"{TENANT}/api/strategies", create_strategy, methods=["POST"]),
    Route(f"{TENANT}/api/strategies", list_strategies, methods=["GET"]),
    Route(f"{TENANT}/api/prices", import_prices, methods=["POST"]),
    Route(f"{TENANT}/api/prices/{{symbol}}", get_prices, methods=["GET"]),
    Route(KEYS, create_key, methods=["POST"]),
    Route(KEYS, list_keys, methods=["GET"]),
    Route(f"{KEYS}/{{keyId}}/revoke", revoke_key, methods=["POST"]),
    Route(f"{V1}/orders", post_orders, methods=["POST"]),
    Route(f"{V1}/positions/snapshot", post_snapshot, methods=["POST"]),
    Route(f"{V1}/cash", post_cash, methods=["POST"]),
    Route(f"{V1}/state", get_state, methods=["GET"]),
    Route(f"{V1}/performance", get_performance, methods=["GET"]),
    Route(f"{V1}/nav", get_nav, methods=["GET"]),
]
