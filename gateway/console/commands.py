"""The console's writes: a command appended to the tenant's log through the API's own admission
(schemas, the tenant's write limit, idempotency) and log, with the session's key id as the
credential the append re-checks (a key revoked meanwhile appends nothing)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request

from baas.core.envelope import parse_request
from baas.core.event_time import format_time
from baas.core.problems import Problem
from baas.store.eventlog import IdReused, KeyRevoked
from gateway.console.sessions import ConsoleSession
from gateway.guard import INVALID_KEY, gate, request_ip
from gateway.routes.trading import JSON, admit_commands, count_appended, id_reused
from gateway.services import services

SOURCE = "console"
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def command_schema(request: Request, name: str) -> dict[str, Any]:
    """The latest JSON Schema of a command (``configure-broker``): the forms are built from it."""
    return dict(services(request).catalog.latest(name).document)


def new_event_id() -> str:
    """A form's event id, rendered with it: the form sent twice appends once."""
    return secrets.token_urlsafe(16)


async def append_command(
    request: Request, session: ConsoleSession, command_type: str, data: dict[str, Any]
) -> str:
    """Append one command; its event id. Raises the API's Problems (400/422 with the schema's
    errors, 409) and Limited."""
    app_services = services(request)
    ip = request_ip(request)
    await gate(app_services, ip, None, None)
    sent_id = request.state.form.get("event_id", "")
    received_at = format_time(datetime.now(UTC))
    event = {
        "id": sent_id if _EVENT_ID.fullmatch(sent_id) else new_event_id(),
        "type": command_type,
        "source": SOURCE,
        "time": received_at,
        "data": data,
    }
    try:
        submissions = parse_request(JSON, {}, orjson.dumps(event))
        commands = admit_commands(app_services, session.tenant_id, received_at, submissions)
    except Problem:
        await app_services.limits.count_tenant_write(session.tenant_id)
        raise
    try:
        results = await app_services.log.append(
            session.tenant_id, session.key_id, ip, received_at, commands
        )
    except KeyRevoked:
        raise Problem(401, INVALID_KEY) from None
    except IdReused as reused:
        raise id_reused(commands, reused, batch=False) from None
    count_appended(app_services, commands, results)
    return results[0].event_id
