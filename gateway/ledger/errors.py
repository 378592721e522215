"""Errors of the ledger API: always JSON, always ``{"detail": "..."}`` (the ledger spec's shape).

The gateway's own handlers answer ``{"detail", "errors"}``; the ledger's endpoints (``/api/v1/…``
and ``/strategies/{id}/api-keys``) are wrapped by ``ledger_endpoint`` instead, which renders
every error they raise (a guard's Problem, a rate limit, a store outage, a bug) in the ledger's
shape.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import orjson
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from baas.core.problems import Problem
from baas.store.ratelimits import Limited, Limiter
from gateway.errors import on_store_error
from gateway.services import services

log = logging.getLogger("baas.gateway")

JSON = "application/json"
Endpoint = Callable[[Request], Awaitable[Response]]


class LedgerError(Exception):
    """An answer other than success; ``errors``: the (path, message) of each field at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors or []


def invalid(path: str, message: str) -> LedgerError:
    """A 422 for one field (``path`` "" for the body as a whole)."""
    shown = f"{path}: {message}" if path else message
    return LedgerError(422, f"Validation failed: {shown}", errors=[(path or "body", message)])


def detail_response(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> Response:
    body: dict[str, object] = {"detail": detail}
    if errors:  # the spec's body has only "detail"; the fields at fault are added beside it
        body["errors"] = [{"path": path, "message": message} for path, message in errors]
    return Response(orjson.dumps(body), status, headers=headers or None, media_type=JSON)


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=JSON)


def seconds(value: float) -> str:
    """60.0 → "60", 0.5 → "0.5" (for messages built from settings)."""
    return f"{value:g}"


def limited_detail(request: Request, exc: Limited) -> str:
    s = services(request).settings
    if exc.limiter is Limiter.AUTH_FAILURE:
        return (
            f"Too many failed authentications from this address: more than "
            f"{s.auth_failure_limit} per {seconds(s.auth_failure_window_seconds)}s"
        )
    if exc.limiter is Limiter.TENANT:
        return (
            f"Rate limit exceeded: {s.tenant_write_limit} writes per "
            f"{seconds(s.tenant_write_window_seconds)}s for this tenant"
        )
    return (
        f"Rate limit exceeded: {s.ip_limit} requests per {seconds(s.ip_window_seconds)}s "
        "from this address"
    )


def ledger_endpoint(handler: Endpoint) -> Endpoint:
    """Render whatever ``handler`` raises as ``{"detail": ...}`` with the right status."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except LedgerError as exc:
            return detail_response(exc.status, exc.detail, exc.headers, exc.errors)
        except Problem as exc:
            errors = [(error.path, error.message) for error in exc.errors]
            return detail_response(exc.status, exc.detail, exc.headers, errors)
        except Limited as exc:
            services(request).metrics.limited[exc.limiter.value] += 1
            return detail_response(
                429, limited_detail(request, exc), {"Retry-After": str(exc.retry_after)}
            )
        except HTTPException as exc:
            return detail_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))
        except (RedisError, OSError) as exc:
            # The gateway's handler logs, reloads the functions if the store lost them, and sets
            # Retry-After; only the body's shape differs.
            answer = await on_store_error(request, exc)
            detail = orjson.loads(answer.body)["detail"]
            retry = answer.headers.get("retry-after")
            return detail_response(
                answer.status_code, detail, {"Retry-After": retry} if retry else None
            )
        except Exception:
            log.exception("unhandled error", extra={"path": request.url.path})
            return detail_response(500, "Internal server error.")

    return endpoint
