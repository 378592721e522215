"""Every error the gateway answers is JSON: ``{"detail": ..., "errors": [...]}``."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError, ResponseError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from baas.core.problems import Problem
from baas.store.connection import load_functions
from baas.store.eventlog import OutcomeUnknown
from baas.store.ratelimits import Limited
from gateway.services import services

log = logging.getLogger("baas.gateway")

TOO_MANY = "Too Many Requests: rate limit exceeded. Wait the number of seconds in Retry-After."
NOTHING_WRITTEN = "The event store is unavailable; nothing was written. Retry later."
OUTCOME_UNKNOWN = (
    "The event store did not answer (a time-out or a lost connection): the outcome is unknown. "
    "Send the same event again (the same id): it will not act twice."
)


def problem_response(problem: Problem) -> Response:
    return JSONResponse(problem.body(), problem.status, headers=problem.headers or None)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def on_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Limited)
    services(request).metrics.limited[exc.limiter.value] += 1
    return problem_response(Problem(429, TOO_MANY, headers={"Retry-After": str(exc.retry_after)}))


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(Problem(exc.status_code, exc.detail, headers=dict(exc.headers or {})))


_reloads: set[asyncio.Task[None]] = set()


async def on_store_error(request: Request, exc: Exception) -> Response:
    app_services = services(request)
    if isinstance(exc, ResponseError) and "function not found" in str(exc).lower():
        # The store restarted without its functions (a server that keeps nothing on disk).
        task = asyncio.create_task(load_functions(app_services.store))
        _reloads.add(task)
        task.add_done_callback(_reloads.discard)
    log.warning("store unavailable", extra={"error": type(exc).__name__, "reason": str(exc)})
    return _unavailable(request, NOTHING_WRITTEN)


async def on_outcome_unknown(request: Request, exc: Exception) -> Response:
    cause = exc.__cause__
    log.warning("store did not answer a write", extra={"error": type(cause).__name__})
    return _unavailable(request, OUTCOME_UNKNOWN)


def _unavailable(request: Request, detail: str) -> Response:
    retry = str(services(request).settings.unavailable_retry_after_seconds)
    return problem_response(Problem(503, detail, headers={"Retry-After": retry}))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # The route's template, not the path: a webhook path carries its secret token.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.exception("unhandled error", extra={"route": route})
    return problem_response(Problem(500, "Internal server error."))


HANDLERS = {
    Problem: on_problem,
    Limited: on_limited,
    HTTPException: on_http_exception,
    OutcomeUnknown: on_outcome_unknown,
    RedisError: on_store_error,
    OSError: on_store_error,
    Exception: on_unexpected,
}


async def error_response(request: Request, exc: Exception) -> Response:
    """The answer of the app's handlers to ``exc`` (for the write lane, which skips the
    middleware that calls them on other routes)."""
    for cls in type(exc).__mro__:
        handler = HANDLERS.get(cls)
        if handler is not None:
            return await handler(request, exc)
    raise exc
