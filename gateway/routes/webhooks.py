"""The TradingView webhook target:
``POST /tenants/{tenantId}/webhooks/tradingview/{alertId}/{token}``.

TradingView sets no headers of ours, so the alert's token in the URL is the credential. The alert
message becomes a SubmitSignal (``baas.core.trading.tradingview``) and then takes the trading
API's own admission (``admit_commands``) and log: the same checks, limits and idempotency. The
answer comes as soon as the event is in the log; the worker trades later.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from baas.core.envelope import parse_request
from baas.core.event_time import format_time
from baas.core.keyspace import Keyspace
from baas.core.problems import Problem
from baas.core.trading.readmodel import ALERTS
from baas.core.trading.tradingview import parse_message, to_signal
from baas.settings import Settings
from baas.store.eventlog import EventLog, IdReused, KeyRevoked
from baas.store.multiplexed import MultiplexedConnection
from baas.store.ratelimits import Limited, Limiter, RateLimits
from gateway.body import read_body
from gateway.client_ip import Network, parse_networks
from gateway.guard import request_ip
from gateway.routes.trading import JSON, admit_commands, count_appended, id_reused
from gateway.services import Services, services

INVALID_URL = "Invalid webhook URL."
TENANT_LIMITED = (
    "The tenant's write limit is reached: the alert was not recorded. "
    "Send it again after Retry-After seconds."
)
TARGET_POSITION = "targetposition"  # the CloudEvents extension the worker reads
# TradingView's published webhook source addresses, for BAAS_TRADINGVIEW_ALLOWED_IPS.
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
_NO_TOKEN = "-" * 32  # compared against when there is no alert, so both paths do the same work


@dataclass(frozen=True, slots=True)
class _AlertCredentials(Keyspace):
    """The keyspace of the webhook log: the credential ``baas_ingest`` re-checks atomically with
    the append is the alert (a field of the tenant's alerts read model), not an API key."""

    def tenant_keys(self, tenant_id: str) -> str:
        return self.readmodel(tenant_id, ALERTS)


def webhook_log(
    pipelined: MultiplexedConnection, keyspace: Keyspace, limits: RateLimits, settings: Settings
) -> EventLog:
    """The tenants' event log, appended to with an alert id where the API takes a key id."""
    return EventLog(
        pipelined,
        _AlertCredentials(keyspace.prefix),
        limits,
        settings.idempotency_retention_seconds,
    )


def allowed_networks(settings: Settings) -> tuple[Network, ...]:
    """``BAAS_TRADINGVIEW_ALLOWED_IPS``; empty: any address."""
    return parse_networks(getattr(settings, "tradingview_allowed_ips", "") or "")


async def tradingview(request: Request) -> Response:
    app_services = services(request)
    tenant_id = request.path_params["tenantId"]
    alert_id = request.path_params["alertId"]
    ip = request_ip(request)
    tradingview_sender = _allowed(ip, app_services.tradingview_networks)
    windows = app_services.limits.webhook_gate_keys(ip, tenant_id, tradingview_sender)
    failures = app_services.limits.ip_gate_result(
        await app_services.pipelined.call(*app_services.limits.gate_command(windows))
    )
    if app_services.tradingview_networks and not tradingview_sender:
        raise Problem(
            403,
            "This address may not call TradingView webhooks (BAAS_TRADINGVIEW_ALLOWED_IPS).",
        )
    alert = await app_services.trading.alert(tenant_id, alert_id)
    expected = str(alert.get("WebhookToken") or "") if alert else ""
    token_ok = hmac.compare_digest(
        request.path_params["token"].encode(), (expected or _NO_TOKEN).encode()
    )
    if alert is None or not expected or not token_ok:
        # Unknown tenant, unknown alert or wrong token: one answer, so the URLs cannot be probed.
        raise await _invalid_url(app_services, windows)
    # A valid webhook URL is a successful authentication: it clears the failures, as a valid
    # API key does.
    if failures:
        await app_services.limits.clear_failures(windows[1])
    try:
        return await _record(request, app_services, alert)
    except KeyRevoked:
        raise await _invalid_url(app_services, windows) from None
    except Limited as limited:
        if limited.limiter is not Limiter.TENANT:
            raise
        # TradingView sends a refused alert again only after a 5xx; a late one is still guarded
        # by the alert's MaxSignalAgeSeconds.
        app_services.metrics.limited[limited.limiter.value] += 1
        retry_after = {"Retry-After": str(limited.retry_after)}
        raise Problem(503, TENANT_LIMITED, headers=retry_after) from None


async def _invalid_url(app_services: Services, windows: tuple[str, str]) -> Problem:
    """The 401, counted against the pair (IP, tenant)."""
    await app_services.limits.record_failure(windows[1])
    return Problem(401, INVALID_URL)


async def _record(request: Request, app_services: Services, alert: dict[str, Any]) -> Response:
    """The alert's message admitted as a signal and appended to the log."""
    tenant_id = request.path_params["tenantId"]
    alert_id = request.path_params["alertId"]
    received_at = datetime.now(UTC)
    try:
        body = await read_body(request, app_services.settings.max_body_bytes)
        message = parse_message(body)
        arrival = (
            received_at
            if message.time
            else await _first_arrival(app_services, request, body, received_at)
        )
        signal = to_signal(alert, message, tenant_id, arrival)
        event: dict[str, Any] = dict(signal.event)
        if signal.target_position is not None:
            event[TARGET_POSITION] = _plain(signal.target_position)
        submissions = parse_request(JSON, {}, orjson.dumps(event))
        commands = admit_commands(app_services, tenant_id, format_time(received_at), submissions)
    except Problem:
        await app_services.limits.count_tenant_write(tenant_id)
        raise
    try:
        [result] = await app_services.webhook_log.append(
            tenant_id, alert_id, request_ip(request), format_time(received_at), commands
        )
    except IdReused as reused:
        raise id_reused(commands, reused, batch=False) from None
    count_appended(app_services, commands, [result])
    headers = {"Idempotent-Replayed": "true"} if result.duplicate else None
    return Response(orjson.dumps({"id": result.event_id}), 202, headers=headers, media_type=JSON)


async def _first_arrival(
    app_services: Services, request: Request, body: bytes, received_at: datetime
) -> datetime:
    """When this body first came for the alert within BAAS_TRADINGVIEW_RESEND_SECONDS.

    A message without {{timenow}} takes its signal's time and id from its arrival; TradingView
    resends the same body after a 5xx (a 503 may have appended it), so a resend must arrive at
    the first arrival's time to be the same signal, replayed rather than traded twice."""
    key = app_services.keyspace.webhook_first_arrival(
        request.path_params["tenantId"], request.path_params["alertId"], body
    )
    window = max(1, round(app_services.settings.tradingview_resend_seconds))
    first = await app_services.pipelined.call(
        "SET", key, received_at.isoformat(), "NX", "GET", "EX", window
    )
    return received_at if first is None else datetime.fromisoformat(first.decode())


def _allowed(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _plain(number: Decimal) -> str:
    """Without an exponent: 10, -2.5."""
    return format(number, "f")
