"""The outcomes the workers record in a tenant's log, next to the commands that caused them.

Each is a CloudEvent whose ``type`` is one of the names below, ``source`` "worker", ``subject``
the alert, broker or signal it is about, and whose ``data`` carries everything the projections
need: the read models can be rebuilt from these events alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from baas.core.event_time import format_time

ALERT_CONFIGURED = "AlertConfigured"
BROKER_CONFIGURED = "BrokerConfigured"
BROKER_REMOVED = "BrokerRemoved"
SIGNAL_ACCEPTED = "SignalAccepted"
SIGNAL_REJECTED = "SignalRejected"
ORDER_SUBMITTED = "OrderSubmitted"
ORDER_FILLED = "OrderFilled"
ORDER_REJECTED = "OrderRejected"
ORDER_CANCELLED = "OrderCancelled"
PRICE_OBSERVED = "PriceObserved"
COMMAND_FAILED = "CommandFailed"

OUTCOMES = frozenset(
    {
        ALERT_CONFIGURED,
        BROKER_CONFIGURED,
        BROKER_REMOVED,
        SIGNAL_ACCEPTED,
        SIGNAL_REJECTED,
        ORDER_SUBMITTED,
        ORDER_FILLED,
        ORDER_REJECTED,
        ORDER_CANCELLED,
        PRICE_OBSERVED,
        COMMAND_FAILED,
    }
)
SOURCE = "worker"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type: str
    subject: str
    time: datetime
    data: dict[str, Any] = field(default_factory=dict)


def to_json(event: DomainEvent, event_id: str, tenant_id: str) -> bytes:
    """The outcome as a canonical CloudEvent (the same JSON form as the commands)."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": SOURCE,
            "type": event.type,
            "subject": event.subject,
            "time": format_time(event.time),
            "datacontenttype": "application/json",
            "tenantid": tenant_id,
            "data": event.data,
        },
        default=str,
    )


def outcome_of(document: dict[str, Any]) -> DomainEvent | None:
    """The worker's outcome a log entry holds; None for any other entry (a command)."""
    if document.get("source") != SOURCE or document.get("type") not in OUTCOMES:
        return None
    return from_document(document)


def from_document(document: dict[str, Any]) -> DomainEvent:
    return DomainEvent(
        document["type"],
        document["subject"],
        datetime.fromisoformat(document["time"]),
        document.get("data") or {},
    )
