"""The port for where closes the store lacks can come from (Polygon today, room for IBKR bars)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol


class PriceProvider(Protocol):
    """A source of daily closes; an adapter (``baas.adapters.polygon``) implements it."""

    name: str

    async def closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        """Daily closes of ``symbol`` from ``start`` to ``end`` inclusive (only dates with one)."""
        ...


# IBKR historical bars fit the same protocol: an ``IbkrBarsProvider(ib)`` would call
# ``ib.reqHistoricalDataAsync(contract, end, "N D", "1 day", "TRADES", useRTH=True)`` on the
# broker's ib_async connection and map ``bar.date → bar.close``.
