"""The door every API request passes: the per-IP limits, then the X-Api-Key.

One store round trip on the way in: the IP's limiter and the key lookup travel in one pipeline.
``gate`` works on plain values so that the write path, a bare ASGI app, passes the same door as
the routes that take a Starlette ``Request`` (``check_ip``, ``authenticate``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

from baas.core import apikeys
from baas.core.problems import FieldError, Problem, bad_request
from baas.store.tenants import KeyOwner, owner_from_index
from gateway.client_ip import Network, client_ip
from gateway.services import Services, services

MISSING_KEY = "Missing X-Api-Key header."
INVALID_KEY = "Invalid or revoked API key."


def duplicate_credential(header: str = "X-Api-Key") -> Problem:
    """A credential header sent more than once: which one is meant is not for the gateway to
    guess (a reader of the first and a writer of the last would disagree)."""
    return bad_request(
        f"Send exactly one {header} header.",
        FieldError(f"headers.{header}", "sent more than once"),
    )


def credential(request: Request, header: str) -> str | None:
    """The one value of a credential header, None without one; a 400 when sent more than once."""
    values = request.headers.getlist(header)
    if len(values) > 1:
        raise duplicate_credential(header)
    return values[0] if values else None


def wrong_tenant(tenant_id: str) -> str:
    return f"This API key is not valid for tenant {tenant_id}."


def scope_ip(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """The client's IP, worked out once per request (kept in the ASGI scope)."""
    ip = scope.get("baas.client_ip")
    if ip is None:
        forwarded = None
        if proxies:
            values = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
            forwarded = b",".join(values).decode("latin-1") if values else None
        peer = scope.get("client")
        ip = scope["baas.client_ip"] = client_ip(peer[0] if peer else None, forwarded, proxies)
    return ip


def request_ip(request: Request) -> str:
    return scope_ip(request.scope, services(request).trusted_proxies)


async def check_ip(request: Request) -> None:
    """For public endpoints: the per-IP limits only."""
    await gate(services(request), request_ip(request), None, None)


async def authenticate(request: Request, tenant_id: str) -> KeyOwner:
    """The key's owner, or a 401/403/429 Problem. A 401 counts towards the IP's block."""
    key = credential(request, "X-Api-Key")
    owner = await gate(services(request), request_ip(request), tenant_id, key)
    assert owner is not None
    return owner


async def reject_key(request: Request, detail: str) -> Problem:
    return await reject(services(request), request_ip(request), detail)


async def reject(app_services: Services, ip: str, detail: str) -> Problem:
    """A 401 for ``ip``, counted towards its auth-failure block."""
    await app_services.limits.record_auth_failure(ip)
    return Problem(401, detail)


async def gate(
    app_services: Services, ip: str, tenant_id: str | None, key: str | None
) -> KeyOwner | None:
    """The per-IP limits for ``ip``; with a ``tenant_id``, also the key: its owner, or a
    401/403 Problem (a 429 is raised as ``Limited``)."""
    if tenant_id is None:
        await _door(app_services, ip, None)
        return None
    owner, failures = await _door(app_services, ip, key or "")
    assert owner is not None
    if owner.tenant_id != tenant_id:
        raise Problem(403, wrong_tenant(tenant_id))
    if failures:
        await app_services.limits.clear_auth_failures(ip)
    return owner


async def key_owner(app_services: Services, ip: str, key: str) -> KeyOwner:
    """The owner of ``key``, whichever tenant it is (the console's sign-in): the same door as
    ``gate``, the same 401s counted and 429s raised."""
    owner, failures = await _door(app_services, ip, key)
    assert owner is not None
    if failures:
        await app_services.limits.clear_auth_failures(ip)
    return owner


async def _door(app_services: Services, ip: str, key: str | None) -> tuple[KeyOwner | None, int]:
    """The IP's limits and, unless ``key`` is None, the key's owner (one round trip) with the
    IP's recent failures; a missing or unknown key is a counted 401."""
    key_digest = apikeys.digest(key) if key else ""
    if key_digest:
        replies = await app_services.pipelined.pipeline(
            app_services.limits.ip_gate_command(ip),
            ("HGET", app_services.keyspace.api_key_index, key_digest),
        )
    else:
        replies = await app_services.pipelined.pipeline(app_services.limits.ip_gate_command(ip))
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    failures = app_services.limits.ip_gate_result(replies[0])
    if key is None:
        return None, failures
    if not key:
        raise await reject(app_services, ip, MISSING_KEY)
    owner = owner_from_index(replies[1], key_digest)
    if owner is None:
        raise await reject(app_services, ip, INVALID_KEY)
    return owner, failures
