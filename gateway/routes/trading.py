"""The write path: ``POST``/``PUT /tenants/{tenantId}/api/trading``."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from baas.core.envelope import BATCH, media_type, parse_request
from baas.core.events import format_time
from baas.core.intake import Command, admit
from baas.core.problems import Problem
from baas.store.eventlog import Appended, KeyRevoked
from gateway.guard import authenticate, reject_key, request_ip
from gateway.services import Services, services

JSON = "application/json"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, f"The request body is larger than {limit} bytes.")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _admit(
    request: Request, svc: Services, tenant_id: str, received_at: datetime
) -> list[Command]:
    body = await read_body(request, svc.settings.max_body_bytes)
    submissions = parse_request(request.headers.get("content-type"), request.headers, body)
    if len(submissions) > svc.settings.max_batch_events:
        raise Problem(422, f"A batch holds at most {svc.settings.max_batch_events} events.")
    return admit(submissions, svc.catalog, tenant_id, received_at)


async def submit_command(request: Request) -> Response:
    svc = services(request)
    tenant_id = request.path_params["tenantId"]
    owner = await authenticate(request, tenant_id)
    received_at = datetime.now(UTC)
    try:
        commands = await _admit(request, svc, tenant_id, received_at)
    except Problem:
        # A refused write still counts against the tenant's write limit.
        await svc.limits.count_tenant_write(tenant_id)
        raise
    try:
        results = await svc.log.append(
            tenant_id, owner.key_id, request_ip(request), format_time(received_at), commands
        )
    except KeyRevoked:
        raise await reject_key(request, "Invalid or revoked API key.") from None
    _count(svc, commands, results)
    if media_type(request.headers.get("content-type")) == BATCH:
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
            svc.metrics.events_appended.labels(command.event.get_type()).inc()
