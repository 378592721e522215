"""Commands to decisions: each command on the log is decided by the pure core and recorded.

Recording is atomic and idempotent (``TradingStore.record``): a command handled twice, by one
worker after a crash or by two at once, has its outcomes recorded once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from baas.core.trading import configuration, events
from baas.core.trading.commands import (
    Command,
    CommandDecoder,
    ConfigureAlert,
    ConfigureBroker,
    RemoveBroker,
    SubmitSignal,
)
from baas.core.trading.events import DomainEvent
from baas.core.trading.readmodel import ReadModel, evolve
from baas.core.trading.signals import SignalPolicy, decide_signal
from baas.store.trading import Recorded, TradingStore
from workers.brokers import BrokerRegistry
from workers.outcome_log import log_outcomes

log = logging.getLogger("baas.worker")

MAX_ATTEMPTS = 50
# What a decider returns: the model's version it read, the model with the outcomes applied, and
# the outcomes.
Decision = tuple[int, ReadModel, list[DomainEvent]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CommandHandler:
    def __init__(
        self,
        trading: TradingStore,
        policy: SignalPolicy,
        now: Callable[[], datetime] = utc_now,
        brokers: BrokerRegistry | None = None,
    ) -> None:
        self.trading = trading
        self.policy = policy
        self.now = now
        self.brokers = brokers

    def decode(self, entry_id: str, tenant_id: str, document: dict[str, Any]) -> Command | None:
        """The log entry's command, if it is one the registry decides."""
        return DECODER.decode(entry_id, tenant_id, document)

    async def handle(self, command: Command) -> list[DomainEvent] | None:
        """Decide and record one command; its outcomes (None: already handled)."""
        decide = DECIDERS[type(command)]
        tenant_id, entry_id = command.tenant_id, command.entry_id
        for attempt in range(MAX_ATTEMPTS):
            now = self.now()
            version, model, outcomes = await decide(self, command, now)
            result = await self.trading.record(
                tenant_id, entry_id, version, entry_id, outcomes, model, now
            )
            if result is Recorded.OK:
                log_outcomes(tenant_id, outcomes)
                await self._send_to_brokers(tenant_id, model, outcomes)
                return outcomes
            if result is Recorded.HANDLED:
                await self._resend_unfinished(command)
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

    async def _resend_unfinished(self, command: Command) -> None:
        if not isinstance(command, SubmitSignal) or self.brokers is None:
            return
        signal_id = command.data.get("Id")
        _, model = await self.trading.load(command.tenant_id, signals=[signal_id])
        record = model.signals.get(signal_id)
        if record is None or record["Status"] not in ("accepted", "submitted", "partially_filled"):
            return
        broker = model.broker(record.get("BrokerId") or "") or {}
        if broker.get("Kind") == "ibkr":
            await self.brokers.submit(command.tenant_id, broker, record)

    async def give_up(self, command: Command, error: str) -> None:
        """Record that a command could not be handled, so that it still has an outcome: a
        signal is rejected with the reason; another command gets a CommandFailed event."""
        now = self.now()
        data = command.data
        reason = f"internal error while handling the command: {error}"
        for _ in range(MAX_ATTEMPTS):
            version, model = await self.trading.load(
                command.tenant_id, signals=[str(data.get("Id", ""))]
            )
            if (
                isinstance(command, SubmitSignal)
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
                    command.event_id,
                    now,
                    {"CommandType": command.type, "Reason": reason},
                )
            evolve(model, outcome)
            result = await self.trading.record(
                command.tenant_id,
                command.entry_id,
                version,
                command.entry_id,
                [outcome],
                model,
                now,
            )
            if result is Recorded.OK:
                log_outcomes(command.tenant_id, [outcome])
            if result is not Recorded.CONFLICT:
                return


async def decide_signal_command(
    handler: CommandHandler, command: SubmitSignal, now: datetime
) -> Decision:
    data = command.data
    version, model = await handler.trading.load(
        command.tenant_id, alerts=[data["CorrelationId"]], signals=[data["Id"]]
    )
    if handler.brokers is not None:
        for broker_id in model.brokers:
            equity = handler.brokers.equity(command.tenant_id, broker_id)
            if equity is not None:
                model.external_equity[broker_id] = equity
    outcomes = decide_signal(
        data, command.time, command.target_position, model, now, handler.policy
    )
    return version, model, outcomes


async def decide_alert_configuration(
    handler: CommandHandler, command: ConfigureAlert, now: datetime
) -> Decision:
    alert_id = command.data["AlertId"]
    version, model = await handler.trading.load(command.tenant_id, alerts=[alert_id])
    token = secrets.token_urlsafe(24)
    outcome = configuration.configure_alert(
        command.kind, command.data, model.alerts.get(alert_id), now, token
    )
    return _applied(version, model, [outcome])


async def decide_broker_configuration(
    handler: CommandHandler, command: ConfigureBroker, now: datetime
) -> Decision:
    version, model = await handler.trading.load(command.tenant_id)
    return _applied(version, model, [configuration.configure_broker(command.data, now)])


async def decide_broker_removal(
    handler: CommandHandler, command: RemoveBroker, now: datetime
) -> Decision:
    broker_id = command.data["BrokerId"]
    version, model = await handler.trading.load(command.tenant_id)
    exists = model.broker(broker_id) is not None
    return _applied(version, model, configuration.remove_broker(broker_id, exists, now))


def _applied(version: int, model: ReadModel, outcomes: list[DomainEvent]) -> Decision:
    for outcome in outcomes:
        evolve(model, outcome)
    return version, model, outcomes


# The commands the workers decide: a new command type is its dataclass (in
# ``baas.core.trading.commands``), its decider and its line here.
DECIDERS: dict[type[Command], Callable[[CommandHandler, Any, datetime], Awaitable[Decision]]] = {
    SubmitSignal: decide_signal_command,
    ConfigureAlert: decide_alert_configuration,
    ConfigureBroker: decide_broker_configuration,
    RemoveBroker: decide_broker_removal,
}
DECODER = CommandDecoder(DECIDERS)
