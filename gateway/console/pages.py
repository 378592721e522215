"""The console's pages and forms. Every handler is scoped to the session's tenant: ids in URLs
are looked up in that tenant's records only, so another tenant's id is a 404."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from redis.exceptions import RedisError, ResponseError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from baas.core.events import format_time
from baas.core.problems import Problem
from baas.core.trading.paper import PaperAccount, PaperSettings
from baas.core.trading.readmodel import (
    ACCOUNTS,
    ALERTS,
    BROKERS,
    DEFAULT_BROKER_ID,
    DEFAULT_PAPER_BROKER,
)
from baas.core.trading.readmodel import SIGNALS as SIGNAL_RECORDS
from baas.store.capped import TooManyKeys
from baas.store.ratelimits import Limited
from gateway.console import views
from gateway.console.commands import append_command, new_event_id
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
    svc = services(request)
    if await find_session(svc, request.cookies.get(SESSION_COOKIE, "")):
        return redirect("/console/")
    if request.method == "GET":
        return _sign_in_form(request)
    try:
        form = await read_form(request)
        check_csrf(form.get(CSRF_FIELD), request.cookies.get(SIGN_IN_COOKIE))
        owner = await key_owner(svc, request_ip(request), form.get("api_key", "").strip())
        session = await open_session(svc, owner.tenant_id, owner.key_id)
    except Limited as limited:
        problem = too_many(request, limited)
        return _sign_in_form(request, 429, problem.detail, problem.headers)
    except Problem as problem:
        if problem.status == 401:
            return _sign_in_form(request, 401, problem.detail)
        return error_page(request, problem, None)
    response = redirect("/console/")
    set_cookie(
        request, response, SESSION_COOKIE, session.session_id, svc.settings.console_session_seconds
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
    svc = services(request)
    tenant_id = session.tenant_id
    signals = await svc.trading.signal_page(tenant_id, None, LAST_SIGNALS, lambda _: True)
    return render(
        request,
        "overview.html",
        session=session,
        brokers=await _brokers(request, tenant_id),
        signals=[views.signal_row(s) for s in signals.signals],
        health=await _health(svc, tenant_id),
        poll_ms=round(svc.settings.console_poll_seconds * 1000),
    )


async def _brokers(request: Request, tenant_id: str) -> list[dict[str, Any]]:
    """Each broker as the API shows it; a paper broker with its account."""
    svc = services(request)
    records = await svc.trading.records(tenant_id, BROKERS)
    records.setdefault(DEFAULT_BROKER_ID, DEFAULT_PAPER_BROKER)
    shown = []
    for broker_id in sorted(records):
        record = records[broker_id]
        connections = await svc.trading.broker_connections(tenant_id, broker_id)
        view = reads._broker_view(record, connections)
        if view is None:
            continue
        view.setdefault("BrokerId", broker_id)
        if record.get("Kind") == "paper":
            view["Account"] = await _paper_view(request, tenant_id, broker_id, record)
        shown.append(view)
    return shown


async def _health(svc: Services, tenant_id: str) -> dict[str, Any]:
    """Store reachable; the workers' consumer group on the tenant's log: consumers seen within
    BAAS_WORKER_CLAIM_IDLE_SECONDS (alive), entries not yet read (lag), pending entries and the
    oldest one's age."""
    await svc.store.ping()
    stream = svc.keyspace.tenant_log(tenant_id)
    health: dict[str, Any] = {"store": True, "workers": 0, "lag": None, "pending": 0}
    try:
        groups = await svc.store.xinfo_groups(stream)
    except ResponseError:  # no log yet: nothing was ever sent
        return health
    group = next((g for g in groups if _text(g.get("name")) == COMMANDS_GROUP), None)
    if group is None:
        return health
    consumers = await svc.store.xinfo_consumers(stream, COMMANDS_GROUP)
    alive_ms = svc.settings.worker_claim_idle_seconds * 1000
    health["workers"] = sum(1 for c in consumers if int(c.get("idle", 0)) <= alive_ms)
    health["lag"] = group.get("lag")
    health["pending"] = int(group.get("pending", 0))
    if health["pending"]:
        oldest = _text(group.get("last-delivered-id") or "")
        summary = await svc.store.xpending(stream, COMMANDS_GROUP)
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
    svc = services(request)
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
        found = await svc.trading.signal_page(
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
        poll_ms=round(svc.settings.console_poll_seconds * 1000),
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
    svc = services(request)
    name = request.state.form.get("name", "").strip()[:100]
    try:
        issued = await svc.tenants.create_key(
            session.tenant_id, name, limit=svc.settings.max_api_keys_per_tenant
        )
    except TooManyKeys:
        error = (
            f"This tenant has {svc.settings.max_api_keys_per_tenant} active keys, the most "
            "allowed (BAAS_MAX_API_KEYS_PER_TENANT): revoke one first."
        )
        return await _keys_page(request, session, 409, error=error)
    return await _keys_page(request, session, 201, new_key=issued.api_key)


@page
async def revoke_key(request: Request, session: ConsoleSession) -> Response:
    key_id = request.path_params["keyId"]
    if await services(request).tenants.revoke_key(session.tenant_id, key_id) is None:
        raise Problem(404, f"No key {key_id}.")
    return redirect("/console/keys")


# Alerts

ALERT_KINDS = {
    "indicator": ("ConfigureIndicatorAlert", "configure-indicator-alert"),
    "strategy": ("ConfigureStrategyAlert", "configure-strategy-alert"),
}


def _alert_schema(request: Request, kind: str) -> dict[str, Any]:
    if kind not in ALERT_KINDS:
        raise Problem(404, f"No alert kind {kind}: indicator or strategy.")
    return _schema(request, ALERT_KINDS[kind][1])


@page
async def alerts(request: Request, session: ConsoleSession) -> Response:
    svc = services(request)
    records = await svc.trading.records(session.tenant_id, ALERTS)
    return render(
        request,
        "alerts.html",
        session=session,
        alerts=[reads._present(records[k]) for k in sorted(records)],
        sent=request.query_params.get("sent"),
    )


@page
async def new_alert(request: Request, session: ConsoleSession) -> Response:
    kind = request.query_params.get("kind", "indicator")
    return _alert_form(request, session, kind, None)


def _alert_form(
    request: Request,
    session: ConsoleSession,
    kind: str,
    alert: dict[str, Any] | None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """The new-alert page (``alert`` None) or an alert's page, with the form's errors."""
    fields = views.schema_fields(_alert_schema(request, kind))
    form = getattr(request.state, "form", None) or {}
    return render(
        request,
        "alert.html" if alert else "alert_new.html",
        status,
        session=session,
        kind=kind,
        alert=alert,
        fields=fields,
        values=form if errors else {},
        errors=errors or {},
        event_id=new_event_id(),
        **context,
    )


@page
async def create_alert(request: Request, session: ConsoleSession) -> Response:
    form = request.state.form
    kind = form.get("kind", "")
    data = views.form_data(_alert_schema(request, kind), form)
    data["AlertId"] = form.get("AlertId", "").strip()
    try:
        await append_command(request, session, ALERT_KINDS[kind][0], data)
    except Problem as problem:
        if problem.status not in (400, 422) or not problem.errors:
            raise
        return _alert_form(
            request, session, kind, None, problem.status, views.field_errors(problem.errors)
        )
    return redirect(f"/console/alerts?{urlencode({'sent': data['AlertId']})}")


async def _own_alert(request: Request, session: ConsoleSession) -> dict[str, Any]:
    """The signed-in tenant's alert named in the path, as the API shows it; else 404."""
    svc = services(request)
    alert_id = request.path_params["alertId"]
    alert = await svc.trading.alert(session.tenant_id, alert_id)
    if alert is None:
        raise Problem(404, f"No alert {alert_id}.")
    return reads._alert_view(svc.settings, session.tenant_id, alert)


@page
async def alert(request: Request, session: ConsoleSession) -> Response:
    shown = await _own_alert(request, session)
    return _alert_form(
        request, session, shown.get("Kind", "indicator"), shown, sent=request.query_params
    )


@page
async def update_alert(request: Request, session: ConsoleSession) -> Response:
    """Edit, enable/disable or rotate the token: a Configure…Alert with the fields sent."""
    shown = await _own_alert(request, session)
    kind = shown.get("Kind", "indicator")
    data = views.form_data(_alert_schema(request, kind), request.state.form)
    data["AlertId"] = shown["AlertId"]
    try:
        await append_command(request, session, ALERT_KINDS[kind][0], data)
    except Problem as problem:
        if problem.status not in (400, 422) or not problem.errors:
            raise
        errors = views.field_errors(problem.errors)
        return _alert_form(request, session, kind, shown, problem.status, errors)
    return redirect(f"{request.url.path}?{urlencode({'sent': 'configuration'})}")


@page
async def test_alert(request: Request, session: ConsoleSession) -> Response:
    """Post the alert's message, filled in as TradingView would, to its webhook URL through
    the gateway itself: the whole path (token, limits, admission, log) runs."""
    svc = services(request)
    shown = await _own_alert(request, session)
    form = request.state.form
    message = views.test_message(
        shown["TradingViewMessage"],
        form.get("ticker", "").strip() or str(shown.get("Symbol") or ""),
        form.get("price", "").strip(),
        format_time(datetime.now(UTC)),
    )
    status, body = await _post_webhook(
        request, shown["WebhookUrl"][len(svc.settings.base_url) :], message.encode()
    )
    answer = {"status": str(status), "message": message, "answer": body.decode("utf-8", "replace")}
    return _alert_form(request, session, shown.get("Kind", "indicator"), shown, tested=answer)


async def _post_webhook(request: Request, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` as text/plain to ``path`` of this gateway, in process, from the client's
    address (and its proxy's X-Forwarded-For)."""
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    headers += [(k, v) for k, v in request.scope["headers"] if k == b"x-forwarded-for"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": request.url.scheme,
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
    }
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    answer: dict[str, Any] = {"status": 500, "body": b""}

    async def receive() -> Message:
        return sent.pop() if sent else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await request.app(scope, receive, send)
    return answer["status"], answer["body"]


# Brokers


@page
async def brokers(request: Request, session: ConsoleSession) -> Response:
    return await _brokers_page(request, session)


async def _brokers_page(
    request: Request,
    session: ConsoleSession,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "brokers.html",
        status,
        session=session,
        brokers=await _brokers(request, session.tenant_id),
        fields=views.schema_fields(_schema(request, "configure-broker")),
        values=(getattr(request.state, "form", None) or {}) if errors else {},
        errors=errors or {},
        event_id=new_event_id(),
        sent=request.query_params.get("sent"),
    )


def _schema(request: Request, name: str) -> dict[str, Any]:
    return dict(services(request).catalog.latest(name).document)


@page
async def configure_broker(request: Request, session: ConsoleSession) -> Response:
    data = views.form_data(_schema(request, "configure-broker"), request.state.form)
    try:
        await append_command(request, session, "ConfigureBroker", data)
    except Problem as problem:
        if problem.status not in (400, 422) or not problem.errors:
            raise
        return await _brokers_page(
            request, session, problem.status, views.field_errors(problem.errors)
        )
    return redirect(f"/console/brokers?{urlencode({'sent': data.get('BrokerId', '')})}")


@page
async def remove_broker(request: Request, session: ConsoleSession) -> Response:
    broker_id = request.path_params["brokerId"]
    if await reads._broker(request, session.tenant_id, broker_id) is None:
        raise Problem(404, f"No broker {broker_id}.")
    await append_command(request, session, "RemoveBroker", {"BrokerId": broker_id})
    return redirect(f"/console/brokers?{urlencode({'sent': broker_id})}")


# Paper accounts


@page
async def paper_account(request: Request, session: ConsoleSession) -> Response:
    broker_id = request.path_params["brokerId"]
    broker = await reads._broker(request, session.tenant_id, broker_id)
    if broker is None or broker.get("Kind") != "paper":
        raise Problem(404, f"No paper broker {broker_id}.")
    return render(
        request,
        "paper.html",
        session=session,
        account=await _paper_view(request, session.tenant_id, broker_id, broker),
    )


async def _paper_view(
    request: Request, tenant_id: str, broker_id: str, broker: dict[str, Any]
) -> dict[str, Any]:
    """The paper account as GET …/api/paper/{brokerId} answers it."""
    raw = await services(request).trading.record_of(tenant_id, ACCOUNTS, broker_id)
    settings = PaperSettings.from_config({"StartingCash": broker.get("StartingCash")})
    account = PaperAccount.from_dict(raw) if raw else PaperAccount.open(settings)
    return reads._account_view(broker_id, settings, account)
