"""The Starlette application: routes, error handlers, metrics, and the lifespan that opens the
store."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from baas.core.keyspace import Keyspace
from baas.schema_files import load_catalog
from baas.settings import Settings
from baas.store.connection import load_functions, open_store, store_url
from baas.store.eventlog import EventLog
from baas.store.multiplexed import MultiplexedConnection
from baas.store.ratelimits import RateLimits
from baas.store.tenants import TenantRegistry
from baas.store.trading import TradingStore
from gateway import openapi
from gateway.client_ip import parse_networks
from gateway.errors import HANDLERS
from gateway.ledger import LEDGER_ROUTES
from gateway.metrics import GatewayMetrics, MetricsMiddleware
from gateway.routes import operations, reads, schemas, trading, webhooks
from gateway.services import Services

TENANT = "/tenants/{tenantId}"
log = logging.getLogger("baas.gateway")


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.document(request.app.routes))


ROUTES = [
    Route(f"{TENANT}/api/trading", trading.submit_command, methods=["POST", "PUT"]),
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
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    metrics = GatewayMetrics()
    proxies = parse_networks(settings.trusted_proxies)
    catalog = load_catalog(settings.schemas_dir)
    tradingview_networks = webhooks.allowed_networks(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = store_url(settings)
        store = open_store(url, settings)
        pipelined = MultiplexedConnection(url, settings.store_timeout_seconds)
        try:
            await load_functions(store)
        except (RedisError, OSError) as exc:
            # Serve anyway: requests get 503 (and /readyz says so) until the store answers.
            log.warning("store not reachable at start", extra={"error": type(exc).__name__})
        keyspace = Keyspace(settings.key_prefix)
        limits = RateLimits(pipelined, keyspace, settings)
        app.state.services = Services(
            settings=settings,
            store=store,
            pipelined=pipelined,
            keyspace=keyspace,
            tenants=TenantRegistry(store, keyspace),
            limits=limits,
            log=EventLog(pipelined, keyspace, limits, settings.idempotency_retention_seconds),
            catalog=catalog,
            metrics=metrics,
            trusted_proxies=proxies,
            trading=TradingStore(store, keyspace),
            webhook_log=webhooks.webhook_log(pipelined, keyspace, limits, settings),
            tradingview_networks=tradingview_networks,
        )
        try:
            yield
        finally:
            await pipelined.close()
            await store.aclose()

    return Starlette(
        routes=ROUTES,
        exception_handlers=HANDLERS,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        lifespan=lifespan,
    )
