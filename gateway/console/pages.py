"""The console's pages and forms. Every handler is scoped to the session's tenant: ids in URLs
are looked up in that tenant's records only, so another tenant's id is a 404."""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import RedisError, ResponseError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from baas.core.problems import Problem
from baas.core.trading.readmodel import SIGNALS as SIGNAL_RECORDS
from baas.store.capped import TooManyKeys
from baas.store.ratelimits import Limited
from gateway.console import views
from gateway.console.brokers import broker_views
from gateway.console.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    check_csrf,
    drop_cookie,
    new_token,
    set_cookie,
)
from gateway.console.sessions import ConsoleSession, close_session, find_session, open_session
from gateway.console.shell import (
    SIGN_IN,
    STORE_AWAY,
    error_page,
    page,
    read_form,
    redirect,
    render,
    too_many,
)
from gateway.guard import key_owner, request_ip
from gateway.routes import reads
from gateway.services import Services, services
from workers.consumer import COMMANDS_GROUP

LAST_SIGNALS = 20


# Signing in and out


async def sign_in(request: Request) -> Response:
    try:
        return await _sign_in(request)
    except (RedisError, OSError):
        return error_page(request, Problem(503, STORE_AWAY), None)


async def _sign_in(request: Request) -> Response:
    app_services = services(request)
    if await find_session(app_services, request.cookies.get(SESSION_COOKIE, "")):
        return redirect("/console/")
    if request.method == "GET":
        return _sign_in_form(request)
    try:
        form = await read_form(request)
        check_csrf(form.get(CSRF_FIELD), request.cookies.get(SIGN_IN_COOKIE))
        owner = await key_owner(app_services, request_ip(request), form.get("api_key", "").strip())
        session = await open_session(app_services, owner.tenant_id, owner.key_id)
    except Limited as limited:
        problem = too_many(request, limited)
        return _sign_in_form(request, 429, problem.detail, problem.headers)
    except Problem as problem:
        if problem.status == 401:
            return _sign_in_form(request, 401, problem.detail)
        return error_page(request, problem, None)
    response = redirect("/console/")
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        session.session_id,
        app_services.settings.console_session_seconds,
    )
    drop_cookie(request, response, SIGN_IN_COOKIE)
    return response


def _sign_in_form(
    request: Request,
    status: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    token = new_token()
    response = render(request, "sign_in.html", status, headers, csrf=token, error=error)
    set_cookie(request, response, SIGN_IN_COOKIE, token, None)
    return response


@page
async def sign_out(request: Request, session: ConsoleSession) -> Response:
    await close_session(services(request), session.session_id)
    response = redirect(SIGN_IN)
    drop_cookie(request, response, SESSION_COOKIE)
    return response


# Overview


@page
async def overview(request: Request, session: ConsoleSession) -> Response:
    app_services = services(request)
    tenant_id = session.tenant_id
    signals = await app_services.trading.signal_page(tenant_id, None, LAST_SIGNALS, lambda _: True)
    return render(
        request,
        "overview.html",
        session=session,
        brokers=await broker_views(request, tenant_id),
        signals=[views.signal_row(s) for s in signals.signals],
        health=await _health(app_services, tenant_id),
        poll_ms=round(app_services.settings.console_poll_seconds * 1000),
    )


async def _health(app_services: Services, tenant_id: str) -> dict[str, Any]:
    """Store reachable; the workers' consumer group on the tenant's log: consumers seen within
    BAAS_WORKER_CLAIM_IDLE_SECONDS (alive), entries not yet read (lag), pending entries and the
    oldest one's age."""
    await app_services.store.ping()
    stream = app_services.keyspace.tenant_log(tenant_id)
    health: dict[str, Any] = {"store": True, "workers": 0, "lag": None, "pending": 0}
    try:
        groups = await app_services.store.xinfo_groups(stream)
    except ResponseError:  # no log yet: nothing was ever sent
        return health
    group = next((g for g in groups if _text(g.get("name")) == COMMANDS_GROUP), None)
    if group is None:
        return health
    consumers = await app_services.store.xinfo_consumers(stream, COMMANDS_GROUP)
    alive_ms = app_services.settings.worker_claim_idle_seconds * 1000
    health["workers"] = sum(1 for c in consumers if int(c.get("idle", 0)) <= alive_ms)
    health["lag"] = group.get("lag")
    health["pending"] = int(group.get("pending", 0))
    if health["pending"]:
        oldest = _text(group.get("last-delivered-id") or "")
        summary = await app_services.store.xpending(stream, COMMANDS_GROUP)
        oldest = _text(summary.get("min") or oldest)
        health["oldest_pending_seconds"] = max(
            0, round(time.time() - int(oldest.partition("-")[0]) / 1000)
        )
    return health


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# Signals


@page
async def signals(request: Request, session: ConsoleSession) -> Response:
    app_services = services(request)
    filters = {k: request.query_params.get(k, "").strip() for k in views.FILTERS}
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    next_link = None
    try:
        query = reads.SignalQuery.parse(request.query_params)
    except Problem as problem:
        errors = views.field_errors(problem.errors)
        status = 400
    else:
        found = await app_services.trading.signal_page(
            session.tenant_id, query.cursor, query.limit, query.keep()
        )
        rows = [views.signal_row(s) for s in found.signals]
        next_link = views.page_link({k: v for k, v in filters.items() if v}, found.next_cursor)
        status = 200
    return render(
        request,
        "signals.html",
        status,
        session=session,
        signals=rows,
        filters=filters,
        errors=errors,
        statuses=reads.STATUSES,
        next_link=next_link,
        live_url=views.live_link(filters, request.query_params.get("cursor")),
        poll_ms=round(app_services.settings.console_poll_seconds * 1000),
    )


@page
async def signal(request: Request, session: ConsoleSession) -> Response:
    signal_id = request.path_params["signalId"]
    record = await services(request).trading.record_of(session.tenant_id, SIGNAL_RECORDS, signal_id)
    if record is None:
        raise Problem(404, f"No signal {signal_id}.")
    return render(
        request,
        "signal.html",
        session=session,
        signal=reads._present(record),
        row=views.signal_row(record),
        timeline=views.timeline(record.get("History", [])),
    )


@page
async def latest_signals(request: Request, session: ConsoleSession) -> Response:
    """The live updates' source: the first page of the signals (with the page's filters),
    newest first, as the tables show them."""
    try:
        query = reads.SignalQuery.parse(request.query_params)
    except Problem as problem:
        return JSONResponse(problem.body(), problem.status)
    found = await services(request).trading.signal_page(
        session.tenant_id, None, min(query.limit, LAST_SIGNALS), query.keep()
    )
    return JSONResponse({"signals": [views.signal_row(s) for s in found.signals]})


# API keys


@page
async def keys(request: Request, session: ConsoleSession) -> Response:
    return await _keys_page(request, session)


async def _keys_page(
    request: Request,
    session: ConsoleSession,
    status: int = 200,
    new_key: str | None = None,
    error: str | None = None,
) -> Response:
    listed = await services(request).tenants.list_keys(session.tenant_id)
    return render(
        request,
        "keys.html",
        status,
        session=session,
        keys=listed,
        new_key=new_key,
        error=error,
    )


@page
async def create_key(request: Request, session: ConsoleSession) -> Response:
    app_services = services(request)
    name = request.state.form.get("name", "").strip()[:100]
    try:
        issued = await app_services.tenants.create_key(
            session.tenant_id, name, limit=app_services.settings.max_api_keys_per_tenant
        )
    except TooManyKeys:
        error = (
            f"This tenant has {app_services.settings.max_api_keys_per_tenant} active keys, "
            "the most allowed (BAAS_MAX_API_KEYS_PER_TENANT): revoke one first."
        )
        return await _keys_page(request, session, 409, error=error)
    return await _keys_page(request, session, 201, new_key=issued.api_key)


@page
async def revoke_key(request: Request, session: ConsoleSession) -> Response:
    key_id = request.path_params["keyId"]
    if await services(request).tenants.revoke_key(session.tenant_id, key_id) is None:
        raise Problem(404, f"No key {key_id}.")
    return redirect("/console/keys")
