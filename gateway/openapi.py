"""The OpenAPI 3.1 description of every route; a test keeps it in step with the routing table."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from starlette.routing import BaseRoute, Route

from gateway.ledger.openapi import LEDGER_OPERATIONS, LEDGER_SECURITY_SCHEMES
from gateway.openapi_parts import PROBLEM_SCHEMA, json_response, path_param, query_param

PROBLEM = {"$ref": "#/components/schemas/Problem"}
TENANT_PARAM = {
    "name": "tenantId",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Your Tenant ID.",
}
API_KEY = [{"ApiKey": []}]


_error = partial(json_response, PROBLEM)


_LIMITED = _error(
    "Rate limited (per IP, per tenant write, or auth-failure block).", retry_after=True
)
_UNAUTHORIZED = _error("Missing or invalid X-Api-Key.")
_FORBIDDEN = _error("The key is not valid for this tenant.")
_NOT_FOUND = _error("No such schema.")
_SCHEMA_PARAMS = [
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}},
]
_SCHEMA_DOC = {
    "description": "The JSON Schema (draft 2020-12) of the command's data.",
    "content": {"application/schema+json": {"schema": {"type": "object"}}},
}
_SCHEMA_LIST = {
    "description": "Every command schema and its versions.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SchemaListing"}}},
}

_SUBMIT = {
    "summary": "Send a command (a CloudEvent)",
    "description": (
        "Validates the command against its JSON Schema (selected by dataSchema, else the latest "
        "version for the type) and appends it to the tenant's event log. Accepts the hosted "
        "service's JSON dialect, CloudEvents structured, binary (ce-* headers) and batch modes. "
        "A repeat of the same (source, id) within the retention window gets the same answer "
        "and appends nothing."
    ),
    "security": API_KEY,
    "parameters": [TENANT_PARAM],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Command"}},
            "application/cloudevents+json": {"schema": {"$ref": "#/components/schemas/Command"}},
            "application/cloudevents-batch+json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Command"}}
            },
        },
    },
    "responses": {
        "202": {
            "description": "In the log. Single event: {id}; batch: one result per event.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Accepted"},
                            {"$ref": "#/components/schemas/BatchAccepted"},
                        ]
                    }
                }
            },
        },
        "400": _error("Malformed JSON or CloudEvent envelope, or more than one X-Api-Key."),
        "401": _UNAUTHORIZED,
        "403": _error("The key is not valid for this tenant, or data.TenantId does not match."),
        "409": _error("The event id was already used for an event with other content."),
        "413": _error("Body over the size limit."),
        "415": _error("Unsupported content type."),
        "422": _error("The data does not match the command's schema; every error with its path."),
        "429": _LIMITED,
        "503": _error(
            "The store is unavailable: nothing was written, or the outcome is unknown (the "
            "detail says which); send the same event again.",
            retry_after=True,
        ),
    },
}


def _read(
    operation_id: str,
    summary: str,
    description: str,
    schema: str,
    params: list[dict[str, Any]],
    *,
    not_found: str | None = None,
    bad_request: str | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": summary + ".",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        },
    }
    if bad_request:
        responses["400"] = _error(bad_request)
    responses |= {"401": _UNAUTHORIZED, "403": _FORBIDDEN}
    if not_found:
        responses["404"] = _error(not_found)
    responses["429"] = _LIMITED
    responses["503"] = _error("The store is unavailable.", retry_after=True)
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": API_KEY,
        "parameters": [TENANT_PARAM, *params],
        "responses": responses,
    }


_SIGNAL_ID = path_param("signalId", "The signal's Id (data.Id of its SubmitSignal).")
_BROKER_ID = path_param("brokerId", "The broker's BrokerId; `paper` is every tenant's default.")
_ALERT_ID = path_param("alertId", "The alert's AlertId (the CorrelationId of its signals).")
_STATUSES = ["accepted", "submitted", "partially_filled", "filled", "rejected", "cancelled"]
_SIGNAL_FILTERS = [
    query_param(
        "status",
        {"type": "string"},
        "Only signals in these statuses, comma-separated: " + ", ".join(_STATUSES) + ".",
    ),
    query_param("symbol", {"type": "string"}, "Only this symbol (case-insensitive)."),
    query_param("alert", {"type": "string"}, "Only signals of this AlertId."),
    query_param(
        "since",
        {"type": "string", "format": "date-time"},
        "Only signals created at or after this time (RFC 3339 with a zone).",
    ),
    query_param(
        "until",
        {"type": "string", "format": "date-time"},
        "Only signals created before this time (RFC 3339 with a zone).",
    ),
    query_param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "Signals per page.",
    ),
    query_param("cursor", {"type": "string"}, "The next_cursor of the previous page."),
]
_READS = {
    ("/tenants/{tenantId}/api/signals", "get"): _read(
        "listSignals",
        "List signals, newest first",
        "Signals as the workers recorded them, with their status. Filters combine; a page ends "
        "with next_cursor (null on the last page) to pass as cursor for the next.",
        "SignalPage",
        _SIGNAL_FILTERS,
        bad_request="A filter value is invalid (the error's path names it, e.g. query.since).",
    ),
    ("/tenants/{tenantId}/api/signals/{signalId}", "get"): _read(
        "getSignal",
        "Fetch one signal with its lifecycle",
        "Status, History (every status with its time and reason), Fills, Reason, CreatedAt and "
        "UpdatedAt.",
        "Signal",
        [_SIGNAL_ID],
        not_found="No such signal (yet: a signal shows once a worker has handled it).",
    ),
    ("/tenants/{tenantId}/api/brokers", "get"): _read(
        "listBrokers",
        "List brokers",
        "Every configured broker and the default paper broker (until removed), with Status. "
        "Secrets are never shown.",
        "BrokerList",
        [],
    ),
    ("/tenants/{tenantId}/api/brokers/{brokerId}", "get"): _read(
        "getBroker",
        "Fetch one broker",
        "Its configuration (no secrets) and Status.",
        "Broker",
        [_BROKER_ID],
        not_found="No such broker, or it was removed.",
    ),
    ("/tenants/{tenantId}/api/alerts", "get"): _read(
        "listAlerts",
        "List alerts",
        "Every alert's configuration, its TradingView WebhookUrl and the TradingViewMessage to "
        "paste into the TradingView alert.",
        "AlertList",
        [],
    ),
    ("/tenants/{tenantId}/api/alerts/{alertId}", "get"): _read(
        "getAlert",
        "Fetch one alert, with its webhook URL and message",
        "The configuration, WebhookUrl (it carries the alert's secret token) and "
        "TradingViewMessage.",
        "Alert",
        [_ALERT_ID],
        not_found="No such alert.",
    ),
    ("/tenants/{tenantId}/api/paper/{brokerId}", "get"): _read(
        "getPaperAccount",
        "Fetch a paper-trading account",
        "Cash, equity, positions, open orders and P&L of a paper broker's sandbox account; a "
        "paper broker that never traded shows its starting state.",
        "PaperAccount",
        [_BROKER_ID],
        not_found="No such broker, or it is not a paper broker.",
    ),
    ("/tenants/{tenantId}/webhooks/tradingview/{alertId}/{token}", "post"): {
        "operationId": "tradingViewWebhook",
        "summary": "TradingView webhook target",
        "description": (
            "Paste GET .../alerts/{alertId}'s WebhookUrl into the TradingView alert. The token "
            "in the URL authenticates (no X-Api-Key). The body is the alert message: one word "
            "(buy, sell, close) or a JSON object (TradingViewMessage); any content type. It "
            "becomes a SubmitSignal in the log; the worker trades it. A repeated alert appends "
            "nothing and gets the same answer. A disabled alert is accepted and its signal "
            "rejected by the worker, with the reason in the signal's history."
        ),
        "parameters": [
            TENANT_PARAM,
            _ALERT_ID,
            path_param("token", "The alert's WebhookToken."),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        "responses": {
            "202": {
                "description": "In the log: {id} is the signal's event id.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                },
            },
            "400": _error("The body is neither an action word nor a JSON object."),
            "401": _error("Unknown tenant or alert, or wrong token (one answer for all three)."),
            "403": _error("The client address is not in BAAS_TRADINGVIEW_ALLOWED_IPS."),
            "413": _error("Body over the size limit."),
            "422": _error(
                "The message cannot become a signal: unreplaced {{placeholders}}, invalid or "
                "missing values; every error with its path."
            ),
            "409": _error("The signal id was already used for a message with other content."),
            "429": _LIMITED,
            "503": _error(
                "The tenant's write limit is reached, or the store is unavailable; TradingView "
                "sends the alert again.",
                retry_after=True,
            ),
        },
    },
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/tenants/{tenantId}/api/trading", "post"): {**_SUBMIT, "operationId": "submitCommand"},
    ("/tenants/{tenantId}/api/trading", "put"): {**_SUBMIT, "operationId": "putCommand"},
    ("/tenants/{tenantId}/api/trading/schemas", "get"): {
        "operationId": "listTenantSchemas",
        "summary": "List command schemas",
        "security": API_KEY,
        "parameters": [TENANT_PARAM],
        "responses": {
            "200": _SCHEMA_LIST,
            "401": _UNAUTHORIZED,
            "403": _FORBIDDEN,
            "429": _LIMITED,
        },
    },
    ("/tenants/{tenantId}/api/trading/schemas/{name}/{version}", "get"): {
        "operationId": "getTenantSchema",
        "summary": "Fetch one command schema",
        "security": API_KEY,
        "parameters": [TENANT_PARAM, *_SCHEMA_PARAMS],
        "responses": {
            "200": _SCHEMA_DOC,
            "401": _UNAUTHORIZED,
            "403": _FORBIDDEN,
            "404": _NOT_FOUND,
            "429": _LIMITED,
        },
    },
    ("/schemas", "get"): {
        "operationId": "listSchemas",
        "summary": "List command schemas (public)",
        "responses": {"200": _SCHEMA_LIST, "429": _LIMITED},
    },
    ("/schemas/{name}/{version}", "get"): {
        "operationId": "getSchema",
        "summary": "Fetch one command schema (public)",
        "parameters": _SCHEMA_PARAMS,
        "responses": {"200": _SCHEMA_DOC, "404": _NOT_FOUND, "429": _LIMITED},
    },
    ("/healthz", "get"): {
        "operationId": "healthz",
        "summary": "Liveness: the process is up",
        "responses": {"200": {"description": "Up."}},
    },
    ("/readyz", "get"): {
        "operationId": "readyz",
        "summary": "Readiness: the store answers",
        "responses": {"200": {"description": "Ready."}, "503": {"description": "Store down."}},
    },
    ("/metrics", "get"): {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "responses": {"200": {"description": "Text exposition format."}},
    },
    ("/openapi.json", "get"): {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1."}},
    },
    **_READS,
    **LEDGER_OPERATIONS,
}

COMPONENTS = {
    "securitySchemes": {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        **LEDGER_SECURITY_SCHEMES,
    },
    "schemas": {
        "Problem": PROBLEM_SCHEMA,
        "Command": {
            "type": "object",
            "description": "A CloudEvent: id, type, source, dataSchema (name/version), time, data.",
            "required": ["id", "type", "source", "data"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "source": {"type": "string"},
                "dataSchema": {"type": "string"},
                "dataContentType": {"type": "string"},
                "time": {"type": "string", "format": "date-time"},
                "specversion": {"type": "string", "const": "1.0"},
                "data": {"type": "object"},
            },
        },
        "Accepted": {"type": "object", "properties": {"id": {"type": "string"}}},
        "BatchAccepted": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "eventId": {"type": "string"},
                            "status": {"enum": ["accepted", "duplicate"]},
                        },
                    },
                }
            },
        },
        "Signal": {
            "type": "object",
            "description": "A signal as recorded: its request (Symbol, Action, RequestedQuantity, "
            "OrderType, Price, AlertId, BrokerId), the decided Side and Quantity, Status, "
            "FilledQuantity, Fills, History, Reason (of a rejection or cancellation), CreatedAt, "
            "UpdatedAt. Amounts are numbers.",
            "properties": {
                "SignalId": {"type": "string"},
                "AlertId": {"type": "string"},
                "BrokerId": {"type": ["string", "null"]},
                "Symbol": {"type": "string"},
                "Action": {"enum": ["buy", "sell", "close"]},
                "Side": {"enum": ["buy", "sell"]},
                "RequestedQuantity": {"type": "number"},
                "Quantity": {"type": "number"},
                "FilledQuantity": {"type": "number"},
                "OrderType": {"enum": ["MKT", "LMT"]},
                "Price": {"type": ["number", "null"]},
                "Status": {"enum": _STATUSES},
                "Reason": {"type": "string"},
                "Fills": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "FillId": {"type": "string"},
                            "Quantity": {"type": "number"},
                            "Price": {"type": "number"},
                            "Commission": {"type": "number"},
                            "BrokerOrderId": {"type": "string"},
                            "Time": {"type": "string", "format": "date-time"},
                        },
                    },
                },
                "History": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "Status": {"enum": _STATUSES},
                            "Time": {"type": "string", "format": "date-time"},
                            "Event": {"type": "string"},
                            "Reason": {"type": "string"},
                        },
                    },
                },
                "CreatedAt": {"type": "string", "format": "date-time"},
                "UpdatedAt": {"type": "string", "format": "date-time"},
            },
        },
        "SignalPage": {
            "type": "object",
            "properties": {
                "signals": {"type": "array", "items": {"$ref": "#/components/schemas/Signal"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "Broker": {
            "type": "object",
            "description": "The ConfigureBroker fields (defaults filled in, secrets left out) "
            "and Status.",
            "properties": {
                "BrokerId": {"type": "string"},
                "Kind": {"enum": ["paper", "ibkr"]},
                "Name": {"type": "string"},
                "Enabled": {"type": "boolean"},
                "Status": {
                    "type": "object",
                    "properties": {
                        "Connected": {
                            "type": ["boolean", "null"],
                            "description": "Always true for paper; null when not known.",
                        }
                    },
                },
            },
        },
        "BrokerList": {
            "type": "object",
            "properties": {
                "brokers": {"type": "array", "items": {"$ref": "#/components/schemas/Broker"}}
            },
        },
        "Alert": {
            "type": "object",
            "description": "The ConfigureIndicatorAlert / ConfigureStrategyAlert fields (Kind "
            "indicator or strategy), WebhookToken, WebhookUrl and TradingViewMessage.",
            "properties": {
                "AlertId": {"type": "string"},
                "Kind": {"enum": ["indicator", "strategy"]},
                "WebhookToken": {"type": "string"},
                "WebhookUrl": {"type": "string", "format": "uri"},
                "TradingViewMessage": {"type": "string"},
            },
        },
        "AlertList": {
            "type": "object",
            "properties": {
                "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}
            },
        },
        "PaperAccount": {
            "type": "object",
            "properties": {
                "broker_id": {"type": "string"},
                "starting_cash": {"type": "number"},
                "cash": {"type": "number"},
                "equity": {"type": "number"},
                "realized_pnl": {"type": "number"},
                "unrealized_pnl": {"type": "number"},
                "commissions_paid": {"type": "number"},
                "positions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "symbol": {"type": "string"},
                            "quantity": {"type": "number"},
                            "avg_cost": {"type": "number"},
                            "last_price": {"type": ["number", "null"]},
                            "market_value": {"type": "number"},
                            "unrealized_pnl": {"type": "number"},
                        },
                    },
                },
                "open_orders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "order_id": {"type": "string"},
                            "symbol": {"type": "string"},
                            "side": {"enum": ["buy", "sell"]},
                            "quantity": {"type": "number"},
                            "limit_price": {"type": "number"},
                            "placed_at": {"type": "string", "format": "date-time"},
                            "expires_at": {"type": ["string", "null"], "format": "date-time"},
                        },
                    },
                },
            },
        },
        "SchemaListing": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "versions": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def route_operations(routes: Sequence[BaseRoute]) -> set[tuple[str, str]]:
    return {
        (route.path, method.lower())
        for route in routes
        if isinstance(route, Route) and route.include_in_schema
        for method in (route.methods or ())
        if method != "HEAD"
    }


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method in sorted(route_operations(routes)):
        paths.setdefault(path, {})[method] = OPERATIONS[(path, method)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Self-hosted BaaS trading gateway",
            "version": "1.0",
            "description": "A drop-in, self-hosted BaaS command API: CloudEvents in, an event "
            "log out.",
        },
        "paths": paths,
        "components": COMPONENTS,
    }
