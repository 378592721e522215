"""Who may call the ledger API.

- ``/api/v1/strategies/{id}/…``: ``Authorization: Bearer fq_live_…``, a key of that strategy.
  401 missing, invalid or revoked (each counts towards the IP's auth-failure block), 404 unknown
  strategy, 403 a key of another strategy, 429 past the key's sliding window.
- ``/strategies/{id}/api-keys…``: the strategy's tenant's ``X-Api-Key`` (the hosted service signs
  these in with a session cookie; a self-hosted gateway has no sessions).

One pipelined round trip checks the IP's limits and looks up the key and the strategy; a second
(``baas_ledger_key_gate``) re-checks that the key is still active and counts it in its window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from baas.core import apikeys
from baas.core.ledger.api_keys import LedgerKeyOwner, ledger_key_owner
from baas.core.ledger.strategies import Strategy
from baas.store import functions
from baas.store.ratelimits import unique_member
from baas.store.tenants import KeyOwner, owner_from_index
from gateway.guard import INVALID_KEY, credential, reject_key, request_ip
from gateway.ledger.context import ledger_services
from gateway.ledger.errors import LedgerError, seconds
from gateway.services import Services, services

BEARER = re.compile(r"\s*bearer\s+(\S+)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LedgerCaller:
    tenant_id: str
    strategy_id: str
    key_id: str
    client_ip: str


def _ms(value: float) -> int:
    return max(1, int(value * 1000))


async def _lookup(
    request: Request, app_services: Services, index: str, key_digest: str, strategy_id: str
) -> tuple[int, bytes | None, bytes | None]:
    """The IP's auth failures (or raise Limited), the key's index record, the strategy's tenant."""
    ip = request_ip(request)
    commands = [
        app_services.limits.ip_gate_command(ip),
        ("HGET", app_services.keyspace.strategy_index, strategy_id),
    ]
    if key_digest:
        commands.append(("HGET", index, key_digest))
    replies = await app_services.pipelined.pipeline(*commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    failures = app_services.limits.ip_gate_result(replies[0])
    return failures, (replies[2] if key_digest else None), replies[1]


async def authenticate_bearer(request: Request, strategy_id: str) -> LedgerCaller:
    """The caller of an ``/api/v1/strategies/{strategy_id}/…`` endpoint."""
    app_services = services(request)
    header = credential(request, "Authorization")
    match = BEARER.fullmatch(header) if header else None
    token = match.group(1) if match else ""
    key_digest = apikeys.digest(token) if token else ""
    failures, key_record, tenant = await _lookup(
        request, app_services, app_services.keyspace.ledger_key_index, key_digest, strategy_id
    )
    if not header:
        raise await reject_key(
            request, "Missing Authorization header: send Authorization: Bearer fq_live_…"
        )
    if not token:
        raise await reject_key(
            request, "Invalid Authorization header: send Authorization: Bearer fq_live_…"
        )
    owner: LedgerKeyOwner | None = ledger_key_owner(key_record, key_digest)
    if owner is None:
        raise await reject_key(request, INVALID_KEY)
    if tenant is None:
        raise LedgerError(404, f"Strategy {strategy_id} not found.")
    if owner.strategy_id != strategy_id:
        raise LedgerError(403, f"This API key does not grant access to strategy {strategy_id}.")
    await _count_key(request, app_services, owner)
    if failures:
        await app_services.limits.clear_auth_failures(request_ip(request))
    return LedgerCaller(owner.tenant_id, owner.strategy_id, owner.key_id, request_ip(request))


async def _count_key(request: Request, app_services: Services, owner: LedgerKeyOwner) -> None:
    s = app_services.settings
    call = functions.ledger_key_gate(
        key_window=app_services.keyspace.ledger_key_window(owner.tenant_id, owner.key_id),
        active_keys=app_services.keyspace.strategy_keys(owner.tenant_id, owner.strategy_id),
        key_id=owner.key_id,
        key_limit=s.ledger_key_limit,
        key_window_ms=_ms(s.ledger_key_window_seconds),
        member=unique_member(),
    )
    reply = await app_services.pipelined.call(*call.command())
    status = reply[0]
    if status == b"revoked":
        raise await reject_key(request, INVALID_KEY)
    if status == b"limited":
        app_services.metrics.limited["ledger_key"] += 1
        retry_after = max(1, -(-int(reply[1]) // 1000))
        raise LedgerError(
            429,
            f"Rate limit exceeded: {s.ledger_key_limit} requests per "
            f"{seconds(s.ledger_key_window_seconds)}s",
            {"Retry-After": str(retry_after)},
        )


async def authenticate_strategy_owner(
    request: Request, strategy_id: str
) -> tuple[Strategy, KeyOwner]:
    """For the key-management endpoints: the strategy, and its tenant's X-Api-Key owner."""
    app_services = services(request)
    key = credential(request, "X-Api-Key")
    key_digest = apikeys.digest(key) if key else ""
    failures, key_record, tenant = await _lookup(
        request, app_services, app_services.keyspace.api_key_index, key_digest, strategy_id
    )
    if not key:
        raise await reject_key(
            request, "Missing X-Api-Key header: send the API key of the strategy's tenant."
        )
    owner = owner_from_index(key_record, key_digest)
    if owner is None:
        raise await reject_key(request, INVALID_KEY)
    strategy = None
    if tenant is not None:
        strategy = await ledger_services(request).ledger.get_strategy(tenant.decode(), strategy_id)
    if strategy is None:
        raise LedgerError(404, f"Strategy {strategy_id} not found.")
    if owner.tenant_id != strategy.tenant_id:
        raise LedgerError(403, f"This API key does not grant access to strategy {strategy_id}.")
    if failures:
        await app_services.limits.clear_auth_failures(request_ip(request))
    return strategy, owner
