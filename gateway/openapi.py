"""The OpenAPI 3.1 description of every route; a test keeps it in step with the routing table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Route

PROBLEM = {"$ref": "#/components/schemas/Problem"}
TENANT_PARAM = {
    "name": "tenantId",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Your Tenant ID.",
}
API_KEY = [{"ApiKey": []}]


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": PROBLEM}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return response


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
        "400": _error("Malformed JSON or CloudEvent envelope."),
        "401": _UNAUTHORIZED,
        "403": _error("The key is not valid for this tenant, or data.TenantId does not match."),
        "413": _error("Body over the size limit."),
        "415": _error("Unsupported content type."),
        "422": _error("The data does not match the command's schema; every error with its path."),
        "429": _LIMITED,
        "503": _error("The store is unavailable; nothing was written.", retry_after=True),
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
}

COMPONENTS = {
    "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "schemas": {
        "Problem": {
            "type": "object",
            "required": ["detail", "errors"],
            "properties": {
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
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
        if isinstance(route, Route)
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
