"""Alerts in the console: each change a Configure…Alert through the API's write path, and a test
alert posted through the TradingView webhook path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from baas.core.event_time import format_time
from baas.core.problems import Problem
from baas.core.trading.readmodel import ALERTS
from gateway.console import views
from gateway.console.commands import append_command, command_schema, new_event_id
from gateway.console.sessions import ConsoleSession
from gateway.console.shell import page, redirect, render
from gateway.routes import reads
from gateway.services import services

# Alerts

ALERT_KINDS = {
    "indicator": ("ConfigureIndicatorAlert", "configure-indicator-alert"),
    "strategy": ("ConfigureStrategyAlert", "configure-strategy-alert"),
}


def _alert_schema(request: Request, kind: str) -> dict[str, Any]:
    if kind not in ALERT_KINDS:
        raise Problem(404, f"No alert kind {kind}: indicator or strategy.")
    return command_schema(request, ALERT_KINDS[kind][1])


@page
async def alerts(request: Request, session: ConsoleSession) -> Response:
    app_services = services(request)
    records = await app_services.trading.records(session.tenant_id, ALERTS)
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
    app_services = services(request)
    alert_id = request.path_params["alertId"]
    alert = await app_services.trading.alert(session.tenant_id, alert_id)
    if alert is None:
        raise Problem(404, f"No alert {alert_id}.")
    return reads._alert_view(app_services.settings, session.tenant_id, alert)


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
    app_services = services(request)
    shown = await _own_alert(request, session)
    form = request.state.form
    message = views.test_message(
        shown["TradingViewMessage"],
        form.get("ticker", "").strip() or str(shown.get("Symbol") or ""),
        form.get("price", "").strip(),
        format_time(datetime.now(UTC)),
    )
    status, body = await _post_webhook(
        request, shown["WebhookUrl"][len(app_services.settings.base_url) :], message.encode()
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
