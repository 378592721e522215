"""The commands the workers decide, as typed values decoded once from a tenant's log.

Each command type's name is defined here once; its data is the command's ``data``, already
checked against its schema by the gateway. Which types the workers decide, and how, is their
registry's (``workers.handlers.DECIDERS``); a log entry of any other type decodes to None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self

SUBMIT_SIGNAL = "SubmitSignal"
CONFIGURE_INDICATOR_ALERT = "ConfigureIndicatorAlert"
CONFIGURE_STRATEGY_ALERT = "ConfigureStrategyAlert"
CONFIGURE_BROKER = "ConfigureBroker"
REMOVE_BROKER = "RemoveBroker"


@dataclass(frozen=True, slots=True)
class Command:
    """A command as logged: its stream entry, tenant, event id, type, time and data."""

    TYPES: ClassVar[tuple[str, ...]] = ()

    entry_id: str
    tenant_id: str
    event_id: str
    type: str
    time: datetime
    data: dict[str, Any]

    @classmethod
    def decode(cls, entry_id: str, tenant_id: str, document: Mapping[str, Any]) -> Self:
        return cls(
            entry_id,
            tenant_id,
            str(document.get("id")),
            document["type"],
            datetime.fromisoformat(document["time"]),
            document.get("data") or {},
        )


@dataclass(frozen=True, slots=True)
class SubmitSignal(Command):
    TYPES: ClassVar[tuple[str, ...]] = (SUBMIT_SIGNAL,)

    # The position a strategy alert's message asks for (the ``targetposition`` extension).
    target_position: Decimal | None = None

    @classmethod
    def decode(cls, entry_id: str, tenant_id: str, document: Mapping[str, Any]) -> Self:
        command = Command.decode(entry_id, tenant_id, document)
        return cls(
            command.entry_id,
            command.tenant_id,
            command.event_id,
            command.type,
            command.time,
            command.data,
            _decimal(document.get("targetposition")),
        )


@dataclass(frozen=True, slots=True)
class ConfigureAlert(Command):
    TYPES: ClassVar[tuple[str, ...]] = (CONFIGURE_INDICATOR_ALERT, CONFIGURE_STRATEGY_ALERT)

    @property
    def kind(self) -> str:
        """``indicator`` or ``strategy``."""
        return "indicator" if self.type == CONFIGURE_INDICATOR_ALERT else "strategy"


@dataclass(frozen=True, slots=True)
class ConfigureBroker(Command):
    TYPES: ClassVar[tuple[str, ...]] = (CONFIGURE_BROKER,)


@dataclass(frozen=True, slots=True)
class RemoveBroker(Command):
    TYPES: ClassVar[tuple[str, ...]] = (REMOVE_BROKER,)


class CommandDecoder:
    """Log entries to the typed commands of the given classes (by their type names)."""

    def __init__(self, classes: Iterable[type[Command]]) -> None:
        self._classes = {name: cls for cls in classes for name in cls.TYPES}

    def decode(self, entry_id: str, tenant_id: str, document: Mapping[str, Any]) -> Command | None:
        """The entry's command; None when it is not one of these (an outcome, another type)."""
        cls = self._classes.get(document.get("type"))  # type: ignore[arg-type]
        return None if cls is None else cls.decode(entry_id, tenant_id, document)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
