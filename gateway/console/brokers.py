"""Brokers and paper accounts in the console: each broker as the API shows it, ConfigureBroker
and RemoveBroker through the API's write path."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from baas.core.problems import Problem
from baas.core.trading.paper import PaperAccount, PaperSettings
from baas.core.trading.readmodel import ACCOUNTS, BROKERS, DEFAULT_BROKER_ID, DEFAULT_PAPER_BROKER
from gateway.console import views
from gateway.console.commands import append_command, command_schema, new_event_id
from gateway.console.sessions import ConsoleSession
from gateway.console.shell import page, redirect, render
from gateway.routes import reads
from gateway.services import services


async def broker_views(request: Request, tenant_id: str) -> list[dict[str, Any]]:
    """Each broker as the API shows it; a paper broker with its account."""
    app_services = services(request)
    records = await app_services.trading.records(tenant_id, BROKERS)
    records.setdefault(DEFAULT_BROKER_ID, DEFAULT_PAPER_BROKER)
    shown = []
    for broker_id in sorted(records):
        record = records[broker_id]
        connections = await app_services.trading.broker_connections(tenant_id, broker_id)
        view = reads._broker_view(record, connections)
        if view is None:
            continue
        view.setdefault("BrokerId", broker_id)
        if record.get("Kind") == "paper":
            view["Account"] = await _paper_view(request, tenant_id, broker_id, record)
        shown.append(view)
    return shown


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
        brokers=await broker_views(request, session.tenant_id),
        fields=views.schema_fields(command_schema(request, "configure-broker")),
        values=(getattr(request.state, "form", None) or {}) if errors else {},
        errors=errors or {},
        event_id=new_event_id(),
        sent=request.query_params.get("sent"),
    )


@page
async def configure_broker(request: Request, session: ConsoleSession) -> Response:
    data = views.form_data(command_schema(request, "configure-broker"), request.state.form)
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
