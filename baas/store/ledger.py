"""The ledger in the store: strategies, their API keys, and what a strategy records (orders, cash
events, position snapshots) together with its projection (``baas.core.ledger.projection``).

Every write is an event on the tenant's log (``baas.core.ledger.log_entries``). One server-side
call (``baas_ledger_commit``) appends a write's events, pushes them on the strategy's own history
list, writes the idempotency records (external ids) and the new projection, and bumps the
strategy's version, all or nothing; it refuses when the version moved since the state was read
(another write won the race: read again and retry, ``_until_committed``) or when the API key was
revoked meanwhile.

Layout: see ``Keyspace`` (``ledger:*`` keys under the tenant's hash tag, among them
``ledger_nav`` for the stored NAV projections of ``baas.store.ledger_cache``; the strategy and key
indexes under ``{g}``).
"""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis

from baas.core import apikeys
from baas.core.keyspace import Keyspace
from baas.core.ledger import (
    CashEvent,
    LedgerEvent,
    NavSeries,
    PositionSnapshot,
    SnapshotPosition,
    SnapshotResult,
    apply_snapshot,
    build_nav_series,
    utc_date,
)
from baas.core.ledger.api_keys import (
    KEY_DISPLAY_CHARS,
    IssuedLedgerKey,
    LedgerKey,
    key_from_record,
    new_ledger_key,
)
from baas.core.ledger.errors import LedgerKeyRevoked, MissingPrice, UnknownTenant
from baas.core.ledger.log_entries import (
    CASH_RECORDED,
    ORDER_RECORDED,
    POSITIONS_SNAPSHOTTED,
    STRATEGY_CREATED,
    ledger_event,
    log_entry,
)
from baas.core.ledger.projection import Projection
from baas.core.ledger.rows import cash_row, iso, order_row, reconciliation_row, sorted_json
from baas.core.ledger.strategies import DEFAULT_BASE_CURRENCY, DEFAULT_STRATEGY_NAME, Strategy
from baas.core.ledger.writes import (
    CashRecorded,
    OrderInput,
    OrdersRecorded,
    PriceLookup,
    SnapshotRecorded,
    unrecorded_orders,
)
from baas.store import functions
from baas.store.capped import hset_capped

MAX_ATTEMPTS = 50
HISTORY_PAGE = 10_000

# Positions of the hashes and lists a commit writes in its ``targets``.
_ORDER_IDS, _CASH_IDS, _RECONCILIATION = 1, 2, 3

Result = TypeVar("Result")


@dataclass(slots=True)
class _Write:
    """What one commit appends and writes."""

    events: list[bytes] = field(default_factory=list)
    accounting: list[LedgerEvent] = field(default_factory=list)
    hash_writes: list[tuple[int, str, bytes]] = field(default_factory=list)
    list_pushes: list[tuple[int, bytes]] = field(default_factory=list)


# The store


class LedgerStore:
    def __init__(self, store: aioredis.Redis, keyspace: Keyspace) -> None:
        self.store = store
        self.keys = keyspace

    # Strategies

    async def create_strategy(
        self,
        tenant_id: str,
        name: str,
        base_currency: str = DEFAULT_BASE_CURRENCY,
        *,
        default: bool = False,
        now: datetime | None = None,
    ) -> Strategy:
        """A new strategy of the tenant (``default``: the tenant's default one, made once)."""
        if not await self.store.hexists(self.keys.tenants, tenant_id):
            raise UnknownTenant(tenant_id)
        now = now or datetime.now(UTC)
        strategy = Strategy(str(uuid.uuid4()), tenant_id, name, base_currency, iso(now), default)
        record = sorted_json(asdict(strategy))
        event = log_entry(
            STRATEGY_CREATED,
            f"strategy-{strategy.strategy_id}",
            tenant_id,
            strategy.strategy_id,
            strategy.created_at,
            asdict(strategy),
        )
        call = functions.ledger_strategy(
            log=self.keys.tenant_log(tenant_id),
            strategies=self.keys.strategies(tenant_id),
            default_strategy=self.keys.default_strategy(tenant_id),
            strategy_id=strategy.strategy_id,
            record=record,
            event=event,
            received_at=iso(now),
            default="1" if default else "0",
        )
        status, strategy_id = await self.store.execute_command(*call.command())
        strategy_id = strategy_id.decode()
        if status == b"exists":
            found = await self.get_strategy(tenant_id, strategy_id)
            if found is None:  # the record is written with the marker: only a lost index entry
                raise RuntimeError(f"default strategy {strategy_id} has no record")
            strategy = found
        # Tenant-local first (the function above), then the index makes /api/v1 find it.
        await self.store.hset(self.keys.strategy_index, strategy.strategy_id, tenant_id)
        return strategy

    async def default_strategy_id(self, tenant_id: str) -> str:
        """The tenant's default strategy (named "default", in USD), created on first need."""
        existing = await self.store.get(self.keys.default_strategy(tenant_id))
        if existing:
            return existing.decode()
        strategy = await self.create_strategy(tenant_id, DEFAULT_STRATEGY_NAME, default=True)
        return strategy.strategy_id

    async def get_strategy(self, tenant_id: str, strategy_id: str) -> Strategy | None:
        raw = await self.store.hget(self.keys.strategies(tenant_id), strategy_id)
        return Strategy(**orjson.loads(raw)) if raw else None

    async def strategy_tenant(self, strategy_id: str) -> str | None:
        raw = await self.store.hget(self.keys.strategy_index, strategy_id)
        return raw.decode() if raw else None

    async def find_strategy(self, strategy_id: str) -> Strategy | None:
        tenant_id = await self.strategy_tenant(strategy_id)
        return None if tenant_id is None else await self.get_strategy(tenant_id, strategy_id)

    async def list_strategies(self, tenant_id: str) -> list[Strategy]:
        rows = await self.store.hgetall(self.keys.strategies(tenant_id))
        strategies = [Strategy(**orjson.loads(raw)) for raw in rows.values()]
        return sorted(strategies, key=lambda s: (s.created_at, s.strategy_id))

    # Keys

    async def create_key(
        self, strategy: Strategy, name: str = "", now: datetime | None = None, *, limit: int
    ) -> IssuedLedgerKey:
        """A new key of the strategy; TooManyKeys when it has ``limit`` active ones."""
        plaintext = new_ledger_key()
        info = LedgerKey(
            str(uuid.uuid4()),
            strategy.strategy_id,
            strategy.tenant_id,
            name,
            plaintext[:KEY_DISPLAY_CHARS],
            iso(now or datetime.now(UTC)),
        )
        digest = apikeys.digest(plaintext)
        record = sorted_json({**asdict(info), "digest": digest})
        keys_hash = self.keys.strategy_keys(strategy.tenant_id, strategy.strategy_id)
        # Tenant-local first: the gate and the commit trust it; the index makes the key usable.
        await hset_capped(self.store, keys_hash, info.key_id, record, limit)
        owner = {
            "tenant_id": strategy.tenant_id,
            "strategy_id": strategy.strategy_id,
            "key_id": info.key_id,
            "digest": digest,
        }
        await self.store.hset(self.keys.ledger_key_index, digest, sorted_json(owner))
        return IssuedLedgerKey(info, plaintext)

    async def list_keys(self, tenant_id: str, strategy_id: str) -> list[LedgerKey]:
        async with self.store.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.strategy_keys(tenant_id, strategy_id))
            pipe.hgetall(self.keys.strategy_revoked_keys(tenant_id, strategy_id))
            active, revoked = await pipe.execute()
        infos = [key_from_record(raw) for raw in [*active.values(), *revoked.values()]]
        return sorted(infos, key=lambda k: (k.created_at, k.key_id))

    async def revoke_key(
        self, tenant_id: str, strategy_id: str, key_id: str, now: datetime | None = None
    ) -> LedgerKey | None:
        """Revoke at once for every gateway; idempotent. None if the strategy has no such key."""
        active = self.keys.strategy_keys(tenant_id, strategy_id)
        revoked = self.keys.strategy_revoked_keys(tenant_id, strategy_id)
        raw = await self.store.hget(active, key_id)
        if raw is None:
            old = await self.store.hget(revoked, key_id)
            return key_from_record(old) if old else None
        record = {**orjson.loads(raw), "revoked_at": iso(now or datetime.now(UTC))}
        async with self.store.pipeline(transaction=True) as pipe:
            pipe.hdel(active, key_id)
            pipe.hset(revoked, key_id, sorted_json(record))
            await pipe.execute()
        await self.store.hdel(self.keys.ledger_key_index, record["digest"])
        return key_from_record(sorted_json(record))

    # Reading

    async def projection(self, tenant_id: str, strategy_id: str) -> Projection:
        version, state = await self.store.hmget(
            self.keys.ledger_state(tenant_id, strategy_id), ["version", "state"]
        )
        projection = Projection.from_json(state, int(version or 0))
        if projection.stale:  # until the next write stores it again
            projection.rebuild(await self.history(tenant_id, strategy_id))
        return projection

    async def history_documents(self, tenant_id: str, strategy_id: str) -> list[bytes]:
        """The strategy's ledger events as recorded (log entries' JSON), oldest first."""
        key = self.keys.ledger_history(tenant_id, strategy_id)
        documents: list[bytes] = []
        while True:
            page = await self.store.lrange(key, len(documents), len(documents) + HISTORY_PAGE - 1)
            documents.extend(page)
            if len(page) < HISTORY_PAGE:
                return documents

    async def history(self, tenant_id: str, strategy_id: str) -> list[LedgerEvent]:
        events = []
        for raw in await self.history_documents(tenant_id, strategy_id):
            event = ledger_event(orjson.loads(raw))
            if event is not None:
                events.append(event)
        return events

    async def reconciliation_log(self, tenant_id: str, strategy_id: str) -> list[dict[str, Any]]:
        key = self.keys.ledger_reconciliation(tenant_id, strategy_id)
        rows = await self.store.lrange(key, 0, -1)
        return [orjson.loads(r) for r in rows]

    async def nav_series(
        self, tenant_id: str, strategy_id: str, closes_of: Any, benchmark: str | None
    ) -> tuple[NavSeries, dict[str, dict[date, str]]]:
        """The strategy's session NAV replayed from its whole history, and the closes it used
        (``closes_of(symbols)``: a ``PriceStore.closes``). The API reads the NAV projection
        instead (``baas.store.ledger_cache``), which always equals this."""
        projection = await self.projection(tenant_id, strategy_id)
        events = await self.history(tenant_id, strategy_id)
        symbols = set(projection.symbols)
        if benchmark:
            symbols.add(benchmark)
        closes = await closes_of(symbols)
        return build_nav_series(events, closes, benchmark=benchmark or None), closes

    # Writing

    async def record_orders(
        self,
        tenant_id: str,
        strategy_id: str,
        inputs: list[OrderInput],
        prices: PriceLookup,
        *,
        key_id: str = "",
        client_ip: str = "",
        now: datetime | None = None,
    ) -> OrdersRecorded:
        """Record the orders not seen before (by external_order_id, per strategy; a repeat within
        the batch too), resolving missing prices first: all or nothing. Raises MissingPrice
        (nothing written) or LedgerKeyRevoked."""
        now = now or datetime.now(UTC)
        created_at = iso(now)
        external_ids = sorted(
            {i.order.external_order_id for i in inputs if i.order.external_order_id is not None}
        )
        resolved: dict[tuple[str, date], Decimal] = {}
        asked: set[tuple[str, date]] = set()

        async def attempt() -> OrdersRecorded | None:
            projection, known = await self._read(
                tenant_id, strategy_id, self.keys.ledger_order_ids, external_ids
            )
            fresh = [
                i
                for i in unrecorded_orders(inputs, known)
                if i.order.price is None
                and (i.order.symbol, utc_date(i.order.executed_at)) not in asked
            ]
            wanted = {(i.order.symbol, utc_date(i.order.executed_at)) for i in fresh}
            if wanted:
                resolved.update(await prices(wanted))
                asked.update(wanted)
            write = _Write()
            accepted: list[dict[str, Any]] = []
            duplicates: list[dict[str, Any]] = []
            in_batch: dict[str, dict[str, Any]] = {}
            for item in inputs:
                order = item.order
                ext = order.external_order_id
                if ext is not None and (ext in known or ext in in_batch):
                    duplicates.append(known.get(ext) or in_batch[ext])
                    continue
                if order.price is None:
                    price = resolved.get((order.symbol, utc_date(order.executed_at)))
                    if price is not None:
                        order = replace(order, price=price)
                    elif order.is_effective:
                        raise MissingPrice(order.symbol, order.executed_at)
                order_id = str(uuid.uuid4())
                row = order_row(order, order_id, strategy_id, created_at, item.details)
                accepted.append(row)
                write.accounting.append(order)
                write.events.append(
                    log_entry(ORDER_RECORDED, order_id, tenant_id, strategy_id, created_at, row)
                )
                if ext is not None:
                    in_batch[ext] = row
                    write.hash_writes.append((_ORDER_IDS, ext, sorted_json(row)))
            recorded = OrdersRecorded(accepted, duplicates)
            if not write.events:
                return recorded
            committed = await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at
            )
            return recorded if committed else None

        return await _until_committed(strategy_id, attempt)

    async def record_cash(
        self,
        tenant_id: str,
        strategy_id: str,
        event: CashEvent,
        *,
        key_id: str = "",
        client_ip: str = "",
        now: datetime | None = None,
    ) -> CashRecorded:
        """Record a cash event unless its external_id was recorded (then that one comes back)."""
        now = now or datetime.now(UTC)
        created_at = iso(now)
        ext = event.external_id

        async def attempt() -> CashRecorded | None:
            projection, known = await self._read(
                tenant_id, strategy_id, self.keys.ledger_cash_ids, [ext] if ext is not None else []
            )
            if ext is not None and ext in known:
                return CashRecorded(False, known[ext])
            event_id = str(uuid.uuid4())
            row = cash_row(event, event_id, strategy_id, created_at)
            write = _Write(
                events=[
                    log_entry(CASH_RECORDED, event_id, tenant_id, strategy_id, created_at, row)
                ],
                accounting=[event],
            )
            if ext is not None:
                write.hash_writes.append((_CASH_IDS, ext, sorted_json(row)))
            committed = await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at
            )
            return CashRecorded(True, row) if committed else None

        return await _until_committed(strategy_id, attempt)

    async def record_snapshot(
        self,
        tenant_id: str,
        strategy_id: str,
        positions: list[SnapshotPosition],
        *,
        log_deltas: bool = False,
        key_id: str = "",
        client_ip: str = "",
        now: datetime | None = None,
    ) -> SnapshotRecorded:
        """Replace the position set (upsert what is sent, delete what is absent); with
        ``log_deltas``, the changes against the prior state go to the reconciliation log."""
        now = now or datetime.now(UTC)
        created_at = iso(now)
        snapshot = PositionSnapshot.of(now, positions)

        async def attempt() -> SnapshotRecorded | None:
            projection, _ = await self._read(tenant_id, strategy_id, self.keys.ledger_cash_ids, [])
            result: SnapshotResult = apply_snapshot(
                copy.deepcopy(projection.state), positions, log_deltas=True, at=now
            )
            entries = result.entries if log_deltas else ()
            logged = [sorted_json(reconciliation_row(e, created_at)) for e in entries]
            event_id = str(uuid.uuid4())
            data = {
                "id": event_id,
                "strategy_id": strategy_id,
                "taken_at": iso(now),
                "positions": [
                    {
                        "symbol": p.symbol,
                        "quantity": str(p.quantity),
                        "cost_basis": str(p.cost_basis),
                    }
                    for p in positions
                ],
                "log_deltas": log_deltas,
                "upserted": result.upserted,
                "removed": result.removed,
                "reconciliation": [orjson.loads(row) for row in logged],
            }
            write = _Write(
                events=[
                    log_entry(
                        POSITIONS_SNAPSHOTTED, event_id, tenant_id, strategy_id, created_at, data
                    )
                ],
                accounting=[snapshot],
                list_pushes=[(_RECONCILIATION, row) for row in logged],
            )
            committed = await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at
            )
            if not committed:
                return None
            return SnapshotRecorded(result.upserted, result.removed, len(entries))

        return await _until_committed(strategy_id, attempt)

    async def _read(
        self,
        tenant_id: str,
        strategy_id: str,
        index: Callable[[str, str], str],
        external_ids: list[str],
    ) -> tuple[Projection, dict[str, dict[str, Any]]]:
        """The projection and the rows already recorded under ``external_ids``, read together."""
        async with self.store.pipeline(transaction=True) as pipe:
            pipe.hmget(self.keys.ledger_state(tenant_id, strategy_id), ["version", "state"])
            if external_ids:
                pipe.hmget(index(tenant_id, strategy_id), external_ids)
            replies = await pipe.execute()
        version, state = replies[0]
        known = {}
        if external_ids:
            known = {
                ext: orjson.loads(raw)
                for ext, raw in zip(external_ids, replies[1], strict=True)
                if raw is not None
            }
        return Projection.from_json(state, int(version or 0)), known

    async def _commit(
        self,
        tenant_id: str,
        strategy_id: str,
        projection: Projection,
        write: _Write,
        key_id: str,
        client_ip: str,
        received_at: str,
    ) -> bool:
        """Advance the projection by the write and record both; False on a version conflict."""
        expected = projection.version
        if not projection.advance(write.accounting):
            history = await self.history(tenant_id, strategy_id)
            if len(history) != expected:  # another write landed since: read everything again
                return False
            projection.rebuild(history + write.accounting)
        changes: list[Any] = [len(write.events), *write.events, len(write.hash_writes)]
        for position, name, value in write.hash_writes:
            changes += [position, name, value]
        changes.append(len(write.list_pushes))
        for position, value in write.list_pushes:
            changes += [position, value]
        call = functions.ledger_commit(
            log=self.keys.tenant_log(tenant_id),
            state=self.keys.ledger_state(tenant_id, strategy_id),
            history=self.keys.ledger_history(tenant_id, strategy_id),
            active_keys=self.keys.strategy_keys(tenant_id, strategy_id),
            targets=[
                self.keys.ledger_order_ids(tenant_id, strategy_id),
                self.keys.ledger_cash_ids(tenant_id, strategy_id),
                self.keys.ledger_reconciliation(tenant_id, strategy_id),
            ],
            key_id=key_id,
            expected_version=expected,
            received_at=received_at,
            client_ip=client_ip,
            new_state=projection.to_json(),
            changes=changes,
        )
        reply = await self.store.execute_command(*call.command())
        if reply == b"ok":
            return True
        if reply == b"revoked":
            raise LedgerKeyRevoked(key_id)
        return False


async def _until_committed(
    strategy_id: str, attempt: Callable[[], Awaitable[Result | None]]
) -> Result:
    """Run ``attempt`` (read, decide, commit) until it commits or needs no write (a result);
    None is a version conflict: another write won the race, so wait a little and read again."""
    for tries in range(MAX_ATTEMPTS):
        result = await attempt()
        if result is not None:
            return result
        await asyncio.sleep(random.uniform(0, 0.002 * (tries + 1)))
    raise RuntimeError(f"strategy {strategy_id}: still conflicting after {MAX_ATTEMPTS} tries")


async def default_strategy_id(store: aioredis.Redis, keyspace: Keyspace, tenant_id: str) -> str:
    """The tenant's default strategy id (created on first need): where fills of alerts without a
    StrategyId go."""
    return await LedgerStore(store, keyspace).default_strategy_id(tenant_id)
