"""The write path: ``POST``/``PUT /tenants/{tenantId}/api/trading``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from baas.core.envelope import BATCH, Submission, media_type, parse_request
from baas.core.events import format_time
from baas.core.intake import Command, admit
from baas.core.problems import Problem
from baas.store.eventlog import Appended, EventLog, KeyRevoked
from gateway.guard import authenticate, reject_key, request_ip
from gateway.services import Services, services

JSON = "application/json"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, f"The request body is larger than {limit} bytes.")
    if declared.isdigit():
        if int(declared) > limit:
            raise too_large
        return await request.body()  # the server delivers no more than the declared length
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


SubmissionReader = Callable[[], Awaitable[list[Submission]]]


async def append_commands(
    request: Request,
    svc: Services,
    tenant_id: str,
    key_id: str,
    received_at: datetime,
    read: SubmissionReader,
    *,
    log: EventLog | None = None,
    revoked: str = "Invalid or revoked API key.",
) -> list[Appended]:
    """The write path every command takes, whatever door it came in by (the trading API, a
    webhook): ``read`` the request into submissions, admit them, append them to the log.

    A write refused for its content (400/413/415/422, whatever ``read`` raises) still counts
    against the tenant's write limit. ``log`` re-checks ``key_id`` atomically with the append
    (``svc.log``: an active API key); a credential gone by then is a 401 with ``revoked``.
    """
    try:
        submissions = await read()
        if len(submissions) > svc.settings.max_batch_events:
            raise Problem(422, f"A batch holds at most {svc.settings.max_batch_events} events.")
        commands = admit(submissions, svc.catalog, tenant_id, received_at)
    except Problem:
        await svc.limits.count_tenant_write(tenant_id)
        raise
    try:
        results = await (log or svc.log).append(
            tenant_id, key_id, request_ip(request), format_time(received_at), commands
        )
    except KeyRevoked:
        raise await reject_key(request, revoked) from None
    _count(svc, commands, results)
    return results


async def submit_command(request: Request) -> Response:
    svc = services(request)
    tenant_id = request.path_params["tenantId"]
    owner = await authenticate(request, tenant_id)
    content_type = request.headers.get("content-type")

    async def read() -> list[Submission]:
        body = await read_body(request, svc.settings.max_body_bytes)
        return parse_request(content_type, request.headers, body)

    received_at = datetime.now(UTC)
    results = await append_commands(request, svc, tenant_id, owner.key_id, received_at, read)
    if media_type(content_type) == BATCH:
        return Response(
            orjson.dumps({"results": [_batch_entry(r) for r in results]}), 202, media_type=JSON
        )
    result = results[0]
    headers = {"Idempotent-Replayed": "true"} if result.duplicate else None
    return Response(result.answer, 202, headers=headers, media_type=JSON)


def _batch_entry(result: Appended) -> dict[str, object]:
    return {
        **orjson.loads(result.answer),
        "eventId": result.event_id,
        "status": "duplicate" if result.duplicate else "accepted",
    }


def _count(svc: Services, commands: list[Command], results: list[Appended]) -> None:
    for command, result in zip(commands, results, strict=True):
        if result.duplicate:
            svc.metrics.events_duplicate.inc()
        else:
            svc.metrics.appended(command.type)
