"""The canonical event as bytes: CloudEvents JSON format (structured mode), encoded with orjson.

The gateway writes commands in this form and the workers write their outcomes in it too, so one
reader serves every consumer of the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from cloudevents.core.v1.event import CloudEvent


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: 2026-04-27T11:20:00Z (microseconds when there are any)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"  # an aware UTC time ends in +00:00


def to_json(event: CloudEvent) -> bytes:
    document: dict[str, Any] = dict(event.get_attributes())
    time = document.get("time")
    if isinstance(time, datetime):
        document["time"] = format_time(time)
    document["data"] = event.get_data()
    return orjson.dumps(document)


def from_json(raw: bytes | str) -> CloudEvent:
    document = orjson.loads(raw)
    data = document.pop("data", None)
    if "time" in document:
        document["time"] = datetime.fromisoformat(document["time"])
    return CloudEvent(document, data)
