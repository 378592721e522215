"""The read endpoints: signals with their lifecycle, brokers, alerts, paper accounts.

Tenant-scoped, with X-Api-Key; each counts against the per-IP limit only (reads are not writes).
They answer from the read models the workers keep (``TradingStore``), so a command sent a moment
ago shows once a worker has handled it. Amounts the read models keep as exact decimal strings are
answered as JSON numbers (an int when whole).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from baas.core.intake import parse_time
from baas.core.problems import FieldError, Problem, bad_request
from baas.core.trading.paper import PaperAccount, PaperSettings
from baas.core.trading.readmodel import (
    ACCOUNTS,
    ALERTS,
    BROKERS,
    DEFAULT_BROKER_ID,
    DEFAULT_PAPER_BROKER,
    SIGNALS,
)
from baas.core.trading.tradingview import indicator_message_template, strategy_message_template
from baas.settings import Settings
from gateway.guard import authenticate
from gateway.services import services

JSON = "application/json"
STATUSES = ("accepted", "submitted", "partially_filled", "filled", "rejected", "cancelled")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Fields whose decimal strings are amounts, answered as JSON numbers (wherever they appear).
NUMBER_FIELDS = frozenset(
    {
        "Quantity",
        "RequestedQuantity",
        "FilledQuantity",
        "Price",
        "LimitPrice",
        "Commission",
        "StartingCash",
        "CommissionPerShare",
        "MinCommission",
        "SlippageBps",
        "MaxLeverage",
    }
)
# Broker fields never shown, whatever the broker kind stores (matched anywhere in the name).
SECRET_FIELD = re.compile(r"password|passwd|secret|token|passphrase|credential|api_?key", re.I)
_CURSOR = re.compile(r"\d{1,20}(\.\d{1,6})?:.+", re.S)


# Signals


@dataclass(frozen=True, slots=True)
class SignalQuery:
    statuses: frozenset[str] | None
    symbol: str | None
    alert: str | None
    since: datetime | None
    until: datetime | None
    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, params: QueryParams) -> SignalQuery:
        """The query string's filters, or a 400 naming every bad parameter (``query.since``)."""
        errors: list[FieldError] = []

        def text(name: str) -> str | None:
            return params.get(name, "").strip() or None

        statuses = None
        if (status := text("status")) is not None:
            statuses = frozenset(s.strip() for s in status.split(",") if s.strip())
            unknown = sorted(statuses - set(STATUSES))
            if unknown or not statuses:
                errors.append(
                    FieldError("query.status", f"must be one or more of {', '.join(STATUSES)}")
                )
        moments: dict[str, datetime | None] = {}
        for name in ("since", "until"):
            value = text(name)
            moments[name] = _query_time(value) if value is not None else None
            if value is not None and moments[name] is None:
                errors.append(
                    FieldError(
                        f"query.{name}",
                        "must be an RFC 3339 date-time with a zone, e.g. 2026-04-27T11:20:00Z",
                    )
                )
        since, until = moments["since"], moments["until"]
        if since is not None and until is not None and until <= since:
            errors.append(FieldError("query.until", "must be later than since"))
        limit = DEFAULT_LIMIT
        if (raw_limit := text("limit")) is not None:
            if raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
                limit = int(raw_limit)
            else:
                errors.append(
                    FieldError("query.limit", f"must be a whole number from 1 to {MAX_LIMIT}")
                )
        cursor = text("cursor")
        if cursor is not None and not _CURSOR.fullmatch(cursor):
            errors.append(
                FieldError("query.cursor", "must be the next_cursor of a previous page, as given")
            )
        if errors:
            raise bad_request("Invalid query parameters.", *errors)
        return cls(statuses, text("symbol"), text("alert"), since, until, limit, cursor)

    def keep(self) -> Callable[[Mapping[str, Any]], bool]:
        symbol = self.symbol.upper() if self.symbol else None

        def keep(record: Mapping[str, Any]) -> bool:
            if self.statuses is not None and record.get("Status") not in self.statuses:
                return False
            if symbol is not None and str(record.get("Symbol", "")).upper() != symbol:
                return False
            if self.alert is not None and record.get("AlertId") != self.alert:
                return False
            if self.since is not None or self.until is not None:
                created = parse_time(str(record.get("CreatedAt", "")))
                if created is None:
                    return False
                if self.since is not None and created < self.since:
                    return False
                if self.until is not None and created >= self.until:
                    return False
            return True

        return keep


def _query_time(value: str) -> datetime | None:
    moment = parse_time(value)
    if moment is None and " " in value:
        # An offset's "+" left unencoded in a query string arrives as a space.
        head, _, zone = value.rpartition(" ")
        moment = parse_time(f"{head}+{zone}")
    return moment


async def list_signals(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    query = SignalQuery.parse(request.query_params)
    page = await services(request).trading.signal_page(
        tenant_id, query.cursor, query.limit, query.keep()
    )
    return _json({"signals": [_present(s) for s in page.signals], "next_cursor": page.next_cursor})


async def get_signal(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    signal_id = request.path_params["signalId"]
    record = await services(request).trading.record_of(tenant_id, SIGNALS, signal_id)
    if record is None:
        raise Problem(404, f"No signal {signal_id}. List them at GET .../api/signals.")
    return _json(_present(record))


# Brokers


async def list_brokers(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    records = await services(request).trading.records(tenant_id, BROKERS)
    if DEFAULT_BROKER_ID not in records:
        records[DEFAULT_BROKER_ID] = DEFAULT_PAPER_BROKER
    trading = services(request).trading
    brokers = [
        _broker_view(records[key], await trading.broker_connections(tenant_id, key))
        for key in sorted(records)
        if not records[key].get("Removed")
    ]
    return _json({"brokers": [b for b in brokers if b is not None]})


async def get_broker(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    broker_id = request.path_params["brokerId"]
    broker = await _broker(request, tenant_id, broker_id)
    if broker is None:
        raise _no_broker(broker_id)
    connections = await services(request).trading.broker_connections(tenant_id, broker_id)
    view = _broker_view(broker, connections)
    assert view is not None
    return _json(view)


async def _broker(request: Request, tenant_id: str, broker_id: str) -> dict[str, Any] | None:
    """A configured broker, or the implicit paper broker until it is removed; None otherwise."""
    record = await services(request).trading.record_of(tenant_id, BROKERS, broker_id)
    if record is None:
        return dict(DEFAULT_PAPER_BROKER) if broker_id == DEFAULT_BROKER_ID else None
    return None if record.get("Removed") else record


def _broker_view(
    broker: Mapping[str, Any], connections: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The broker as shown: no tombstones, no secrets, with its status. Paper is simulated
    here: always connected. An IBKR broker shows each worker's connection (connected,
    accounts, server version, last error, last connect time); null until a worker reports."""
    if broker.get("Removed"):
        return None
    view = _present(_without_secrets(broker))
    if broker.get("Kind") == "paper":
        view["Status"] = {"Connected": True}
    else:
        connected = any(c.get("connected") for c in connections) if connections else None
        view["Status"] = {"Connected": connected, "Connections": connections}
    return view


def _without_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_secrets(v) for k, v in value.items() if not SECRET_FIELD.search(str(k))}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _no_broker(broker_id: str) -> Problem:
    return Problem(404, f"No broker {broker_id}. List them at GET .../api/brokers.")


# Alerts


async def list_alerts(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    app_services = services(request)
    records = await app_services.trading.records(tenant_id, ALERTS)
    return _json(
        {
            "alerts": [
                _alert_view(app_services.settings, tenant_id, records[k]) for k in sorted(records)
            ]
        }
    )


async def get_alert(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    app_services = services(request)
    alert_id = request.path_params["alertId"]
    alert = await app_services.trading.alert(tenant_id, alert_id)
    if alert is None:
        raise Problem(404, f"No alert {alert_id}. List them at GET .../api/alerts.")
    return _json(_alert_view(app_services.settings, tenant_id, alert))


def webhook_url(settings: Settings, tenant_id: str, alert: Mapping[str, Any]) -> str:
    """The URL to paste into the TradingView alert's Webhook URL box."""
    return (
        f"{settings.base_url}/tenants/{quote(tenant_id, safe='')}/webhooks/tradingview/"
        f"{quote(str(alert['AlertId']), safe='')}/{quote(str(alert.get('WebhookToken') or ''))}"
    )


def _alert_view(settings: Settings, tenant_id: str, alert: Mapping[str, Any]) -> dict[str, Any]:
    view = _present(alert)
    view["WebhookUrl"] = webhook_url(settings, tenant_id, alert)
    template = (
        strategy_message_template if alert.get("Kind") == "strategy" else indicator_message_template
    )
    view["TradingViewMessage"] = template(alert)
    return view


# Paper accounts


async def get_paper_account(request: Request) -> Response:
    tenant_id = request.path_params["tenantId"]
    await authenticate(request, tenant_id)
    broker_id = request.path_params["brokerId"]
    broker = await _broker(request, tenant_id, broker_id)
    if broker is None or broker.get("Kind") != "paper":
        raise Problem(
            404,
            f"No paper broker {broker_id}. List the brokers at GET .../api/brokers.",
        )
    raw = await services(request).trading.record_of(tenant_id, ACCOUNTS, broker_id)
    # Only the starting cash is shown: costs out of the engine's range must not fail the read.
    settings = PaperSettings.from_config({"StartingCash": broker.get("StartingCash")})
    account = PaperAccount.from_dict(raw) if raw else PaperAccount.open(settings)
    return _json(_account_view(broker_id, settings, account))


def _account_view(broker_id: str, settings: PaperSettings, account: PaperAccount) -> dict[str, Any]:
    positions = []
    unrealized = Decimal(0)
    for symbol in sorted(account.positions):
        position = account.positions[symbol]
        last = account.last_prices.get(symbol)
        mark = last if last is not None else position.avg_cost
        pnl = (mark - position.avg_cost) * position.quantity
        unrealized += pnl
        positions.append(
            {
                "symbol": symbol,
                "quantity": _number(position.quantity),
                "avg_cost": _number(position.avg_cost),
                "last_price": None if last is None else _number(last),
                "market_value": _number(position.quantity * mark),
                "unrealized_pnl": _number(pnl),
            }
        )
    orders = [
        {
            "order_id": order["order_id"],
            "symbol": order["symbol"],
            "side": order["side"],
            "quantity": _number(order["quantity"]),
            "limit_price": _number(order["limit_price"]),
            "placed_at": order["placed_at"],
            "expires_at": order["expires_at"],
        }
        for order in account.to_dict()["open_orders"]
    ]
    return {
        "broker_id": broker_id,
        "starting_cash": _number(settings.starting_cash),
        "cash": _number(account.cash),
        "equity": _number(account.equity()),
        "realized_pnl": _number(account.realized_pnl),
        "unrealized_pnl": _number(unrealized),
        "commissions_paid": _number(account.commissions_paid),
        "positions": positions,
        "open_orders": orders,
    }


# Presentation


def _number(value: Decimal | str) -> int | float | str:
    """An exact decimal as a JSON number: an int when whole and within 64 bits (JSON's and
    orjson's limit), else a float; text that is not a number, or beyond a float, stays text."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value() and -(2**63) <= number < 2**63:
        return int(number)
    as_float = float(number)
    return as_float if math.isfinite(as_float) else str(value)


def _present(value: Any, key: str | None = None) -> Any:
    """A read-model record as answered: amounts (``NUMBER_FIELDS``) as JSON numbers."""
    if isinstance(value, Mapping):
        return {k: _present(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_present(v, key) for v in value]
    if isinstance(value, str) and key in NUMBER_FIELDS:
        return _number(value)
    return value


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type=JSON)
