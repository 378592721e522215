"""Reading the ledger API's request bodies and query strings into checked values.

JSON numbers are read as exact decimals (never through a binary float). Every field of a body is
checked before anything is written; a body with errors is answered 422 naming each field at fault
(``orders[3].quantity: must be positive``), a body that is not JSON 400.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import QueryParams

from baas.core.ledger import CashEvent, Order, SnapshotPosition, parse_timestamp
from baas.core.ledger.bounds import DATE_RANGE, amount_problem, time_problem
from baas.core.ledger.events import CASH_EVENT_TYPES, ORDER_STATUSES, ORDER_TYPES, SIDES
from baas.core.ledger.strategies import DEFAULT_BASE_CURRENCY
from baas.core.ledger.symbols import normalize_symbol
from baas.core.ledger.writes import OrderInput
from baas.core.surrogates import lone_surrogates
from gateway.ledger.errors import LedgerError, invalid

MAX_ID = 256
MAX_NAME = 200
MAX_NOTE = 2000
MAX_SNAPSHOT_POSITIONS = 10_000
MAX_ERRORS_SHOWN = 10
CURRENCY = re.compile(r"[A-Z]{3}")
_CASH_TYPES = sorted(CASH_EVENT_TYPES)
_ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
_STATUSES = ("pending", "filled", "partial", "cancelled")
assert set(_ORDER_TYPES) == ORDER_TYPES and set(_STATUSES) == ORDER_STATUSES


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_json(body: bytes) -> Any:
    """The body as JSON, numbers with a fraction or exponent as Decimal; 400 if it is not JSON,
    422 if a string in it is not Unicode text (see ``baas.core.surrogates``)."""
    if not body.strip():
        message = "the body is empty; send a JSON object."
        raise LedgerError(400, f"Malformed request: {message}", errors=[("body", message)])
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        message = f"the body is not valid JSON ({exc})."
        detail = f"Malformed request: {message}"
        raise LedgerError(400, detail, errors=[("body", message)]) from None
    errors = Errors()
    for error in lone_surrogates(document):
        errors.add(error.path or "body", error.message)
    errors.raise_if_any()
    return document


class Errors:
    """Field errors collected over a whole body."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_ERRORS_SHOWN]
        more = len(self.items) - len(shown)
        detail = "Validation failed: " + "; ".join(f"{p}: {m}" if p else m for p, m in shown)
        if more:
            detail += f"; and {more} more"
        raise LedgerError(422, detail, errors=shown)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid("", f"the body must be a JSON object {what}")
    return value


def _number(
    value: Any,
    path: str,
    errors: Errors,
    *,
    minimum: str | None = None,
    required: bool = True,
) -> Decimal | None:
    """A finite number within the ledger's bounds; ``minimum``: "positive" or "non-negative"."""
    if value is None:
        if required:
            errors.add(path, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        errors.add(path, "must be a number")
        return None
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            number = Decimal(value)
    except InvalidOperation:
        errors.add(path, "must be a number")
        return None
    problem = amount_problem(number) if number.is_finite() else "must be a finite number"
    if problem is not None:
        errors.add(path, problem)
        return None
    if minimum == "positive" and not number > 0:
        errors.add(path, "must be positive")
        return None
    if minimum == "non-negative" and number < 0:
        errors.add(path, "must not be negative")
        return None
    return number


def _choice(
    value: Any, path: str, errors: Errors, allowed: tuple[str, ...] | list[str], default: str | None
) -> str | None:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        errors.add(path, "must be one of " + ", ".join(allowed))
        return None
    return value


TIME_EXPECTED = f"must be an ISO-8601 date-time from {DATE_RANGE} (UTC), e.g. 2026-04-18T14:31:22Z"


def _time(value: Any, path: str, errors: Errors, now: datetime) -> datetime | None:
    if value is None:
        return now
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = parse_timestamp(value)
        if time_problem(moment) is not None:
            raise ValueError
    except ValueError:
        errors.add(path, TIME_EXPECTED)
        return None
    return moment


def _text(
    value: Any, path: str, errors: Errors, limit: int, *, allow_empty: bool = True
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(path, "must be a string")
        return None
    if not allow_empty and not value.strip():
        errors.add(path, "must not be empty")
        return None
    if len(value) > limit:
        errors.add(path, f"must be at most {limit} characters")
        return None
    return value


def _symbol(value: Any, path: str, errors: Errors, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            errors.add(path, "is required")
        return None
    try:
        return normalize_symbol(value)
    except ValueError as exc:
        errors.add(path, str(exc))
        return None


def _free_json(value: Any, path: str, errors: Errors) -> None:
    """Free-form JSON that the store and the answers can hold: integers within 64 bits (what
    orjson writes) and fractions within a float's range."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        errors.add(path, "a whole number must fit in 64 bits")
    elif isinstance(value, Decimal) and not math.isfinite(float(value)):
        errors.add(path, "a number must be within a double's range")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _free_json(item, f"{path}.{key}", errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _free_json(item, f"{path}[{i}]", errors)


def plain_json(value: Any) -> Any:
    """Free-form JSON (``details``) with its decimals as ordinary JSON numbers again."""
    if isinstance(value, Decimal):
        return float(value)  # a number written with a fraction or an exponent, as sent
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


# Bodies


def parse_orders(body: Any, now: datetime, max_orders: int) -> list[OrderInput]:
    """``{"orders": [Order, …]}``: 1 to ``max_orders`` orders, every field checked."""
    document = _object(body, '{"orders": [...]}')
    orders = document.get("orders")
    if not isinstance(orders, list):
        raise invalid("orders", 'is required: {"orders": [Order, ...]}')
    if not 1 <= len(orders) <= max_orders:
        raise invalid("orders", f"must hold 1 to {max_orders} orders, not {len(orders)}")
    errors = Errors()
    inputs: list[OrderInput] = []
    for i, raw in enumerate(orders):
        path = f"orders[{i}]"
        if not isinstance(raw, Mapping):
            errors.add(path, "must be an object")
            continue
        item = _order(raw, path, errors, now)
        if item is not None:
            inputs.append(item)
    errors.raise_if_any()
    return inputs


def _order(raw: Mapping[str, Any], path: str, errors: Errors, now: datetime) -> OrderInput | None:
    before = len(errors.items)
    symbol = _symbol(raw.get("symbol"), f"{path}.symbol", errors)
    side = raw.get("side")
    if not isinstance(side, str) or side not in SIDES:
        errors.add(f"{path}.side", "must be buy or sell")
    quantity = _number(raw.get("quantity"), f"{path}.quantity", errors, minimum="positive")
    price = _number(raw.get("price"), f"{path}.price", errors, minimum="positive", required=False)
    fees = _number(raw.get("fees"), f"{path}.fees", errors, minimum="non-negative", required=False)
    order_type = _choice(
        raw.get("order_type"), f"{path}.order_type", errors, _ORDER_TYPES, "market"
    )
    status = _choice(raw.get("status"), f"{path}.status", errors, _STATUSES, "filled")
    executed_at = _time(raw.get("executed_at"), f"{path}.executed_at", errors, now)
    external_id = _text(
        raw.get("external_order_id"), f"{path}.external_order_id", errors, MAX_ID, allow_empty=False
    )
    details = raw.get("details")
    if details is not None and not isinstance(details, Mapping):
        errors.add(f"{path}.details", "must be a JSON object or null")
    elif details is not None:
        _free_json(details, f"{path}.details", errors)
    if len(errors.items) > before:
        return None
    assert symbol and quantity is not None and executed_at and order_type and status
    order = Order(
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        quantity=quantity,
        price=price,
        executed_at=executed_at,
        fees=fees if fees is not None else Decimal(0),
        status=status,
        order_type=order_type,
        external_order_id=external_id,
    )
    return OrderInput(order, plain_json(details) if details is not None else None)


def parse_cash(body: Any, now: datetime) -> CashEvent:
    document = _object(body, "(a cash event)")
    errors = Errors()
    event_type = _choice(document.get("event_type"), "event_type", errors, _CASH_TYPES, None)
    amount = _number(document.get("amount"), "amount", errors)
    if amount is not None and event_type == "deposit" and not amount > 0:
        errors.add("amount", "a deposit must be positive (signed: positive = cash in)")
    if amount is not None and event_type == "withdraw" and not amount < 0:
        errors.add("amount", "a withdraw must be negative (signed: negative = cash out)")
    occurred_at = _time(document.get("occurred_at"), "occurred_at", errors, now)
    external_id = _text(
        document.get("external_id"), "external_id", errors, MAX_ID, allow_empty=False
    )
    related = _symbol(document.get("related_symbol"), "related_symbol", errors, required=False)
    note = _text(document.get("note"), "note", errors, MAX_NOTE)
    errors.raise_if_any()
    assert event_type is not None and amount is not None and occurred_at is not None
    return CashEvent(event_type, amount, occurred_at, external_id, related, note)


def parse_snapshot(body: Any) -> tuple[list[SnapshotPosition], bool]:
    """``{"positions": [{symbol, quantity, cost_basis}, …], "log_deltas": false}``."""
    document = _object(body, '{"positions": [...], "log_deltas": false}')
    positions = document.get("positions")
    log_deltas = document.get("log_deltas", False)
    errors = Errors()
    if not isinstance(log_deltas, bool):
        errors.add("log_deltas", "must be true or false")
    if not isinstance(positions, list):
        raise invalid("positions", 'is required: {"positions": [Position, ...]}')
    if len(positions) > MAX_SNAPSHOT_POSITIONS:
        raise invalid("positions", f"a snapshot holds at most {MAX_SNAPSHOT_POSITIONS} positions")
    lines: list[SnapshotPosition] = []
    seen: set[str] = set()
    for i, raw in enumerate(positions):
        path = f"positions[{i}]"
        if not isinstance(raw, Mapping):
            errors.add(path, "must be an object")
            continue
        before = len(errors.items)
        symbol = _symbol(raw.get("symbol"), f"{path}.symbol", errors)
        quantity = _number(raw.get("quantity"), f"{path}.quantity", errors)
        flat = quantity is not None and quantity == 0
        cost = _number(
            raw.get("cost_basis"),
            f"{path}.cost_basis",
            errors,
            minimum="non-negative",
            required=not flat,
        )
        if symbol is not None and symbol in seen:
            errors.add(f"{path}.symbol", f"{symbol} appears twice in the snapshot")
        if symbol is not None:
            seen.add(symbol)
        if len(errors.items) == before:
            assert symbol is not None and quantity is not None
            lines.append(
                SnapshotPosition(symbol, quantity, cost if cost is not None else Decimal(0))
            )
    errors.raise_if_any()
    return lines, bool(log_deltas)


@dataclass(frozen=True, slots=True)
class StrategyRequest:
    name: str
    base_currency: str


def parse_strategy(body: Any) -> tuple[StrategyRequest | None, list[tuple[str, str]]]:
    """``{"name", "base_currency"?}``; the request, or the (path, message) errors."""
    if not isinstance(body, Mapping):
        return None, [("", 'the body must be a JSON object {"name": ..., "base_currency": "USD"}')]
    problems: list[tuple[str, str]] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(("name", "is required: a non-empty string"))
    elif len(name) > MAX_NAME:
        problems.append(("name", f"must be at most {MAX_NAME} characters"))
    currency = body.get("base_currency", DEFAULT_BASE_CURRENCY)
    if currency is None:
        currency = DEFAULT_BASE_CURRENCY
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.strip().upper()):
        problems.append(("base_currency", "must be a 3-letter ISO 4217 code, e.g. USD"))
    if problems:
        return None, problems
    return StrategyRequest(name.strip(), currency.strip().upper()), []


def parse_key_name(body: bytes) -> str:
    """The optional ``{"name": ...}`` of a new ledger key (an empty body: no name)."""
    if not body.strip():
        return ""
    document = _object(parse_json(body), '{"name": "my-bot-prod"}')
    errors = Errors()
    name = _text(document.get("name"), "name", errors, MAX_NAME)
    errors.raise_if_any()
    return name or ""


# Query strings


@dataclass(frozen=True, slots=True)
class PerformanceQuery:
    benchmark: str | None
    risk_free_rate: float


def parse_benchmark(params: QueryParams, default: str) -> str | None:
    """``benchmark``: the settings' default when absent, none when empty."""
    raw = params.get("benchmark")
    if raw is None:
        raw = default
    if not raw.strip():
        return None
    try:
        return normalize_symbol(raw)
    except ValueError as exc:
        raise invalid("benchmark", str(exc)) from None


def parse_performance(params: QueryParams, default_benchmark: str) -> PerformanceQuery:
    benchmark = parse_benchmark(params, default_benchmark)
    raw = params.get("risk_free_rate")
    rate = 0.0
    if raw is not None and raw.strip():
        try:
            rate = float(raw)
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or not -1 < rate < 10:
            raise invalid(
                "risk_free_rate", "must be an annual rate between -1 and 10, e.g. 0.045 for 4.5%"
            )
    return PerformanceQuery(benchmark, rate)
