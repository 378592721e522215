"""Per-process caches for GET …/nav and …/performance, so that reading them again costs one store
round trip and the metrics, whatever the length of the history.

- A strategy's history list is append-only and its length is the strategy's version: a cached,
  parsed history only needs the entries after it (its last entry is compared with the store's,
  which catches a history rewritten by ``rebuild_ledger``).
- A NAV series is cached under the strategy's version, the benchmark and the price generation (a
  counter bumped by every write of closes); a close series per symbol under the generation.

Nothing here is shared between processes; every entry is checked against the store on each read.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import orjson

from baas.core.ledger import LedgerEvent, NavSeries, Order, PositionSnapshot, build_nav_series
from baas.store.ledger import LedgerStore, ledger_event
from baas.store.ledger_prices import PriceStore

Closes = dict[str, dict[date, str]]


@dataclass(slots=True)
class _History:
    last: bytes | None = None  # the newest document parsed
    events: list[LedgerEvent] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)

    @property
    def length(self) -> int:
        return len(self.events)


def _parse(documents: Iterable[bytes]) -> list[LedgerEvent]:
    events = []
    for raw in documents:
        event = ledger_event(orjson.loads(raw))
        if event is not None:
            events.append(event)
    return events


def _symbols(events: Iterable[LedgerEvent]) -> set[str]:
    found: set[str] = set()
    for event in events:
        if isinstance(event, Order):
            found.add(event.symbol)
        elif isinstance(event, PositionSnapshot):
            found.update(p.symbol for p in event.positions)
    return found


class NavCache:
    def __init__(self, ledger: LedgerStore, prices: PriceStore, strategies: int = 32) -> None:
        self.ledger = ledger
        self.prices = prices
        self.size = strategies
        self._histories: OrderedDict[tuple[str, str], _History] = OrderedDict()
        self._navs: OrderedDict[tuple[str, str, str | None], tuple[int, int, NavSeries]] = (
            OrderedDict()
        )
        self._closes: dict[str, tuple[int, dict[date, str]]] = {}

    async def nav(
        self, tenant_id: str, strategy_id: str, benchmark: str | None
    ) -> tuple[NavSeries, dict[date, str]]:
        """The strategy's session NAV, and the benchmark's closes (empty without one)."""
        keys = self.ledger.keys
        cached = self._histories.get((tenant_id, strategy_id)) or _History()
        history_key = keys.ledger_history(tenant_id, strategy_id)
        async with self.ledger.store.pipeline(transaction=True) as pipe:
            pipe.lindex(history_key, max(cached.length - 1, 0))
            pipe.lrange(history_key, cached.length, -1)
            pipe.get(keys.price_generation)
            last, tail, generation = await pipe.execute()
        generation = int(generation or 0)
        if cached.length and last != cached.last:  # rewritten: read it all again
            cached = _History()
            tail = await self.ledger.history_documents(tenant_id, strategy_id)
        if tail:
            new_events = await asyncio.to_thread(_parse, tail)
            cached = _History(
                tail[-1], cached.events + new_events, cached.symbols | _symbols(new_events)
            )
        self._remember(self._histories, (tenant_id, strategy_id), cached)
        version = cached.length
        nav_key = (tenant_id, strategy_id, benchmark)
        hit = self._navs.get(nav_key)
        wanted = cached.symbols | ({benchmark} if benchmark else set())
        closes = await self._closes_of(wanted, generation)
        bench = closes.get(benchmark, {}) if benchmark else {}
        if hit is not None and hit[0] == version and hit[1] == generation:
            self._navs.move_to_end(nav_key)
            return hit[2], bench
        series = await asyncio.to_thread(
            build_nav_series, cached.events, closes, benchmark=benchmark
        )
        self._remember(self._navs, nav_key, (version, generation, series))
        return series, bench

    async def _closes_of(self, symbols: set[str], generation: int) -> Closes:
        stale = [s for s in symbols if self._closes.get(s, (-1, {}))[0] != generation]
        if stale:
            fresh = await self.prices.closes(stale)
            for symbol in stale:
                self._closes[symbol] = (generation, fresh.get(symbol, {}))
        return {s: self._closes[s][1] for s in symbols if self._closes[s][1]}

    def _remember(self, table: OrderedDict, key: object, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.size:
            table.popitem(last=False)
