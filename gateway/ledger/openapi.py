"""OpenAPI 3.1 operations of the ledger routes, in the shape of ``gateway.openapi.OPERATIONS``.

Schemas are inline (the gateway's ``COMPONENTS`` need not know them); the Bearer scheme is
``LEDGER_SECURITY_SCHEMES`` (to merge into ``COMPONENTS["securitySchemes"]``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gateway.openapi_parts import PROBLEM_SCHEMA, json_response, path_param, query_param

LEDGER_SECURITY_SCHEMES = {
    "LedgerBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A strategy's ledger API key: Authorization: Bearer fq_live_…",
    }
}
BEARER = [{"LedgerBearer": []}]
API_KEY = [{"ApiKey": []}]

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_DETAIL = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
}
_PROBLEM = PROBLEM_SCHEMA


_json = json_response
_detail = partial(json_response, _DETAIL)
_problem = partial(json_response, _PROBLEM)


TENANT_PARAM = path_param("tenantId", "Your Tenant ID.")
STRATEGY_PARAM = path_param("strategyId", "The strategy's id (a UUID).")
KEY_PARAM = path_param("keyId", "The key's id, from the key list.")
SYMBOL_PARAM = path_param("symbol", "A ticker, e.g. AAPL (matched without regard to case).")

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "strategy_id": {"type": "string", "format": "uuid"},
        "symbol": {"type": "string"},
        "side": {"enum": ["buy", "sell"]},
        "quantity": {"type": "number"},
        "price": {"type": ["number", "null"]},
        "fees": {"type": "number"},
        "order_type": {"enum": ["market", "limit", "stop", "stop_limit"]},
        "status": {"enum": ["pending", "filled", "partial", "cancelled"]},
        "executed_at": _TIME,
        "created_at": _TIME,
        "external_order_id": {"type": ["string", "null"]},
        "details": {"type": ["object", "null"]},
    },
}
ORDER_IN = {
    "type": "object",
    "required": ["symbol", "side", "quantity"],
    "properties": {
        "symbol": {"type": "string", "description": "Ticker, e.g. AAPL, BTC-USD."},
        "side": {"enum": ["buy", "sell"]},
        "quantity": {"type": "number", "exclusiveMinimum": 0},
        "executed_at": {**_TIME, "description": "UTC fill time; default: now."},
        "price": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "Fill price; when omitted, the close on executed_at's date.",
        },
        "fees": {"type": "number", "minimum": 0, "default": 0},
        "order_type": {"enum": ["market", "limit", "stop", "stop_limit"], "default": "market"},
        "status": {"enum": ["pending", "filled", "partial", "cancelled"], "default": "filled"},
        "external_order_id": {"type": "string", "description": "Makes the order idempotent."},
        "details": {"type": "object", "description": "Free-form JSON for your own metadata."},
    },
}
CASH_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "strategy_id": {"type": "string", "format": "uuid"},
        "event_type": {
            "enum": ["deposit", "withdraw", "dividend", "interest", "fee", "adjustment"]
        },
        "amount": {"type": "number", "description": "Signed: positive = cash in."},
        "occurred_at": _TIME,
        "external_id": {"type": ["string", "null"]},
        "related_symbol": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]},
        "created_at": _TIME,
    },
}
STRATEGY = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "tenant_id": {"type": "string"},
        "name": {"type": "string"},
        "base_currency": {"type": "string"},
        "is_default": {"type": "boolean"},
        "created_at": _TIME,
    },
}
KEY_META = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "key_prefix": {"type": "string", "description": "fq_live_ and two characters."},
        "created_at": _TIME,
        "revoked_at": _NULLABLE_TIME,
    },
}
NAV_POINT = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date"},
        "total_equity": {"type": "number"},
        "cash_balance": {"type": "number"},
        "market_value": {"type": "number"},
        "daily_return": {"type": ["number", "null"]},
    },
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
PERFORMANCE = {
    "type": "object",
    "properties": {
        "strategy_id": {"type": "string"},
        "inception_date": {"type": ["string", "null"], "format": "date"},
        "latest_date": {"type": ["string", "null"], "format": "date"},
        "days": {"type": ["integer", "null"]},
        "years": _NUMBER_OR_NULL,
        "starting_equity": _NUMBER_OR_NULL,
        "ending_equity": _NUMBER_OR_NULL,
        "total_return": _NUMBER_OR_NULL,
        "cagr": _NUMBER_OR_NULL,
        "volatility_annualized": _NUMBER_OR_NULL,
        "downside_volatility_annualized": _NUMBER_OR_NULL,
        "sharpe_ratio": _NUMBER_OR_NULL,
        "sortino_ratio": _NUMBER_OR_NULL,
        "calmar_ratio": _NUMBER_OR_NULL,
        "drawdown": {
            "type": "object",
            "properties": {
                "max_drawdown": _NUMBER_OR_NULL,
                "max_drawdown_duration_days": {"type": ["integer", "null"]},
                "current_drawdown": _NUMBER_OR_NULL,
            },
        },
        "monthly_returns": {"type": "object", "additionalProperties": {"type": "number"}},
        "yearly_returns": {"type": "object", "additionalProperties": {"type": "number"}},
        "benchmark": {
            "type": "object",
            "description": "Present unless benchmark is the empty string.",
            "properties": {
                "symbol": {"type": "string"},
                "beta": _NUMBER_OR_NULL,
                "alpha_annualized": _NUMBER_OR_NULL,
                "tracking_error_annualized": _NUMBER_OR_NULL,
                "information_ratio": _NUMBER_OR_NULL,
                "benchmark_total_return": _NUMBER_OR_NULL,
            },
        },
    },
}

# Error answers of the ledger (``{"detail"}``) and of the tenant API (``{"detail", "errors"}``).
_V1_ERRORS = {
    "401": _detail("Missing, invalid or revoked Authorization: Bearer key."),
    "403": _detail("The key belongs to another strategy."),
    "404": _detail("No such strategy."),
    "429": _detail(
        "Rate limited: the key's window (60 requests per 60 s by default), or the client IP's.",
        retry_after=True,
    ),
    "503": _detail("The store is unavailable; nothing was written.", retry_after=True),
}
_KEY_ERRORS = {
    "401": _detail("Missing, invalid or revoked X-Api-Key."),
    "403": _detail("The X-Api-Key belongs to another tenant than the strategy's."),
    "404": _detail("No such strategy."),
    "429": _detail("Rate limited (client IP, or auth-failure block).", retry_after=True),
    "503": _detail("The store is unavailable.", retry_after=True),
}
_TENANT_ERRORS = {
    "401": _problem("Missing or invalid X-Api-Key."),
    "403": _problem("The key is not valid for this tenant."),
    "429": _problem("Rate limited.", retry_after=True),
    "503": _problem("The store is unavailable.", retry_after=True),
}
_BENCHMARK = query_param(
    "benchmark",
    {"type": "string", "default": "SPY"},
    "Symbol to compare against (BAAS_LEDGER_DEFAULT_BENCHMARK when absent). Empty: none.",
)


def _v1(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": BEARER,
        "parameters": [STRATEGY_PARAM, *(params or [])],
        "responses": {**ok, **(extra or {}), **_V1_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_V1_PATH = "/api/v1/strategies/{strategyId}"
_KEYS_PATH = "/strategies/{strategyId}/api-keys"
_ORDERS_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "array", "items": ORDER},
        "duplicates": {"type": "array", "items": ORDER},
        "counts": {
            "type": "object",
            "properties": {
                "accepted": {"type": "integer"},
                "duplicates": {"type": "integer"},
            },
        },
    },
}
_CASH_RESULT = {
    "type": "object",
    "properties": {"status": {"enum": ["created", "duplicate"]}, "event": CASH_EVENT},
}

LEDGER_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/tenants/{tenantId}/api/strategies", "post"): {
        "operationId": "createStrategy",
        "summary": "Create a strategy",
        "description": "A new strategy of the tenant; its ledger keys are made at "
        "POST /strategies/{id}/api-keys. Counts as a tenant write.",
        "security": API_KEY,
        "parameters": [TENANT_PARAM],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "base_currency": {"type": "string", "default": "USD"},
                        },
                    }
                }
            },
        },
        "responses": {
            "201": _json(STRATEGY, "The strategy."),
            "400": _problem("The body is not JSON."),
            "422": _problem("name missing, or base_currency not a 3-letter code."),
            **_TENANT_ERRORS,
        },
    },
    ("/tenants/{tenantId}/api/strategies", "get"): {
        "operationId": "listStrategies",
        "summary": "List strategies",
        "security": API_KEY,
        "parameters": [TENANT_PARAM],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {"strategies": {"type": "array", "items": STRATEGY}},
                },
                "The tenant's strategies, oldest first.",
            ),
            **_TENANT_ERRORS,
        },
    },
    ("/tenants/{tenantId}/api/prices", "post"): {
        "operationId": "importPrices",
        "summary": "Import daily closes",
        "description": "JSON {prices: [{symbol, date, close}]} or a CSV body: long "
        "(date,symbol,close[,...]) or one symbol's Yahoo-style file "
        "(Date,Open,High,Low,Close,Adj Close,Volume) with ?symbol=. A close replaces the one of "
        "the same symbol and date. Closes are shared by every tenant. Counts as a tenant write.",
        "security": API_KEY,
        "parameters": [
            TENANT_PARAM,
            query_param(
                "symbol", {"type": "string"}, "The symbol of a CSV without a symbol column."
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["prices"],
                        "properties": {
                            "prices": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["symbol", "date", "close"],
                                    "properties": {
                                        "symbol": {"type": "string"},
                                        "date": {"type": "string", "format": "date"},
                                        "close": {"type": "number", "exclusiveMinimum": 0},
                                    },
                                },
                            }
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "imported": {"type": "integer"},
                        "added": {"type": "integer"},
                        "replaced": {"type": "integer"},
                        "skipped": {"type": "integer"},
                        "symbols": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "first_date": {"type": ["string", "null"], "format": "date"},
                        "last_date": {"type": ["string", "null"], "format": "date"},
                    },
                },
                "Closes written (added: new dates; replaced; skipped: rows without a close).",
            ),
            "400": _problem("The body is not JSON (or not UTF-8 CSV)."),
            "413": _problem("Body over BAAS_LEDGER_MAX_BODY_BYTES."),
            "415": _problem("Neither JSON nor CSV."),
            "422": _problem("A row cannot be read (its line or index is named)."),
            **_TENANT_ERRORS,
        },
    },
    ("/tenants/{tenantId}/api/prices/{symbol}", "get"): {
        "operationId": "getPrices",
        "summary": "Daily closes of a symbol",
        "security": API_KEY,
        "parameters": [
            TENANT_PARAM,
            SYMBOL_PARAM,
            query_param("start", {"type": "string", "format": "date"}, "First date (inclusive)."),
            query_param("end", {"type": "string", "format": "date"}, "Last date (inclusive)."),
        ],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "symbol": {"type": "string"},
                        "closes": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                },
                "Date → close.",
            ),
            "400": _problem("A bad date or symbol."),
            "404": _problem("No closes for the symbol."),
            **_TENANT_ERRORS,
        },
    },
    (_KEYS_PATH, "post"): {
        "operationId": "createLedgerKey",
        "summary": "Create a ledger API key",
        "description": "Authenticated with the strategy's tenant's X-Api-Key (the hosted service "
        "uses a session cookie). The plaintext key is answered once, never again.",
        "security": API_KEY,
        "parameters": [STRATEGY_PARAM],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"name": {"type": "string"}}}
                }
            },
        },
        "responses": {
            "201": _json(
                {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "key_prefix": {"type": "string"},
                        "created_at": _TIME,
                        "plaintext": {"type": "string", "description": "fq_live_ + 43 chars."},
                        "warning": {"type": "string"},
                    },
                },
                "The new key, with its plaintext (shown once).",
            ),
            "400": _detail("The body is not JSON."),
            "409": _detail(
                "The strategy has BAAS_LEDGER_MAX_KEYS_PER_STRATEGY active keys: revoke one first."
            ),
            "422": _detail("name is not a string."),
            **_KEY_ERRORS,
        },
    },
    (_KEYS_PATH, "get"): {
        "operationId": "listLedgerKeys",
        "summary": "List a strategy's ledger keys (metadata, never the key)",
        "security": API_KEY,
        "parameters": [STRATEGY_PARAM],
        "responses": {
            "200": _json({"type": "array", "items": KEY_META}, "Active and revoked keys."),
            **_KEY_ERRORS,
        },
    },
    (f"{_KEYS_PATH}/{{keyId}}/revoke", "post"): {
        "operationId": "revokeLedgerKey",
        "summary": "Revoke a ledger key (idempotent)",
        "description": "The key answers 401 on every gateway at once.",
        "security": API_KEY,
        "parameters": [STRATEGY_PARAM, KEY_PARAM],
        "responses": {
            "200": _json(KEY_META, "The key, with revoked_at."),
            **_KEY_ERRORS,
            "404": _detail("No such strategy, or no such key for it."),
        },
    },
    (f"{_V1_PATH}/orders", "post"): _v1(
        "postOrders",
        "Submit orders (1 to 500)",
        "Idempotent per strategy on external_order_id: a known one comes back under duplicates "
        "and is not applied again. A missing price is the close on executed_at's date. The "
        "whole batch is checked before anything is written. 201 when an order was accepted, "
        "200 when all were duplicates.",
        {
            "201": _json(_ORDERS_RESULT, "Accepted (and duplicate) orders."),
            "200": _json(_ORDERS_RESULT, "Every order was a duplicate."),
        },
        body={
            "type": "object",
            "required": ["orders"],
            "properties": {
                "orders": {"type": "array", "minItems": 1, "maxItems": 500, "items": ORDER_IN}
            },
        },
        extra={
            "400": _detail("The body is not JSON."),
            "413": _detail("Body over BAAS_LEDGER_MAX_BODY_BYTES."),
            "422": _detail(
                "Validation failed (every field at fault is named), or no close for an order "
                "without price: No market data available for FOO at 2026-04-18T14:00:00Z."
            ),
        },
    ),
    (f"{_V1_PATH}/positions/snapshot", "post"): _v1(
        "postPositionsSnapshot",
        "Replace the position set",
        "Upserts every symbol sent and deletes every symbol absent; with log_deltas, the "
        "changes against the prior state are written to the reconciliation log.",
        {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "upserted": {"type": "integer"},
                        "removed": {"type": "integer"},
                        "reconciliation_entries": {"type": "integer"},
                    },
                },
                "Counts.",
            )
        },
        body={
            "type": "object",
            "required": ["positions"],
            "properties": {
                "positions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["symbol", "quantity", "cost_basis"],
                        "properties": {
                            "symbol": {"type": "string"},
                            "quantity": {"type": "number", "description": "Negative = short."},
                            "cost_basis": {"type": "number", "minimum": 0},
                        },
                    },
                },
                "log_deltas": {"type": "boolean", "default": False},
            },
        },
        extra={
            "400": _detail("The body is not JSON."),
            "422": _detail("Validation failed."),
        },
    ),
    (f"{_V1_PATH}/cash", "post"): _v1(
        "postCash",
        "Record a cash event",
        "deposit (> 0), withdraw (< 0), dividend, interest, fee, adjustment; the amount is "
        "signed (positive = cash in). Idempotent on external_id.",
        {
            "201": _json(_CASH_RESULT, "Created."),
            "200": _json(_CASH_RESULT, "A duplicate external_id: the event recorded first."),
        },
        body={
            "type": "object",
            "required": ["event_type", "amount"],
            "properties": {
                "event_type": CASH_EVENT["properties"]["event_type"],
                "amount": {"type": "number"},
                "occurred_at": _TIME,
                "external_id": {"type": "string"},
                "related_symbol": {"type": "string"},
                "note": {"type": "string"},
            },
        },
        extra={
            "400": _detail("The body is not JSON."),
            "422": _detail("Validation failed."),
        },
    ),
    (f"{_V1_PATH}/state", "get"): _v1(
        "getState",
        "Current derived state",
        "Positions, cash and equity from the projection of the strategy's events (its cost does "
        "not grow with the history); positions are marked at their latest close in the store "
        "(cost basis when there is none).",
        {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "strategy_id": {"type": "string"},
                        "positions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "symbol": {"type": "string"},
                                    "quantity": {"type": "number"},
                                    "cost_basis": {"type": "number"},
                                    "updated_at": _NULLABLE_TIME,
                                },
                            },
                        },
                        "nav": {
                            "type": "object",
                            "properties": {
                                "total_equity": {"type": "number"},
                                "cash_balance": {"type": "number"},
                                "market_value": {"type": "number"},
                                "captured_at": _TIME,
                            },
                        },
                        "last_order_at": _NULLABLE_TIME,
                    },
                },
                "The state.",
            )
        },
    ),
    (f"{_V1_PATH}/performance", "get"): _v1(
        "getPerformance",
        "Performance metrics",
        "Return, volatility, Sharpe/Sortino/Calmar, drawdown, monthly/yearly returns and "
        "benchmark-relative statistics of the session NAV. An undefined value is null.",
        {"200": _json(PERFORMANCE, "The metrics.")},
        params=[
            _BENCHMARK,
            query_param(
                "risk_free_rate",
                {"type": "number", "default": 0},
                "Annualized, e.g. 0.045 for 4.5%.",
            ),
        ],
        extra={"422": _detail("risk_free_rate or benchmark invalid.")},
    ),
    (f"{_V1_PATH}/nav", "get"): _v1(
        "getNav",
        "Daily NAV series",
        "One point per session from inception: equity, cash, market value and the "
        "flow-neutral daily return (null when undefined), for charts.",
        {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "strategy_id": {"type": "string"},
                        "nav": {"type": "array", "items": NAV_POINT},
                    },
                },
                "The series.",
            )
        },
        params=[_BENCHMARK],
        extra={"422": _detail("benchmark invalid.")},
    ),
}
