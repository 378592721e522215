"""Commands to decisions: each command on the log is decided by the pure core and recorded.

Recording is atomic and idempotent (``TradingStore.record``): a command handled twice, by one
worker after a crash or by two at once, has its outcomes recorded once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from baas.core.trading import configuration, events
from baas.core.trading.events import DomainEvent
from baas.core.trading.readmodel import ReadModel, evolve
from baas.core.trading.signals import SignalPolicy, decide_signal
from baas.store.trading import Recorded, TradingStore
from workers.brokers import BrokerRegistry
from workers.outcome_log import log_outcomes

log = logging.getLogger("baas.worker")

SUBMIT_SIGNAL = "SubmitSignal"
CONFIGURE_ALERT = {"ConfigureIndicatorAlert": "indicator", "ConfigureStrategyAlert": "strategy"}
CONFIGURE_BROKER = "ConfigureBroker"
REMOVE_BROKER = "RemoveBroker"
COMMANDS = frozenset({SUBMIT_SIGNAL, CONFIGURE_BROKER, REMOVE_BROKER, *CONFIGURE_ALERT})
MAX_ATTEMPTS = 50


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CommandHandler:
    def __init__(
        self,
        trading: TradingStore,
        policy: SignalPolicy,
        clock: Callable[[], datetime] = _utcnow,
        brokers: BrokerRegistry | None = None,
    ) -> None:
        self.trading = trading
        self.policy = policy
        self.clock = clock
        self.brokers = brokers

    async def handle(
        self, tenant_id: str, entry_id: str, command: dict[str, Any]
    ) -> list[DomainEvent] | None:
        """Decide and record one command; its outcomes (None: not a command, or already handled)."""
        if command.get("type") not in COMMANDS:
            return None
        for attempt in range(MAX_ATTEMPTS):
            now = self.clock()
            version, model, outcomes = await self._decide(tenant_id, command, now)
            result = await self.trading.record(
                tenant_id, entry_id, version, entry_id, outcomes, model, now
            )
            if result is Recorded.OK:
                log_outcomes(tenant_id, outcomes)
                await self._send_to_brokers(tenant_id, model, outcomes)
                return outcomes
            if result is Recorded.HANDLED:
                await self._resend_unfinished(tenant_id, command)
                return None
            # Another worker recorded a decision for this tenant meanwhile: decide again.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError(f"{entry_id}: still conflicting after {MAX_ATTEMPTS} attempts")

    async def _send_to_brokers(
        self, tenant_id: str, model: ReadModel, outcomes: list[DomainEvent]
    ) -> None:
        """Accepted signals for brokers outside the sandbox go to them now, after the acceptance
        is recorded and before the command is acknowledged: a crash in between sends it again,
        and the broker adapter never places a second order for one signal. A broker configured
        or removed has this worker's connections follow at once."""
        if self.brokers is None:
            return
        if any(o.type in (events.BROKER_CONFIGURED, events.BROKER_REMOVED) for o in outcomes):
            await self.brokers.sync([tenant_id])  # the other workers follow within a sync period
        for outcome in outcomes:
            if outcome.type != events.SIGNAL_ACCEPTED:
                continue
            broker = model.broker(outcome.data["BrokerId"]) or {}
            if broker.get("Kind") == "ibkr":
                await self.brokers.submit(tenant_id, broker, outcome.data)

    async def _resend_unfinished(self, tenant_id: str, command: dict[str, Any]) -> None:
        if command.get("type") != SUBMIT_SIGNAL or self.brokers is None:
            return
        signal_id = (command.get("data") or {}).get("Id")
        _, model = await self.trading.load(tenant_id, signals=[signal_id])
        record = model.signals.get(signal_id)
        if record is None or record["Status"] not in ("accepted", "submitted", "partially_filled"):
            return
        broker = model.broker(record.get("BrokerId") or "") or {}
        if broker.get("Kind") == "ibkr":
            await self.brokers.submit(tenant_id, broker, record)

    async def give_up(
        self, tenant_id: str, entry_id: str, command: dict[str, Any], error: str
    ) -> None:
        """Record that a command could not be handled, so that it still has an outcome: a
        signal is rejected with the reason; another command gets a CommandFailed event."""
        now = self.clock()
        data = command.get("data") or {}
        reason = f"internal error while handling the command: {error}"
        for _ in range(MAX_ATTEMPTS):
            version, model = await self.trading.load(tenant_id, signals=[str(data.get("Id", ""))])
            if (
                command.get("type") == SUBMIT_SIGNAL
                and data.get("Id")
                and data["Id"] not in model.signals
            ):
                outcome = DomainEvent(
                    events.SIGNAL_REJECTED,
                    data["Id"],
                    now,
                    {
                        "SignalId": data["Id"],
                        "AlertId": data.get("CorrelationId"),
                        "Symbol": data.get("Symbol"),
                        "Action": data.get("Data"),
                        "Reason": reason,
                    },
                )
            else:
                outcome = DomainEvent(
                    events.COMMAND_FAILED,
                    str(command.get("id")),
                    now,
                    {"CommandType": command.get("type"), "Reason": reason},
                )
            evolve(model, outcome)
            result = await self.trading.record(
                tenant_id, entry_id, version, entry_id, [outcome], model, now
            )
            if result is Recorded.OK:
                log_outcomes(tenant_id, [outcome])
            if result is not Recorded.CONFLICT:
                return

    async def _decide(
        self, tenant_id: str, command: dict[str, Any], now: datetime
    ) -> tuple[int, ReadModel, list[DomainEvent]]:
        kind = command["type"]
        data = command.get("data") or {}
        if kind == SUBMIT_SIGNAL:
            version, model = await self.trading.load(
                tenant_id, alerts=[data["CorrelationId"]], signals=[data["Id"]]
            )
            if self.brokers is not None:
                for broker_id in model.brokers:
                    equity = self.brokers.equity(tenant_id, broker_id)
                    if equity is not None:
                        model.external_equity[broker_id] = equity
            event_time = datetime.fromisoformat(command["time"])
            target = _decimal(command.get("targetposition"))
            return version, model, decide_signal(data, event_time, target, model, now, self.policy)
        if kind in CONFIGURE_ALERT:
            version, model = await self.trading.load(tenant_id, alerts=[data["AlertId"]])
            existing = model.alerts.get(data["AlertId"])
            token = secrets.token_urlsafe(24)
            outcomes = [
                configuration.configure_alert(CONFIGURE_ALERT[kind], data, existing, now, token)
            ]
        elif kind == CONFIGURE_BROKER:
            version, model = await self.trading.load(tenant_id)
            outcomes = [configuration.configure_broker(data, now)]
        else:
            version, model = await self.trading.load(tenant_id)
            exists = model.broker(data["BrokerId"]) is not None
            outcomes = configuration.remove_broker(data["BrokerId"], exists, now)
        for outcome in outcomes:
            evolve(model, outcome)
        return version, model, outcomes


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
