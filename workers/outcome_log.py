"""One readable log line per outcome the worker records: what the terminal of ``make run`` shows.

A line names ids, symbols, quantities, prices and reasons; never an event's data as a whole (an
alert's carries its webhook token).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from baas.core.trading import events as ev
from baas.core.trading.events import DomainEvent

log = logging.getLogger("baas.worker")

_STEPS = frozenset({ev.SIGNAL_ACCEPTED, ev.ORDER_SUBMITTED})
"""A signal's steps that a later outcome of the same signal, in the same decision, says more
about: a paper market order is one "filled" line, not three."""
_SIGNAL_OUTCOMES = frozenset(
    {
        ev.SIGNAL_ACCEPTED,
        ev.SIGNAL_REJECTED,
        ev.ORDER_SUBMITTED,
        ev.ORDER_FILLED,
        ev.ORDER_REJECTED,
        ev.ORDER_CANCELLED,
    }
)


def _number(value: object) -> str:
    """421.3700 as 421.37, 10.0 as 10: as a person writes it."""
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)


def _signal_line(event: DomainEvent) -> str:
    data, signal = event.data, event.subject
    broker = data.get("BrokerId")
    if event.type == ev.SIGNAL_ACCEPTED:
        return (
            f"signal {signal} accepted: {data.get('Side')} {_number(data.get('Quantity'))} "
            f"{data.get('Symbol')} for {broker}"
        )
    if event.type == ev.ORDER_SUBMITTED:
        limit = f" limit {_number(data['LimitPrice'])}" if data.get("LimitPrice") else ""
        resting = " (resting)" if data.get("Resting") else ""
        return (
            f"signal {signal} submitted: {data.get('Side')} {_number(data.get('Quantity'))} "
            f"{data.get('Symbol')} {data.get('OrderType')}{limit} on {broker}{resting}"
        )
    if event.type == ev.ORDER_FILLED:
        return (
            f"signal {signal} filled {_number(data.get('Quantity'))} {data.get('Symbol')} "
            f"@ {_number(data.get('Price'))} on {broker}"
        )
    if event.type == ev.SIGNAL_REJECTED:
        return f"signal {signal} rejected: {data.get('Reason')}"
    if event.type == ev.ORDER_REJECTED:
        return f"signal {signal} rejected by {broker}: {data.get('Reason')}"
    return f"signal {signal} cancelled on {broker}: {data.get('Reason')}"


def _configuration_line(event: DomainEvent) -> str | None:
    data, subject = event.data, event.subject
    disabled = "" if data.get("Enabled", True) else ", disabled"
    if event.type == ev.ALERT_CONFIGURED:
        broker = data.get("BrokerId")
        return f"alert {subject} configured ({data.get('Kind')}, broker {broker}{disabled})"
    if event.type == ev.BROKER_CONFIGURED:
        return f"broker {subject} configured ({data.get('Kind')}{disabled})"
    if event.type == ev.BROKER_REMOVED:
        return f"broker {subject} removed"
    if event.type == ev.COMMAND_FAILED:
        return f"command {subject} ({data.get('CommandType')}) failed: {data.get('Reason')}"
    return None  # PriceObserved: the paper broker's bookkeeping


def outcome_lines(outcomes: Sequence[DomainEvent]) -> list[tuple[str, dict[str, Any]]]:
    """The lines for one decision's outcomes, each with its fields."""
    lines = []
    for index, event in enumerate(outcomes):
        if event.type in _STEPS and any(
            later.subject == event.subject and later.type in _SIGNAL_OUTCOMES
            for later in outcomes[index + 1 :]
        ):
            continue
        if event.type in _SIGNAL_OUTCOMES:
            line: str | None = _signal_line(event)
            fields = {"signal_id": event.subject, "broker_id": event.data.get("BrokerId")}
        else:
            line = _configuration_line(event)
            fields = {"subject": event.subject}
        if line is not None:
            lines.append((line, {"outcome": event.type, **fields}))
    return lines


def log_outcomes(tenant_id: str, outcomes: Sequence[DomainEvent]) -> None:
    for line, fields in outcome_lines(outcomes):
        level = logging.WARNING if fields["outcome"] == ev.COMMAND_FAILED else logging.INFO
        log.log(level, line, extra={"tenant_id": tenant_id, **fields})
