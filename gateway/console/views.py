"""Pure presentation helpers of the console's pages (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from baas.core.intake import parse_time

FILTERS = ("alert", "status", "symbol")


def timeline(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A signal's history with the milliseconds since the step before (None for the first)."""
    steps: list[dict[str, Any]] = []
    previous: datetime | None = None
    for entry in history:
        moment = parse_time(str(entry.get("Time", "")))
        gap = None
        if moment is not None and previous is not None:
            gap = round((moment - previous).total_seconds() * 1000)
        steps.append({**entry, "GapMs": gap})
        previous = moment or previous
    return steps


def field_errors(errors: Sequence[Any]) -> dict[str, str]:
    """The API's ``errors[path, message]`` by form field (``query.status`` → ``status``)."""
    return {str(e.path).rpartition(".")[2]: e.message for e in errors}


def page_link(filters: Mapping[str, str], cursor: str | None) -> str | None:
    """The signals page's URL for the next page, with the same filters."""
    if cursor is None:
        return None
    return "/console/signals?" + urlencode({**filters, "cursor": cursor})


def signal_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a signals table and the live updates show."""
    return {
        "id": record.get("SignalId"),
        "created": record.get("CreatedAt"),
        "alert": record.get("AlertId"),
        "symbol": record.get("Symbol"),
        "action": record.get("Action"),
        "quantity": record.get("Quantity") or record.get("RequestedQuantity"),
        "filled": record.get("FilledQuantity"),
        "status": record.get("Status"),
        "reason": record.get("Reason"),
    }
