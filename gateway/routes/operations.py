"""For operators: liveness, readiness and Prometheus metrics. Not rate limited."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.services import services


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    app_services = services(request)
    try:
        await asyncio.wait_for(
            app_services.store.ping(), app_services.settings.store_timeout_seconds
        )
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": f"the store does not answer: {type(exc).__name__}"},
            503,
            headers={"Retry-After": str(app_services.settings.unavailable_retry_after_seconds)},
        )
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    registry = services(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
