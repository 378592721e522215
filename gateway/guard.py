"""The door every API request passes: the per-IP limits, then the X-Api-Key.

One store round trip on the way in: the IP's limiter and the key lookup travel in one pipeline.
"""

from __future__ import annotations

from starlette.requests import Request

from baas.core import apikeys
from baas.core.problems import Problem
from baas.store.tenants import KeyOwner, owner_from_index
from gateway.client_ip import client_ip
from gateway.services import services

API_KEY_HEADER = "x-api-key"


def request_ip(request: Request) -> str:
    """The client's IP, worked out once per request (kept in the ASGI scope)."""
    scope = request.scope
    ip = scope.get("baas.client_ip")
    if ip is None:
        proxies = services(request).trusted_proxies
        forwarded = request.headers.get("x-forwarded-for") if proxies else None
        peer = request.client.host if request.client else None
        ip = scope["baas.client_ip"] = client_ip(peer, forwarded, proxies)
    return ip


async def check_ip(request: Request) -> None:
    """For public endpoints: the per-IP limits only."""
    await _gate(request, None)


async def authenticate(request: Request, tenant_id: str) -> KeyOwner:
    """The key's owner, or a 401/403/429 Problem. A 401 counts towards the IP's block."""
    owner = await _gate(request, tenant_id)
    assert owner is not None
    return owner


async def reject_key(request: Request, detail: str) -> Problem:
    await services(request).limits.record_auth_failure(request_ip(request))
    return Problem(401, detail)


async def _gate(request: Request, tenant_id: str | None) -> KeyOwner | None:
    svc = services(request)
    ip = request_ip(request)
    key = request.headers.get(API_KEY_HEADER) if tenant_id is not None else None
    key_digest = apikeys.digest(key) if key else ""
    commands = [svc.limits.ip_gate_command(ip)]
    if key_digest:
        commands.append(("HGET", svc.keyspace.api_key_index, key_digest))
    replies = await svc.pipelined.pipeline(*commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    failures = svc.limits.ip_gate_result(replies[0])
    if tenant_id is None:
        return None
    if not key:
        raise await reject_key(request, "Missing X-Api-Key header.")
    owner = owner_from_index(replies[1], key_digest)
    if owner is None:
        raise await reject_key(request, "Invalid or revoked API key.")
    if owner.tenant_id != tenant_id:
        raise Problem(403, f"This API key is not valid for tenant {tenant_id}.")
    if failures:
        await svc.limits.clear_auth_failures(ip)
    request.state.key_owner = owner
    return owner
