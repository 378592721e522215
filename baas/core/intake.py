"""Admission of commands: from parsed submissions to canonical CloudEvents, or a Problem.

Every event of a request is checked before any is admitted, so a batch is all or nothing.
The checks, in order of precedence: the tenant (403), then the schema (422).

The canonical event is the CloudEvents JSON format of the command (lowercase attribute names,
``specversion`` 1.0, ``time`` in UTC, the tenant as the ``tenantid`` extension, ``data``), built
here directly: the checks of ``envelope`` and this module are those of ``cloudevents.core``'s
CloudEvent (a test reads admitted commands back with it). The workers decode the log's JSON into
their typed commands (``baas.core.trading.commands``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from baas.core.catalog import SchemaCatalog, UnknownSchema
from baas.core.envelope import LENGTH_LIMITS, Submission
from baas.core.event_time import format_time
from baas.core.problems import FieldError, Problem

TENANT_EXTENSION = "tenantid"
# An event's time (and a signal's Date, by its schema) lies in these years, in UTC.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
_UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class Command(NamedTuple):
    """An admitted command: the canonical event (CloudEvents JSON, as a document) and the id its
    202 answer carries."""

    event: dict[str, Any]
    reply_id: str

    @property
    def id(self) -> str:
        return self.event["id"]

    @property
    def source(self) -> str:
        return self.event["source"]

    @property
    def type(self) -> str:
        return self.event["type"]

    def to_json(self) -> bytes:
        return orjson.dumps(self.event)


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 timestamp with a zone, in UTC; None if it is not one (or not representable)."""
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def admit(
    submissions: list[Submission], catalog: SchemaCatalog, tenant_id: str, received_at: str
) -> list[Command]:
    """The commands, or the Problem that refuses them all. ``received_at`` (RFC 3339, UTC) is
    the time of an event that has none."""
    forbidden: list[FieldError] = []
    invalid: list[FieldError] = []
    envelope: list[FieldError] = []
    resolved = []
    for s in submissions:
        attributes = s.attributes
        time = None  # the request's time, formatted once below
        if "time" in attributes:
            time = canonical_time(attributes["time"])
            if time is None:
                envelope.append(
                    FieldError(
                        s.path("time"),
                        "must be an RFC 3339 date-time with a zone, "
                        f"in the years {EARLIEST_YEAR} to {LATEST_YEAR}",
                    )
                )
        if attributes.get(TENANT_EXTENSION, tenant_id) != tenant_id:
            forbidden.append(
                FieldError(s.path(TENANT_EXTENSION), "does not match the tenant in the path")
            )
        data = s.data
        if isinstance(data, dict) and "TenantId" in data and data["TenantId"] != tenant_id:
            forbidden.append(
                FieldError("data.TenantId", "does not match the tenant in the path").under(
                    s.position
                )
            )
        try:
            schema = catalog.resolve(attributes["type"], attributes.get("dataschema"))
        except UnknownSchema as exc:
            where = "dataschema" if attributes.get("dataschema") is not None else "type"
            invalid.append(FieldError(s.path(where), str(exc)))
            continue
        invalid.extend(e.under(s.position) for e in schema.errors(data))
        resolved.append((s, schema, time))
    if envelope:
        raise Problem(400, "The CloudEvent envelope is malformed.", envelope)
    if forbidden:
        raise Problem(403, "TenantId does not match the tenant of this URL.", forbidden)
    if invalid:
        raise Problem(422, "The command does not match its schema.", invalid)
    return [
        _command(s.attributes, s.data, schema.ref, time or received_at, tenant_id)
        for s, schema, time in resolved
    ]


# The attributes of a usual request, under the names a client may spell them with.
_USUAL_NAMES = {
    "id": "id",
    "type": "type",
    "source": "source",
    "time": "time",
    "specversion": "specversion",
    "dataschema": "dataschema",
    "datacontenttype": "datacontenttype",
    "dataSchema": "dataschema",
    "dataContentType": "datacontenttype",
}


def admit_usual(
    document: Any,
    catalog: SchemaCatalog,
    tenant_id: str,
    received_at: str,
    *,
    structured_mode: bool = False,
) -> Command | None:
    """The request nearly every client sends, admitted in one pass: one event (the dialect, or
    structured mode) with only the usual attributes, JSON data, valid as it stands. None for
    anything else; ``parse_request`` and ``admit`` then decide, and explain a refusal. A property
    test holds the two ways to the same commands. ``structured_mode``: the body was sent as
    ``application/cloudevents+json``."""
    if type(document) is not dict or "data" not in document:
        return None
    structured = "specversion" in document
    if structured_mode and not structured:
        return None
    attributes: dict[str, Any] = {}
    for name, value in document.items():
        if name == "data":
            continue
        canonical = _USUAL_NAMES.get(name)
        if canonical is None or (structured and canonical != name):
            return None
        if type(value) is not str or not value.strip():
            return None
        attributes[canonical] = value
    for name, limit in LENGTH_LIMITS:  # id, source, type: required, and not too long
        value = attributes.get(name)
        if value is None or len(value) > limit:
            return None
    if attributes.get("specversion", "1.0") != "1.0":
        return None
    if attributes.get("datacontenttype", "application/json") != "application/json":
        return None
    time = attributes.get("time")
    if time is not None and (time := canonical_time(time)) is None:
        return None
    data = document["data"]
    if isinstance(data, dict) and data.get("TenantId", tenant_id) != tenant_id:
        return None
    try:
        schema = catalog.resolve(attributes["type"], attributes.get("dataschema"))
    except UnknownSchema:
        return None
    if not schema.is_valid(data):
        return None
    return _command(attributes, data, schema.ref, time or received_at, tenant_id)


def canonical_time(value: str) -> str | None:
    """An RFC 3339 timestamp with a zone as the log writes it (UTC, ``Z``); None if it is not
    one, or not in the years ``EARLIEST_YEAR`` to ``LATEST_YEAR``."""
    moment = parse_time(value)
    if moment is None or not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return None
    if _UTC_SECONDS.fullmatch(value):  # already so: 2026-04-27T11:20:00Z
        return value
    return format_time(moment)


def _command(
    attributes: dict[str, Any], data: Any, schema_ref: str, time: str, tenant_id: str
) -> Command:
    event: dict[str, Any] = {
        name: value
        for name, value in attributes.items()
        if name not in ("time", "dataschema", "datacontenttype")
    }
    event["specversion"] = "1.0"
    event["time"] = time
    event["dataschema"] = schema_ref
    event["datacontenttype"] = "application/json"
    event[TENANT_EXTENSION] = tenant_id
    event["data"] = data
    correlation = data.get("CorrelationId") if isinstance(data, dict) else None
    reply_id = correlation if isinstance(correlation, str) and correlation else event["id"]
    return Command(event, reply_id)
