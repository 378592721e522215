"""Console sessions, kept in the store: the cookie holds a random id, never the API key.

A session names the tenant and the id of the key that opened it; each request checks that key is
still active (one read), so revoking it ends the session at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass

import orjson

from gateway.services import Services


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    session_id: str
    tenant_id: str
    key_id: str
    csrf_token: str


def _key(app_services: Services, session_id: str) -> str:
    return app_services.keyspace.console_session(hashlib.sha256(session_id.encode()).hexdigest())


async def open_session(app_services: Services, tenant_id: str, key_id: str) -> ConsoleSession:
    session = ConsoleSession(
        secrets.token_urlsafe(32), tenant_id, key_id, secrets.token_urlsafe(32)
    )
    record = {k: v for k, v in asdict(session).items() if k != "session_id"}
    await app_services.store.set(
        _key(app_services, session.session_id),
        orjson.dumps(record),
        ex=app_services.settings.console_session_seconds,
    )
    return session


async def find_session(app_services: Services, session_id: str) -> ConsoleSession | None:
    """The live session of this id; None when unknown, expired, or its key was revoked (then
    the session is deleted)."""
    if not session_id or len(session_id) > 100:
        return None
    raw = await app_services.store.get(_key(app_services, session_id))
    if raw is None:
        return None
    session = ConsoleSession(session_id, **orjson.loads(raw))
    if not await app_services.store.hexists(
        app_services.keyspace.tenant_keys(session.tenant_id), session.key_id
    ):
        await close_session(app_services, session_id)
        return None
    return session


async def close_session(app_services: Services, session_id: str) -> None:
    await app_services.store.delete(_key(app_services, session_id))
