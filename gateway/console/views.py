"""Pure presentation helpers of the console's pages (no I/O)."""

from __future__ import annotations

import re
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


def live_link(filters: Mapping[str, str], cursor: str | None) -> str:
    """Where a signals table polls for updates: the first page only, with its filters."""
    if cursor:
        return ""
    chosen = {k: v for k, v in filters.items() if v}
    return "/console/signals.json" + (f"?{urlencode(chosen)}" if chosen else "")


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


# Forms built from the commands' JSON Schemas

# Properties no form shows: set by the path, not editable here, or a button of their own.
HIDDEN_PROPERTIES = frozenset({"AlertId", "TenantId", "SymbolMap", "RotateWebhookToken"})


def schema_fields(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inputs of a command's form: one per property, typed from the schema."""
    fields = []
    for name, spec in document.get("properties", {}).items():
        if name in HIDDEN_PROPERTIES:
            continue
        kind = spec.get("type")
        enum = ["true", "false"] if kind == "boolean" else spec.get("enum", [])
        options = [str(v) for v in enum]
        fields.append(
            {
                "name": name,
                "input": "select" if options else ("number" if kind in NUMBERS else "text"),
                "options": options,
                "hint": _FIRST_SENTENCE.split(str(spec.get("description", "")), 1)[0],
            }
        )
    return fields


NUMBERS = ("number", "integer")
# A sentence ends at a full stop before a capital ("e.g. \"MSFT\"" does not end one).
_FIRST_SENTENCE = re.compile(r"\.\s+(?=[A-Z])")


def form_data(document: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The command's data from a form: the fields filled in, typed as the schema says. A value
    that does not parse is kept as text, for the schema to name the field."""
    data: dict[str, Any] = {}
    for name, spec in document.get("properties", {}).items():
        raw = form.get(name, "").strip()
        if not raw or spec.get("type") == "object":
            continue
        data[name] = _typed(spec.get("type"), raw)
    return data


def _typed(kind: Any, raw: str) -> Any:
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if kind in NUMBERS:
        try:
            return int(raw)
        except ValueError:
            pass
        if kind == "number":
            try:
                return float(raw)
            except ValueError:
                pass
    return raw


def test_message(template: str, ticker: str, price: str, now: str) -> str:
    """An alert's message template filled in as TradingView fills it when the alert fires (a
    strategy's order: a buy of one)."""
    values = {
        "ticker": ticker,
        "close": price,
        "timenow": now,
        "strategy.order.action": "buy",
        "strategy.order.contracts": "1",
        "strategy.position_size": "1",
        "strategy.market_position": "long",
        "strategy.order.price": price,
        "strategy.order.id": "console-test",
    }
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template
