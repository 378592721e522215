"""Polygon.io as the ledger's ``PriceProvider``: daily aggregates, as traded. Its key comes from
``Settings.polygon_api_key`` (``BAAS_POLYGON_API_KEY``, or ``POLYGON_API_KEY``) and is never
logged or shown."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from baas.core.ledger.price_files import parse_close
from baas.core.ledger.price_provider import PriceProvider
from baas.settings import Settings

log = logging.getLogger("baas.prices")


class PolygonProvider:
    """Daily aggregates from Polygon.io (``pip install polygon-api-client``), as traded
    (``adjusted=False``: the marks agree with the fill prices an order reports; splits are not
    adjusted). A bar's date is its session's date in New York."""

    name = "polygon"

    def __init__(self, api_key: str, client: Any = None) -> None:
        if client is None:
            try:
                from polygon import RESTClient  # optional dependency, imported only when used
            except ImportError as exc:
                raise RuntimeError(
                    "BAAS_POLYGON_API_KEY is set but polygon-api-client is not installed: "
                    "pip install 'polygon-api-client>=1.14'"
                ) from exc
            client = RESTClient(api_key)
        self._client = client

    async def closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        return await asyncio.to_thread(self._closes, symbol, start, end)

    def _closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        from zoneinfo import ZoneInfo

        new_york = ZoneInfo("America/New_York")
        found: dict[date, Decimal] = {}
        aggs = self._client.list_aggs(
            symbol, 1, "day", start.isoformat(), end.isoformat(), adjusted=False, limit=50000
        )
        for bar in aggs:
            close, stamp = getattr(bar, "close", None), getattr(bar, "timestamp", None)
            if close is None or stamp is None:
                continue
            day = datetime.fromtimestamp(stamp / 1000, UTC).astimezone(new_york).date()
            if start <= day <= end:
                found[day] = parse_close(close)
        return found


def price_provider(settings: Settings) -> PriceProvider | None:
    """Polygon when the settings hold its key (and its client is installed), else none."""
    api_key = settings.polygon_api_key.strip()
    if not api_key:
        return None
    try:
        return PolygonProvider(api_key)
    except RuntimeError as exc:
        log.warning("price provider unavailable", extra={"reason": str(exc)})
        return None
