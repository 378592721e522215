"""Daily closes in the store and what reads them (order prices, marks, NAV, benchmarks); they are
filled by imports (``baas.core.ledger.price_files``) and by a ``PriceProvider``.

Layout (see ``Keyspace``): per symbol, a hash ``{px:SYMBOL}:closes`` of ISO date → close (an exact
decimal string) and ``{px:SYMBOL}:latest`` (``<date> <close>`` of the newest date); a global set
of the symbols known. These are shared by every tenant (the operator's imports, the provider's
closes). A tenant's own imports live under its hash tag (``{t:TENANT}:px:SYMBOL:closes``) and win,
for that tenant, over the shared close of the same date. A close that is not in the store is
never invented: no interpolation, no carrying over into a missing date when an order's price is
resolved (the NAV carries a held symbol's last close, see ``baas.core.ledger.nav``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from baas.core.keyspace import Keyspace
from baas.core.ledger.bounds import amount_problem
from baas.core.ledger.price_files import ImportResult, PriceRow, close_text
from baas.core.ledger.price_provider import PriceProvider
from baas.core.ledger.symbols import normalize_symbol
from baas.store import functions

log = logging.getLogger("baas.prices")

PUT_CHUNK = 2000  # (date, close) pairs per server-side call

Item = TypeVar("Item")


def _usable(close: str) -> bool:
    """False for a close stored before closes were bounded (1e-30): it is never read."""
    return amount_problem(Decimal(close)) is None


class PriceStore:
    def __init__(
        self,
        store: aioredis.Redis,
        keyspace: Keyspace,
        provider: PriceProvider | None = None,
        provider_days: int = 10,
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.provider = provider
        # A close asked of the provider brings the days before it too (one call, a week's cache).
        self.provider_days = provider_days

    async def put(
        self, symbol: str, closes: Mapping[date, Decimal], tenant_id: str | None = None
    ) -> int:
        """Write ``closes`` of one symbol (replacing closes of the same dates), shared or
        ``tenant_id``'s own; the number of new dates."""
        symbol = normalize_symbol(symbol)
        pairs = sorted((d.isoformat(), close_text(c)) for d, c in closes.items())
        added = 0
        for start in range(0, len(pairs), PUT_CHUNK):
            call = functions.prices_put(
                closes_hash=self.keys.price_closes(symbol, tenant_id),
                latest=self.keys.price_latest(symbol, tenant_id),
                closes=[x for pair in pairs[start : start + PUT_CHUNK] for x in pair],
            )
            added += int(await self.store.execute_command(*call.command()))
        if pairs:
            symbols = (
                self.keys.price_symbols
                if tenant_id is None
                else self.keys.tenant_price_symbols(tenant_id)
            )
            async with self.store.pipeline(transaction=False) as pipe:
                pipe.sadd(symbols, symbol)
                pipe.incr(self.keys.price_generation)
                await pipe.execute()
        return added

    async def import_rows(
        self, rows: Iterable[PriceRow], skipped: int = 0, tenant_id: str | None = None
    ) -> ImportResult:
        by_symbol: dict[str, dict[date, Decimal]] = {}
        for row in rows:
            by_symbol.setdefault(row.symbol, {})[row.day] = row.close
        added = 0
        for symbol, closes in by_symbol.items():
            added += await self.put(symbol, closes, tenant_id)
        days = [d for closes in by_symbol.values() for d in closes]
        return ImportResult(
            imported=sum(len(c) for c in by_symbol.values()),
            added=added,
            skipped=skipped,
            symbols={s: len(c) for s, c in by_symbol.items()},
            first_date=min(days) if days else None,
            last_date=max(days) if days else None,
        )

    async def symbols(self) -> list[str]:
        """The symbols with shared closes."""
        return sorted(m.decode() for m in await self.store.smembers(self.keys.price_symbols))

    async def _read_sources(
        self,
        items: list[Item],
        tenant_id: str | None,
        read: Callable[[Pipeline, Item, str | None], object],
    ) -> list[list[Any]]:
        """Per item, the replies of ``read`` queued once for each source of the tenant's closes,
        in one round trip; the one that wins comes last: shared, then the tenant's own."""
        sources = (None,) if tenant_id is None else (None, tenant_id)
        async with self.store.pipeline(transaction=False) as pipe:
            for item in items:
                for source in sources:
                    read(pipe, item, source)
            replies = iter(await pipe.execute())
        return [[next(replies) for _ in sources] for _ in items]

    async def closes(
        self, symbols: Collection[str], tenant_id: str | None = None
    ) -> dict[str, dict[date, str]]:
        """Every close of each symbol (exact decimal strings), the shared ones and, with
        ``tenant_id``, the tenant's own, which win on their dates; a symbol without any is
        left out."""
        ordered = sorted(set(symbols))
        replies = await self._read_sources(
            ordered,
            tenant_id,
            lambda pipe, symbol, source: pipe.hgetall(self.keys.price_closes(symbol, source)),
        )
        found = {}
        for symbol, per_source in zip(ordered, replies, strict=True):
            series: dict[date, str] = {}
            for rows in per_source:
                series.update(
                    (date.fromisoformat(d.decode()), c.decode())
                    for d, c in rows.items()
                    if _usable(c.decode())
                )
            if series:
                found[symbol] = dict(sorted(series.items()))
        return found

    async def closes_of(
        self,
        symbol: str,
        start: date | None = None,
        end: date | None = None,
        tenant_id: str | None = None,
    ) -> dict[date, Decimal]:
        series = (await self.closes([symbol], tenant_id)).get(symbol, {})
        return {
            d: Decimal(c)
            for d, c in series.items()
            if (start is None or d >= start) and (end is None or d <= end)
        }

    async def latest(
        self, symbols: Collection[str], tenant_id: str | None = None
    ) -> dict[str, tuple[date, Decimal]]:
        """The newest close of each symbol that has one (the tenant's on a date both have)."""
        ordered = sorted(set(symbols))
        replies = await self._read_sources(
            ordered,
            tenant_id,
            lambda pipe, symbol, source: pipe.get(self.keys.price_latest(symbol, source)),
        )
        found: dict[str, tuple[date, Decimal]] = {}
        for symbol, per_source in zip(ordered, replies, strict=True):
            for raw in per_source:
                if not raw:
                    continue
                day, _, close = raw.decode().partition(" ")
                newest = found.get(symbol)
                if _usable(close) and (newest is None or date.fromisoformat(day) >= newest[0]):
                    found[symbol] = (date.fromisoformat(day), Decimal(close))
        return found

    async def closes_on(
        self, wanted: Collection[tuple[str, date]], tenant_id: str | None = None
    ) -> dict[tuple[str, date], Decimal]:
        """The close of each (symbol, date) the store has (the tenant's own first), else the
        provider's (then stored, shared); pairs with no close anywhere are left out."""
        pairs = sorted(set(wanted))
        replies = await self._read_sources(
            pairs,
            tenant_id,
            lambda pipe, pair, source: pipe.hget(
                self.keys.price_closes(pair[0], source), pair[1].isoformat()
            ),
        )
        found = {}
        for pair, per_source in zip(pairs, replies, strict=True):
            for raw in per_source:
                if raw and _usable(raw.decode()):
                    found[pair] = Decimal(raw.decode())
        missing = [pair for pair in pairs if pair not in found]
        if missing and self.provider is not None:
            found.update(await self._from_provider(missing))
        return found

    async def _from_provider(
        self, missing: list[tuple[str, date]]
    ) -> dict[tuple[str, date], Decimal]:
        assert self.provider is not None
        by_symbol: dict[str, list[date]] = {}
        for symbol, day in missing:
            by_symbol.setdefault(symbol, []).append(day)
        found: dict[tuple[str, date], Decimal] = {}
        for symbol, days in by_symbol.items():
            start = min(days) - timedelta(days=self.provider_days)
            try:
                closes = await self.provider.closes(symbol, start, max(days))
            except Exception as exc:  # a provider's outage must not fail the request
                log.warning(
                    "price provider failed",
                    extra={"provider": self.provider.name, "symbol": symbol, "error": str(exc)},
                )
                continue
            if closes:
                await self.put(symbol, closes)
            found.update({(symbol, d): closes[d] for d in days if d in closes})
        return found
