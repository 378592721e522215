"""The write path: ``POST``/``PUT /tenants/{tenantId}/api/trading``.

The busiest route of the gateway, so it is a bare ASGI app: it reads the scope's headers in one
pass and answers with two ASGI messages, without Request/Response objects. Its errors are raised
(Problem, Limited, store errors) and answered by the app's exception handlers, as on every route.
"""

from __future__ import annotations

import time

import orjson
from starlette.types import Receive, Scope, Send

from baas.core import apikeys
from baas.core.envelope import BATCH, STRUCTURED, Submission, media_type, parse_request
from baas.core.intake import Command, admit, admit_usual
from baas.core.problems import FieldError, Problem
from baas.store.eventlog import Appended, IdReused, KeyRevoked, WrongTenant
from gateway.body import receive_body
from gateway.guard import INVALID_KEY, duplicate_credential, gate, reject, scope_ip, wrong_tenant
from gateway.services import Services

JSON = "application/json"
_JSON_HEADER = (b"content-type", JSON.encode())
_REPLAYED_HEADER = (b"idempotent-replayed", b"true")
ID_REUSED = "The event id was already used for another event: nothing was appended."


def id_reused(commands: list[Command], reused: IdReused, batch: bool) -> Problem:
    """The 409 for an id repeated with other content (a resend must repeat the event exactly)."""
    command = commands[reused.position]
    return Problem(
        409,
        ID_REUSED,
        [
            FieldError(
                f"[{reused.position}].id" if batch else "id",
                f"{command.id!r} (source {command.source!r}) was already used for an event "
                "with other content; a new event needs a new id",
            )
        ],
    )


def admit_commands(
    app_services: Services, tenant_id: str, received_at: str, submissions: list[Submission]
) -> list[Command]:
    """The commands of a request, or the Problem that refuses them all (a batch is all or
    nothing)."""
    if len(submissions) > app_services.settings.max_batch_events:
        raise Problem(
            422, f"A batch holds at most {app_services.settings.max_batch_events} events."
        )
    return admit(submissions, app_services.catalog, tenant_id, received_at)


def read_commands(
    app_services: Services,
    tenant_id: str,
    received_at: str,
    content_type: str | None,
    ce_headers: dict[str, str],
    body: bytes,
) -> list[Command]:
    """The request's commands: the usual request admitted in one pass, anything else parsed and
    admitted step by step (which explains a refusal)."""
    mt = media_type(content_type)
    if not ce_headers and mt in ("application/json", STRUCTURED):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        command = admit_usual(
            document, app_services.catalog, tenant_id, received_at, structured_mode=mt == STRUCTURED
        )
        if command is not None:
            return [command]
    submissions = parse_request(content_type, ce_headers, body)
    return admit_commands(app_services, tenant_id, received_at, submissions)


class SubmitCommand:
    """The route's ASGI app (Starlette mounts a class instance as a bare ASGI app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read and admit the commands, then one store call does the rest (``EventLog.submit``):
        the IP's limits, the key, the tenant's limit, dedupe, append. A request refused for its
        content passes the door first (``gate``), so that 429/401/403 come before
        400/413/415/422, and still counts against the tenant's write limit."""
        app_services: Services = scope["app"].state.services
        tenant_id = scope["path_params"]["tenantId"]
        content_type = declared_length = key = None
        ce_headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared_length = value.decode("latin-1")
            elif name == b"x-api-key":
                if key is not None:
                    raise duplicate_credential()
                key = value.decode("latin-1")
            elif name.startswith(b"ce-"):
                ce_headers[name.decode("latin-1")] = value.decode("latin-1")
        ip = scope_ip(scope, app_services.trusted_proxies)
        if not key:
            await gate(app_services, ip, tenant_id, key)  # raises: 429, or 401 for the missing key
        received_at = _received_now()
        try:
            body = await receive_body(
                receive, declared_length, app_services.settings.max_body_bytes
            )
            commands = read_commands(
                app_services, tenant_id, received_at, content_type, ce_headers, body
            )
        except Problem:
            await gate(app_services, ip, tenant_id, key)
            await app_services.limits.count_tenant_write(tenant_id)
            raise
        try:
            results = await app_services.log.submit(
                tenant_id, apikeys.digest(key), ip, received_at, commands
            )
        except KeyRevoked:
            raise await reject(app_services, ip, INVALID_KEY) from None
        except WrongTenant:
            raise Problem(403, wrong_tenant(tenant_id)) from None
        except IdReused as reused:
            raise id_reused(commands, reused, media_type(content_type) == BATCH) from None
        count_appended(app_services, commands, results)
        headers = [_JSON_HEADER]
        if media_type(content_type) == BATCH:
            answer = orjson.dumps({"results": [_batch_entry(r) for r in results]})
        else:
            answer = results[0].answer
            if results[0].duplicate:
                headers.append(_REPLAYED_HEADER)
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


_clock = [0, ""]  # the current second, and its text


def _received_now() -> str:
    """Now as the log writes it (RFC 3339, UTC, microseconds), formatted once per second."""
    now = time.time()
    second = int(now)
    if second != _clock[0]:
        _clock[0], _clock[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_clock[1]}.{int((now - second) * 1_000_000):06d}Z"


def _batch_entry(result: Appended) -> dict[str, object]:
    return {
        **orjson.loads(result.answer),
        "eventId": result.event_id,
        "status": "duplicate" if result.duplicate else "accepted",
    }


def count_appended(
    app_services: Services, commands: list[Command], results: list[Appended]
) -> None:
    for command, result in zip(commands, results, strict=True):
        if result.duplicate:
            app_services.metrics.duplicates += 1
        else:
            app_services.metrics.appended[command.type] += 1
