"""The time of every event in the log: RFC 3339 in UTC with a ``Z``, as the gateway writes the
commands' and the workers write their outcomes'."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: 2026-04-27T11:20:00Z (microseconds when there are any)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"  # an aware UTC time ends in +00:00
