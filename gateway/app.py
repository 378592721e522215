"""The Starlette application: routes, error handlers, metrics, and the lifespan that opens the
store.

One route has a lane of its own: ``POST``/``PUT /tenants/{tenantId}/api/trading``, every
command's way in. ``GatewayApp`` hands it straight to its ASGI app instead of passing it through
the middleware stack and the router (about a fifth of the route's cost in Python, measured with
``python -m bench ingress``); the lane records the same metrics and answers errors with the
same handlers. Every other request takes Starlette's usual path.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from baas.bootstrap import GatewayConfig, gateway_services
from baas.schema_files import load_catalog
from baas.settings import Settings
from gateway import openapi
from gateway.client_ip import parse_networks
from gateway.console import CONSOLE
from gateway.errors import HANDLERS, error_response
from gateway.ledger import LEDGER_ROUTES
from gateway.metrics import GatewayMetrics, MetricsMiddleware
from gateway.routes import operations, reads, schemas, trading, webhooks

TENANT = "/tenants/{tenantId}"


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.document(request.app.routes))


WRITE_ROUTE = Route(f"{TENANT}/api/trading", trading.SubmitCommand(), methods=["POST", "PUT"])
ROUTES = [
    WRITE_ROUTE,
    Route(f"{TENANT}/api/trading/schemas", schemas.tenant_schemas, methods=["GET"]),
    Route(
        f"{TENANT}/api/trading/schemas/{{name}}/{{version}}", schemas.tenant_schema, methods=["GET"]
    ),
    Route(f"{TENANT}/api/signals", reads.list_signals, methods=["GET"]),
    Route(f"{TENANT}/api/signals/{{signalId}}", reads.get_signal, methods=["GET"]),
    Route(f"{TENANT}/api/brokers", reads.list_brokers, methods=["GET"]),
    Route(f"{TENANT}/api/brokers/{{brokerId}}", reads.get_broker, methods=["GET"]),
    Route(f"{TENANT}/api/alerts", reads.list_alerts, methods=["GET"]),
    Route(f"{TENANT}/api/alerts/{{alertId}}", reads.get_alert, methods=["GET"]),
    Route(f"{TENANT}/api/paper/{{brokerId}}", reads.get_paper_account, methods=["GET"]),
    Route(
        f"{TENANT}/webhooks/tradingview/{{alertId}}/{{token}}",
        webhooks.tradingview,
        methods=["POST"],
    ),
    Route("/schemas", schemas.public_schemas, methods=["GET"]),
    Route("/schemas/{name}/{version}", schemas.public_schema, methods=["GET"]),
    Route("/healthz", operations.healthz, methods=["GET"]),
    Route("/readyz", operations.readyz, methods=["GET"]),
    Route("/metrics", operations.metrics, methods=["GET"]),
    Route("/openapi.json", openapi_document, methods=["GET"]),
    *LEDGER_ROUTES,
    CONSOLE,
    Route("/", lambda _: RedirectResponse("/console/"), methods=["GET"], include_in_schema=False),
]


def write_path_tenant(path: str) -> str | None:
    """The tenant of a ``/tenants/{tenantId}/api/trading`` path (as the route matches it)."""
    if path.startswith("/tenants/") and path.endswith("/api/trading"):
        tenant_id = path[9:-12]
        if tenant_id and "/" not in tenant_id:
            return tenant_id
    return None


class GatewayApp(Starlette):
    def __init__(self, metrics: GatewayMetrics, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_ROUTE.methods:
            tenant_id = write_path_tenant(scope["path"])
            if tenant_id is not None:
                await self._write(scope, receive, send, tenant_id)
                return
        await super().__call__(scope, receive, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send, tenant_id: str) -> None:
        started = time.perf_counter()
        scope["app"] = self
        scope["route"] = WRITE_ROUTE
        scope["path_params"] = {"tenantId": tenant_id}
        try:
            await WRITE_ROUTE.app(scope, receive, send)
            status = 202
        except ClientDisconnect:
            return  # nobody to answer; nothing was written
        except Exception as exc:
            response = await error_response(Request(scope, receive), exc)
            status = response.status_code
            await response(scope, receive, send)
        self.metrics.record(
            scope["method"], WRITE_ROUTE.path, status, time.perf_counter() - started
        )


def create_app(settings: Settings | None = None) -> GatewayApp:
    settings = settings or Settings.from_env()
    config = GatewayConfig(
        settings=settings,
        catalog=load_catalog(settings.schemas_dir),
        metrics=GatewayMetrics(),
        trusted_proxies=parse_networks(settings.trusted_proxies),
        tradingview_networks=webhooks.allowed_networks(settings),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with gateway_services(config) as services:
            app.state.services = services
            yield

    return GatewayApp(
        config.metrics,
        routes=ROUTES,
        exception_handlers=HANDLERS,
        middleware=[Middleware(MetricsMiddleware, metrics=config.metrics)],
        lifespan=lifespan,
    )
