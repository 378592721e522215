"""The ledger's refusals: what a write or a lookup cannot do, whatever stores it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baas.core.ledger.rows import iso_seconds


class UnknownTenant(LookupError):
    pass


class UnknownStrategy(LookupError):
    pass


class LedgerKeyRevoked(Exception):
    """The ledger API key that sent a write was revoked before the write was recorded."""


@dataclass(slots=True)
class MissingPrice(Exception):
    """An order without a price, and no close for its symbol on its date."""

    symbol: str
    executed_at: datetime

    def __str__(self) -> str:
        return f"No market data available for {self.symbol} at {iso_seconds(self.executed_at)}"
