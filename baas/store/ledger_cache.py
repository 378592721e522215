"""GET …/nav and …/performance: the NAV projection of a strategy, kept in the store and in each
process, extended from its checkpoint by the events recorded since (``baas.core.ledger.nav``).

After the usual write (events dated at or after the newest one folded in), a read costs one store
round trip for the new history entries and the price generation, and the NAV from the checkpoint
on: the events of the newest day and the sessions from the checkpoint's date. It does not grow
with the history before it. A new close for a date after the checkpoint re-extends it the same
way. The whole history is replayed (a rebuild) only when the checkpoint no longer holds:

- an effective event dated before the newest one folded in (a backfill);
- a changed or added close of a symbol of the strategy (or of the benchmark) dated on or before
  the checkpoint's date: each record keeps a fingerprint of those closes;
- a history that is not the one folded in (its entry at the record's length differs: a rebuild of
  the ledger that changed it), or no record at all.

Each process keeps the projections it served (by strategy and benchmark) and the closes it read
(per tenant, as the tenant sees them, by price generation); the store keeps a record per strategy
and benchmark (``NavRecord``, at most ``MAX_BENCHMARKS``), written after a rebuild, when the
checkpoint moves to a later date, or after ``PERSIST_EVERY`` events, so that another process (or
this one after a restart) starts from it and reads only the history entries after it. Both are
checked against the store on each read.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import orjson

from baas.core.ledger import (
    LedgerEvent,
    NavProjection,
    NavSeries,
    Order,
    PositionSnapshot,
    build_nav_projection,
    extend_nav_series,
)
from baas.core.ledger.log_entries import ledger_event
from baas.core.ledger.nav_record import FingerprintedCloses, NavRecord, fingerprints, history_digest
from baas.store.ledger import HISTORY_PAGE, LedgerStore
from baas.store.ledger_prices import PriceStore

Closes = dict[str, FingerprintedCloses]

PERSIST_EVERY = 1_000  # events folded in since the stored record before it is written again
MAX_BENCHMARKS = 4  # records kept per strategy (one per benchmark asked)
INLINE_EVENTS = 2_000  # more events than this are parsed and computed in a worker thread


@dataclass(slots=True)
class _Nav:
    """A NAV projection and what it holds for."""

    version: int  # history entries folded in
    last: str | None  # history_digest of the last of them
    generation: int  # price generation of the closes used (-1: the series is to be recomputed)
    projection: NavProjection
    fingerprints: dict[str, str]
    stored_version: int = -1  # the version of the record in the store (-1: none known)
    stored_through: date | None = None

    def record(self) -> NavRecord:
        return NavRecord(
            self.version,
            self.last,
            self.generation,
            self.fingerprints,
            self.projection.checkpoint,
        )


@dataclass(slots=True)
class NavStats:
    """What the reads did (for tests and benchmarks)."""

    rebuilds: int = 0
    extensions: int = 0
    hits: int = 0
    loads: int = 0  # records read from the store
    stores: int = 0  # records written to the store


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


async def _parsed(documents: list[bytes]) -> list[LedgerEvent]:
    if len(documents) > INLINE_EVENTS:  # a worker thread: the event loop keeps serving
        return await asyncio.to_thread(_parse, documents)
    return _parse(documents)


def _effective(events: Iterable[LedgerEvent]) -> bool:
    return any(not isinstance(e, Order) or e.is_effective for e in events)


class NavCache:
    def __init__(self, ledger: LedgerStore, prices: PriceStore, strategies: int = 32) -> None:
        self.ledger = ledger
        self.prices = prices
        self.size = strategies
        self.stats = NavStats()
        self._navs: OrderedDict[tuple[str, str, str | None], _Nav] = OrderedDict()
        # (tenant, symbol) → the price generation read at and the closes the tenant sees.
        self._closes: dict[tuple[str, str], tuple[int, FingerprintedCloses | None]] = {}
        self._locks: dict[tuple[str, str, str | None], tuple[asyncio.Lock, int]] = {}

    async def nav(
        self, tenant_id: str, strategy_id: str, benchmark: str | None
    ) -> tuple[NavSeries, Mapping[date, str]]:
        """The strategy's session NAV, and the benchmark's closes (empty without one)."""
        key = (tenant_id, strategy_id, benchmark or None)
        async with self._exclusive(key):
            entry = await self._current(key)
            self._remember(key, entry)
        bench: Mapping[date, str] = {}
        if benchmark:
            found = (await self._closes_of(tenant_id, {benchmark}, entry.generation)).get(benchmark)
            if found is not None:
                bench = found.series
        return entry.projection.series, bench

    async def _current(self, key: tuple[str, str, str | None]) -> _Nav:
        """The projection brought up to the history and closes in the store now."""
        tenant_id, strategy_id, benchmark = key
        entry = self._navs.get(key)
        if entry is None:
            entry = await self._load(key)
        if entry is None:
            return await self._rebuild(key, None)
        history_key = self.ledger.keys.ledger_history(tenant_id, strategy_id)
        start = entry.version
        async with self.ledger.store.pipeline(transaction=True) as pipe:
            pipe.get(self.ledger.keys.price_generation)
            pipe.lindex(history_key, start - 1)
            pipe.lrange(history_key, start, start + HISTORY_PAGE - 1)
            generation, at_last, tail = await pipe.execute()
        generation = int(generation or 0)
        if start and (at_last is None or history_digest(at_last) != entry.last):
            return await self._rebuild(key, entry)  # not the history it was made of
        page = tail
        while len(page) == HISTORY_PAGE:  # far behind: read on
            page = await self.ledger.store.lrange(
                history_key, start + len(tail), start + len(tail) + HISTORY_PAGE - 1
            )
            tail += page
        if not tail and generation == entry.generation:
            self.stats.hits += 1
            return entry
        new = await _parsed(tail)
        checkpoint = entry.projection.checkpoint
        if not checkpoint.accepts(new):
            return await self._rebuild(key, entry)  # a backfill
        closes = await self._closes_of(
            tenant_id,
            checkpoint.symbols | _symbols(new) | ({benchmark} if benchmark else set()),
            generation,
        )
        if generation != entry.generation:
            held = fingerprints(checkpoint, closes)
            if any(held.get(s) != print_ for s, print_ in entry.fingerprints.items()):
                return await self._rebuild(key, entry)  # a close before the checkpoint changed
        version = start + len(tail)
        last = history_digest(tail[-1]) if tail else entry.last
        if generation == entry.generation and not _effective(new):
            projection = entry.projection  # only orders that move nothing (pending, cancelled)
        else:
            series_closes = {s: c.series for s, c in closes.items() if c is not None}
            if len(new) + len(checkpoint.pending) > INLINE_EVENTS:
                projection = await asyncio.to_thread(
                    extend_nav_series, checkpoint, new, series_closes
                )
            else:
                projection = extend_nav_series(checkpoint, new, series_closes)
            self.stats.extensions += 1
        updated = _Nav(
            version,
            last,
            generation,
            projection,
            fingerprints(projection.checkpoint, closes),
            entry.stored_version,
            entry.stored_through,
        )
        if (
            entry.stored_version < 0
            or projection.checkpoint.through != entry.stored_through
            or version - entry.stored_version >= PERSIST_EVERY
        ):
            await self._store(key, updated)
        return updated

    async def _rebuild(self, key: tuple[str, str, str | None], entry: _Nav | None) -> _Nav:
        """The projection of the whole history, from the start."""
        tenant_id, strategy_id, benchmark = key
        generation = int(await self.ledger.store.get(self.ledger.keys.price_generation) or 0)
        history_key = self.ledger.keys.ledger_history(tenant_id, strategy_id)
        events: list[LedgerEvent] = []
        version, last = 0, None
        while True:
            page = await self.ledger.store.lrange(history_key, version, version + HISTORY_PAGE - 1)
            if page:
                events += await _parsed(page)
                version += len(page)
                last = history_digest(page[-1])
            if len(page) < HISTORY_PAGE:
                break
        closes = await self._closes_of(
            tenant_id, _symbols(events) | ({benchmark} if benchmark else set()), generation
        )
        series_closes = {s: c.series for s, c in closes.items() if c is not None}
        if len(events) > INLINE_EVENTS:
            projection = await asyncio.to_thread(
                build_nav_projection, events, series_closes, benchmark=benchmark
            )
        else:
            projection = build_nav_projection(events, series_closes, benchmark=benchmark)
        self.stats.rebuilds += 1
        rebuilt = _Nav(
            version,
            last,
            generation,
            projection,
            fingerprints(projection.checkpoint, closes),
            -1 if entry is None else entry.stored_version,
            None if entry is None else entry.stored_through,
        )
        if version:
            await self._store(key, rebuilt)
        return rebuilt

    async def _load(self, key: tuple[str, str, str | None]) -> _Nav | None:
        """The record in the store, to be brought up to date (None: none usable)."""
        tenant_id, strategy_id, benchmark = key
        raw = await self.ledger.store.hget(
            self.ledger.keys.ledger_nav(tenant_id, strategy_id), benchmark or ""
        )
        if raw is None:
            return None
        record = await asyncio.to_thread(NavRecord.from_json, raw)
        if record is None or record.checkpoint.benchmark != benchmark:
            return None
        self.stats.loads += 1
        checkpoint = record.checkpoint
        # The series after the checkpoint is not stored: generation -1 has it computed again.
        series = NavSeries(checkpoint.points, checkpoint.starting_equity)
        return _Nav(
            record.version,
            record.last,
            -1,
            NavProjection(series, checkpoint),
            record.fingerprints,
            record.version,
            checkpoint.through,
        )

    async def _store(self, key: tuple[str, str, str | None], entry: _Nav) -> None:
        tenant_id, strategy_id, benchmark = key
        name = self.ledger.keys.ledger_nav(tenant_id, strategy_id)
        field = benchmark or ""
        raw = entry.record().to_json()
        async with self.ledger.store.pipeline(transaction=False) as pipe:
            pipe.hset(name, field, raw)
            pipe.hlen(name)
            _, count = await pipe.execute()
        if count > MAX_BENCHMARKS:
            others = [f for f in await self.ledger.store.hkeys(name) if f != field.encode()]
            await self.ledger.store.hdel(name, *others[: count - MAX_BENCHMARKS])
        entry.stored_version = entry.version
        entry.stored_through = entry.projection.checkpoint.through
        self.stats.stores += 1

    async def _closes_of(self, tenant_id: str, symbols: set[str], generation: int) -> Closes:
        """The closes ``tenant_id`` sees (the shared ones and its own) of ``symbols``."""
        cached = self._closes
        stale = [s for s in symbols if cached.get((tenant_id, s), (-2, None))[0] != generation]
        if stale:
            fresh = await self.prices.closes(stale, tenant_id)
            for symbol in stale:
                rows = fresh.get(symbol)
                _, old = cached.get((tenant_id, symbol), (-2, None))
                if not rows:
                    cached[tenant_id, symbol] = (generation, None)
                elif old is not None and old.series == rows:
                    cached[tenant_id, symbol] = (generation, old)  # unchanged: keep its sums
                else:
                    cached[tenant_id, symbol] = (generation, FingerprintedCloses(rows))
        return {s: c for s in symbols if (c := cached[tenant_id, s][1]) is not None}

    @asynccontextmanager
    async def _exclusive(self, key: tuple[str, str, str | None]) -> AsyncIterator[None]:
        """One read at a time per projection: a second one waits and finds it up to date."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def _remember(self, key: tuple[str, str, str | None], entry: _Nav) -> None:
        self._navs[key] = entry
        self._navs.move_to_end(key)
        while len(self._navs) > self.size:
            self._navs.popitem(last=False)
