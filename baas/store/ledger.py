"""The ledger in the store: strategies, their API keys, and what a strategy records (orders, cash
events, position snapshots) together with the projection it leads to.

Every write is an event on the tenant's log (``source`` "ledger", ``subject`` the strategy id):
``StrategyCreated``, ``LedgerOrderRecorded``, ``CashRecorded``, ``PositionsSnapshotted``. One
server-side call (``baas_ledger_commit``) appends a write's events, pushes them on the strategy's
own history list, writes the idempotency records (external ids) and the new projection, and bumps
the strategy's version, all or nothing; it refuses when the version moved since the state was read
(another write won the race: read again and retry) or when the API key was revoked meanwhile.

The projection is the accounting ``LedgerState`` (positions, cash, realised P&L, fees, cash totals,
last_order_at) of the strategy's events replayed in time order (``baas.core.ledger.replay``:
executed_at / occurred_at, ties in the order recorded). A write whose orders are not older than the
newest order or snapshot applied is applied to the stored state as it is; an order dated before
that (a backfill) makes the whole history replay. Cash events commute with everything else and
never cause a replay. ``rebuild_ledger`` folds the log into the same projections.

Layout: see ``Keyspace`` (``ledger:*`` keys under the tenant's hash tag, among them
``ledger_nav`` for the stored NAV projections of ``baas.store.ledger_nav``; the strategy and key
indexes under ``{g}``).
"""

from __future__ import annotations

import asyncio
import copy
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from baas.core import apikeys
from baas.core.keyspace import Keyspace
from baas.core.ledger import (
    CashEvent,
    LedgerEvent,
    LedgerState,
    NavSeries,
    Order,
    Position,
    PositionSnapshot,
    SnapshotPosition,
    SnapshotResult,
    apply_snapshot,
    build_nav_series,
    replay,
    utc_date,
)
from baas.core.ledger.bounds import within_bounds
from baas.store.capped import hset_capped

SOURCE = "ledger"
STRATEGY_CREATED = "StrategyCreated"
ORDER_RECORDED = "LedgerOrderRecorded"
CASH_RECORDED = "CashRecorded"
POSITIONS_SNAPSHOTTED = "PositionsSnapshotted"
LEDGER_EVENTS = frozenset({ORDER_RECORDED, CASH_RECORDED, POSITIONS_SNAPSHOTTED})

KEY_PREFIX = "fq_live_"
KEY_DISPLAY_CHARS = len(KEY_PREFIX) + 2  # "fq_live_9Q"
KEY_WARNING = "Store this key now; it cannot be retrieved later."
DEFAULT_STRATEGY_NAME = "default"
DEFAULT_BASE_CURRENCY = "USD"
MAX_ATTEMPTS = 50
HISTORY_PAGE = 10_000

# Positions of the commit's extra keys (after log, state, history, active keys).
_ORDER_IDS, _CASH_IDS, _RECONCILIATION = 5, 6, 7


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z; fractions of a second only when there are some."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def iso_seconds(moment: datetime) -> str:
    """ISO-8601 UTC to the second, as the spec prints times (2026-04-18T14:00:00Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# Errors


class UnknownTenant(LookupError):
    pass


class UnknownStrategy(LookupError):
    pass


class KeyRevoked(Exception):
    """The API key that sent a write was revoked before the write was recorded."""


@dataclass(slots=True)
class MissingPrice(Exception):
    """An order without a price, and no close for its symbol on its date."""

    symbol: str
    executed_at: datetime

    def __str__(self) -> str:
        return f"No market data available for {self.symbol} at {iso_seconds(self.executed_at)}"


# Strategies and keys


@dataclass(frozen=True, slots=True)
class Strategy:
    strategy_id: str
    tenant_id: str
    name: str
    base_currency: str
    created_at: str
    is_default: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.strategy_id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "base_currency": self.base_currency,
            "is_default": self.is_default,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class LedgerKey:
    """A ledger API key's metadata (never the key)."""

    key_id: str
    strategy_id: str
    tenant_id: str
    name: str
    key_prefix: str
    created_at: str
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "strategy_id": self.strategy_id,
            "name": self.name,
            "key_prefix": self.key_prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class IssuedLedgerKey:
    """A new key: the only moment its plaintext exists."""

    info: LedgerKey
    plaintext: str


@dataclass(frozen=True, slots=True)
class LedgerKeyOwner:
    tenant_id: str
    strategy_id: str
    key_id: str


def new_ledger_key() -> str:
    """``fq_live_`` + 43 URL-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def ledger_key_owner(raw: bytes | None, key_digest: str) -> LedgerKeyOwner | None:
    """Read an index record fetched by digest, comparing the digests in constant time."""
    if raw is None:
        return None
    record = orjson.loads(raw)
    if not apikeys.matches(record["digest"], key_digest):
        return None
    return LedgerKeyOwner(record["tenant_id"], record["strategy_id"], record["key_id"])


def _key_info(raw: bytes) -> LedgerKey:
    record = orjson.loads(raw)
    record.pop("digest", None)
    return LedgerKey(**record)


# Inputs and results of writes


@dataclass(frozen=True, slots=True)
class OrderInput:
    """An order to record; ``order.price`` None: the close on executed_at's date."""

    order: Order
    details: Any = None


@dataclass(frozen=True, slots=True)
class OrdersRecorded:
    accepted: list[dict[str, Any]]  # rows, amounts as exact decimal strings
    duplicates: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CashRecorded:
    created: bool
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SnapshotRecorded:
    upserted: int
    removed: int
    reconciliation_entries: int


# Closes of (symbol, date) pairs; pairs without one are left out.
PriceLookup = Callable[
    [Collection[tuple[str, date]]], Awaitable[Mapping[tuple[str, date], Decimal]]
]


# The projection


@dataclass(slots=True)
class Projection:
    """A strategy's derived state, and what deciding how to advance it needs."""

    state: LedgerState = field(default_factory=LedgerState)
    version: int = 0  # ledger events recorded (the length of the history list)
    # The newest effective order or snapshot applied: an order dated before it means a replay.
    last_position_at: datetime | None = None
    symbols: set[str] = field(default_factory=set)  # every symbol ordered or snapshotted
    # Written before the state kept the last fills: advancing it needs the whole history.
    stale: bool = False

    def to_json(self) -> bytes:
        state = self.state
        return _dumps(
            {
                "cash": str(state.cash),
                "realized_pnl": str(state.realized_pnl),
                "fees_paid": str(state.fees_paid),
                "cash_totals": {k: str(v) for k, v in state.cash_totals.items()},
                "positions": {
                    symbol: {
                        "quantity": str(p.quantity),
                        "cost_basis": str(p.cost_basis),
                        "updated_at": None if p.updated_at is None else p.updated_at.isoformat(),
                    }
                    for symbol, p in state.positions.items()
                },
                "last_order_at": _iso_or_none(state.last_order_at),
                "last_fills": {
                    s: [at.isoformat(), str(p)] for s, (at, p) in state.last_fills.items()
                },
                "last_position_at": _iso_or_none(self.last_position_at),
                "symbols": sorted(self.symbols),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | None, version: int) -> Projection:
        if not raw:
            return cls(version=version)
        doc = orjson.loads(raw)
        state = LedgerState(
            cash=Decimal(doc["cash"]),
            positions={
                symbol: Position(
                    symbol,
                    Decimal(p["quantity"]),
                    Decimal(p["cost_basis"]),
                    _parse_time(p["updated_at"]),
                )
                for symbol, p in sorted(doc["positions"].items())
            },
            realized_pnl=Decimal(doc["realized_pnl"]),
            fees_paid=Decimal(doc["fees_paid"]),
            cash_totals={k: Decimal(v) for k, v in doc["cash_totals"].items()},
            last_order_at=_parse_time(doc["last_order_at"]),
            last_fills={
                s: (datetime.fromisoformat(at), Decimal(p))
                for s, (at, p) in doc.get("last_fills", {}).items()
            },
        )
        last_position_at = _parse_time(doc["last_position_at"])
        stale = "last_fills" not in doc
        return cls(state, version, last_position_at, set(doc["symbols"]), stale)

    def advance(self, events: list[LedgerEvent]) -> bool:
        """Apply ``events`` (in the order recorded) if none needs a replay; False if one does."""
        moves = [e for e in events if _moves_positions(e)]
        last = self.last_position_at
        if self.stale or (last is not None and any(e.timestamp < last for e in moves)):
            return False
        replay(events, self.state)  # stable sort by time: ties keep the order recorded
        self._note(events)
        return True

    def rebuild(self, history: list[LedgerEvent]) -> None:
        """The projection of a whole history (in the order recorded)."""
        self.state = replay(history)
        self.last_position_at = None
        self.symbols = set()
        self.stale = False
        self._note(history)

    def _note(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            if _moves_positions(event) and (
                self.last_position_at is None or event.timestamp > self.last_position_at
            ):
                self.last_position_at = event.timestamp
            if isinstance(event, Order):
                self.symbols.add(event.symbol)
            elif isinstance(event, PositionSnapshot):
                self.symbols.update(p.symbol for p in event.positions)


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moves_positions(event: LedgerEvent) -> bool:
    return isinstance(event, PositionSnapshot) or (isinstance(event, Order) and event.is_effective)


def _copy_state(state: LedgerState) -> LedgerState:
    return copy.deepcopy(state)


# Events and rows


def _event_document(
    kind: str, event_id: str, tenant_id: str, strategy_id: str, time: str, data: dict[str, Any]
) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": SOURCE,
            "type": kind,
            "subject": strategy_id,
            "time": time,
            "datacontenttype": "application/json",
            "tenantid": tenant_id,
            "data": data,
        }
    )


def order_row(
    order: Order, order_id: str, strategy_id: str, created_at: str, details: Any
) -> dict[str, Any]:
    """An order as recorded (the spec's Order; amounts as exact decimal strings)."""
    return {
        "id": order_id,
        "strategy_id": strategy_id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": str(order.quantity),
        "price": _dec(order.price),
        "fees": str(order.fees),
        "order_type": order.order_type,
        "status": order.status,
        "executed_at": iso(order.executed_at),
        "created_at": created_at,
        "external_order_id": order.external_order_id,
        "details": details,
    }


def cash_row(event: CashEvent, event_id: str, strategy_id: str, created_at: str) -> dict[str, Any]:
    """A cash event as recorded (the spec's CashEvent; the amount as an exact decimal string)."""
    return {
        "id": event_id,
        "strategy_id": strategy_id,
        "event_type": event.event_type,
        "amount": str(event.amount),
        "occurred_at": iso(event.occurred_at),
        "external_id": event.external_id,
        "related_symbol": event.related_symbol,
        "note": event.note,
        "created_at": created_at,
    }


def ledger_event(document: Mapping[str, Any]) -> LedgerEvent | None:
    """The accounting event of a ledger log entry (None for other entries, and for an event
    outside the ledger's bounds: stored before they were checked, it is left out of the reads)."""
    event = _logged_event(document)
    return event if event is not None and within_bounds(event) else None


def _logged_event(document: Mapping[str, Any]) -> LedgerEvent | None:
    kind = document.get("type")
    data = document.get("data") or {}
    if kind == ORDER_RECORDED:
        price = data["price"]
        return Order(
            symbol=data["symbol"],
            side=data["side"],
            quantity=Decimal(data["quantity"]),
            price=None if price is None else Decimal(price),
            executed_at=datetime.fromisoformat(data["executed_at"]),
            fees=Decimal(data["fees"]),
            status=data["status"],
            order_type=data["order_type"],
            external_order_id=data["external_order_id"],
        )
    if kind == CASH_RECORDED:
        return CashEvent(
            event_type=data["event_type"],
            amount=Decimal(data["amount"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            external_id=data["external_id"],
            related_symbol=data["related_symbol"],
            note=data["note"],
        )
    if kind == POSITIONS_SNAPSHOTTED:
        return PositionSnapshot.of(
            datetime.fromisoformat(data["taken_at"]),
            (
                SnapshotPosition(p["symbol"], Decimal(p["quantity"]), Decimal(p["cost_basis"]))
                for p in data["positions"]
            ),
        )
    return None


def _entry_json(entry: Any, logged_at: str) -> bytes:
    return _dumps(
        {
            "symbol": entry.symbol,
            "old_quantity": str(entry.old_quantity),
            "new_quantity": str(entry.new_quantity),
            "old_cost_basis": _dec(entry.old_cost_basis),
            "new_cost_basis": _dec(entry.new_cost_basis),
            "logged_at": logged_at,
        }
    )


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
        record = _dumps(asdict(strategy))
        event = _event_document(
            STRATEGY_CREATED,
            f"strategy-{strategy.strategy_id}",
            tenant_id,
            strategy.strategy_id,
            strategy.created_at,
            asdict(strategy),
        )
        status, strategy_id = await self.store.fcall(
            "baas_ledger_strategy",
            3,
            self.keys.tenant_log(tenant_id),
            self.keys.strategies(tenant_id),
            self.keys.default_strategy(tenant_id),
            strategy.strategy_id,
            record,
            event,
            iso(now),
            "1" if default else "0",
        )
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
        record = _dumps({**asdict(info), "digest": digest})
        keys_hash = self.keys.strategy_keys(strategy.tenant_id, strategy.strategy_id)
        # Tenant-local first: the gate and the commit trust it; the index makes the key usable.
        await hset_capped(self.store, keys_hash, info.key_id, record, limit)
        owner = {
            "tenant_id": strategy.tenant_id,
            "strategy_id": strategy.strategy_id,
            "key_id": info.key_id,
            "digest": digest,
        }
        await self.store.hset(self.keys.ledger_key_index, digest, _dumps(owner))
        return IssuedLedgerKey(info, plaintext)

    async def list_keys(self, tenant_id: str, strategy_id: str) -> list[LedgerKey]:
        async with self.store.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.strategy_keys(tenant_id, strategy_id))
            pipe.hgetall(self.keys.strategy_revoked_keys(tenant_id, strategy_id))
            active, revoked = await pipe.execute()
        infos = [_key_info(raw) for raw in [*active.values(), *revoked.values()]]
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
            return _key_info(old) if old else None
        record = {**orjson.loads(raw), "revoked_at": iso(now or datetime.now(UTC))}
        async with self.store.pipeline(transaction=True) as pipe:
            pipe.hdel(active, key_id)
            pipe.hset(revoked, key_id, _dumps(record))
            await pipe.execute()
        await self.store.hdel(self.keys.ledger_key_index, record["digest"])
        return _key_info(_dumps(record))

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
        (nothing written) or KeyRevoked."""
        now = now or datetime.now(UTC)
        created_at = iso(now)
        external_ids = sorted(
            {i.order.external_order_id for i in inputs if i.order.external_order_id is not None}
        )
        resolved: dict[tuple[str, date], Decimal] = {}
        asked: set[tuple[str, date]] = set()
        for attempt in range(MAX_ATTEMPTS):
            projection, known = await self._read(
                tenant_id, strategy_id, self.keys.ledger_order_ids, external_ids
            )
            fresh = [
                i
                for i in _first_of_each(inputs, known)
                if i.order.price is None
                and (i.order.symbol, utc_date(i.order.executed_at)) not in asked
            ]
            wanted = {(i.order.symbol, utc_date(i.order.executed_at)) for i in fresh}
            if wanted:
                resolved.update(await prices(wanted))
                asked |= wanted
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
                    _event_document(
                        ORDER_RECORDED, order_id, tenant_id, strategy_id, created_at, row
                    )
                )
                if ext is not None:
                    in_batch[ext] = row
                    write.hash_writes.append((_ORDER_IDS, ext, _dumps(row)))
            if not write.events:
                return OrdersRecorded(accepted, duplicates)
            if await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at, attempt
            ):
                return OrdersRecorded(accepted, duplicates)
        raise RuntimeError(f"strategy {strategy_id}: still conflicting after {MAX_ATTEMPTS} tries")

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
        for attempt in range(MAX_ATTEMPTS):
            projection, known = await self._read(
                tenant_id, strategy_id, self.keys.ledger_cash_ids, [ext] if ext is not None else []
            )
            if ext is not None and ext in known:
                return CashRecorded(False, known[ext])
            event_id = str(uuid.uuid4())
            row = cash_row(event, event_id, strategy_id, created_at)
            write = _Write(
                events=[
                    _event_document(
                        CASH_RECORDED, event_id, tenant_id, strategy_id, created_at, row
                    )
                ],
                accounting=[event],
            )
            if ext is not None:
                write.hash_writes.append((_CASH_IDS, ext, _dumps(row)))
            if await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at, attempt
            ):
                return CashRecorded(True, row)
        raise RuntimeError(f"strategy {strategy_id}: still conflicting after {MAX_ATTEMPTS} tries")

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
        for attempt in range(MAX_ATTEMPTS):
            projection, _ = await self._read(tenant_id, strategy_id, self.keys.ledger_cash_ids, [])
            result: SnapshotResult = apply_snapshot(
                _copy_state(projection.state), positions, log_deltas=True, at=now
            )
            entries = result.entries if log_deltas else ()
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
                "reconciliation": [orjson.loads(_entry_json(e, created_at)) for e in entries],
            }
            write = _Write(
                events=[
                    _event_document(
                        POSITIONS_SNAPSHOTTED, event_id, tenant_id, strategy_id, created_at, data
                    )
                ],
                accounting=[snapshot],
                list_pushes=[(_RECONCILIATION, _entry_json(e, created_at)) for e in entries],
            )
            if await self._commit(
                tenant_id, strategy_id, projection, write, key_id, client_ip, created_at, attempt
            ):
                return SnapshotRecorded(result.upserted, result.removed, len(entries))
        raise RuntimeError(f"strategy {strategy_id}: still conflicting after {MAX_ATTEMPTS} tries")

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
        attempt: int,
    ) -> bool:
        """Advance the projection by the write and record both; False on a version conflict."""
        expected = projection.version
        if not projection.advance(write.accounting):
            history = await self.history(tenant_id, strategy_id)
            if len(history) != expected:  # another write landed since: read everything again
                await _backoff(attempt)
                return False
            projection.rebuild(history + write.accounting)
        keys = [
            self.keys.tenant_log(tenant_id),
            self.keys.ledger_state(tenant_id, strategy_id),
            self.keys.ledger_history(tenant_id, strategy_id),
            self.keys.strategy_keys(tenant_id, strategy_id),
            self.keys.ledger_order_ids(tenant_id, strategy_id),
            self.keys.ledger_cash_ids(tenant_id, strategy_id),
            self.keys.ledger_reconciliation(tenant_id, strategy_id),
        ]
        args: list[Any] = [
            key_id,
            expected,
            received_at,
            client_ip,
            projection.to_json(),
            len(write.events),
            *write.events,
            len(write.hash_writes),
        ]
        for position, name, value in write.hash_writes:
            args += [position, name, value]
        args.append(len(write.list_pushes))
        for position, value in write.list_pushes:
            args += [position, value]
        reply = await self.store.fcall("baas_ledger_commit", len(keys), *keys, *args)
        if reply == b"ok":
            return True
        if reply == b"revoked":
            raise KeyRevoked(key_id)
        await _backoff(attempt)
        return False


def _first_of_each(inputs: list[OrderInput], known: Mapping[str, Any]) -> Iterable[OrderInput]:
    """The inputs that are neither recorded already nor a repeat within the batch."""
    seen: set[str] = set()
    for item in inputs:
        ext = item.order.external_order_id
        if ext is not None:
            if ext in known or ext in seen:
                continue
            seen.add(ext)
        yield item


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))


async def default_strategy_id(store: aioredis.Redis, keyspace: Keyspace, tenant_id: str) -> str:
    """The tenant's default strategy id (created on first need): where fills of alerts without a
    StrategyId go."""
    return await LedgerStore(store, keyspace).default_strategy_id(tenant_id)


# Rebuild


@dataclass(slots=True)
class _Folded:
    history: list[bytes] = field(default_factory=list)
    events: list[LedgerEvent] = field(default_factory=list)
    order_ids: dict[str, bytes] = field(default_factory=dict)
    cash_ids: dict[str, bytes] = field(default_factory=dict)
    reconciliation: list[bytes] = field(default_factory=list)


async def rebuild_ledger(store: aioredis.Redis, keyspace: Keyspace, tenant_id: str) -> int:
    """Drop the tenant's ledger projections and fold them again from its log (the events with
    source "ledger"): strategies, each strategy's history, idempotency records, reconciliation
    log and projection. API keys are not events and stay as they are. Returns the ledger events
    read. Run it with no ledger writes going on (they would be lost from the projections)."""
    strategies: dict[str, bytes] = {}
    default_id: str | None = None
    folded: dict[str, _Folded] = {}
    stream = keyspace.tenant_log(tenant_id)
    start, read = "-", 0
    while entries := await store.xrange(stream, min=start, count=2000):
        for _, fields in entries:
            raw = fields[b"event"]
            document = orjson.loads(raw)
            if document.get("source") != SOURCE:
                continue
            kind = document.get("type")
            subject = document.get("subject")
            data = document.get("data") or {}
            if kind == STRATEGY_CREATED:
                if data.get("is_default"):
                    if default_id is not None:
                        continue  # only the first default counts, as the live function does
                    default_id = subject
                strategies[subject] = _dumps(data)
                continue
            if kind not in LEDGER_EVENTS:
                continue
            read += 1
            target = folded.setdefault(subject, _Folded())
            target.history.append(raw)
            event = ledger_event(document)
            if event is not None:
                target.events.append(event)
            if kind == ORDER_RECORDED and data.get("external_order_id") is not None:
                target.order_ids.setdefault(data["external_order_id"], _dumps(data))
            elif kind == CASH_RECORDED and data.get("external_id") is not None:
                target.cash_ids.setdefault(data["external_id"], _dumps(data))
            elif kind == POSITIONS_SNAPSHOTTED:
                target.reconciliation.extend(_dumps(e) for e in data.get("reconciliation", ()))
        start = "(" + entries[-1][0].decode()

    existing = {k.decode() for k in await store.hkeys(keyspace.strategies(tenant_id))}
    every = existing | strategies.keys() | folded.keys()
    async with store.pipeline(transaction=True) as pipe:
        for sid in every:
            for key in (
                keyspace.ledger_state(tenant_id, sid),
                keyspace.ledger_nav(tenant_id, sid),
                keyspace.ledger_history(tenant_id, sid),
                keyspace.ledger_order_ids(tenant_id, sid),
                keyspace.ledger_cash_ids(tenant_id, sid),
                keyspace.ledger_reconciliation(tenant_id, sid),
            ):
                pipe.delete(key)
        if strategies:
            pipe.hset(keyspace.strategies(tenant_id), mapping=strategies)
        if default_id is not None:
            pipe.set(keyspace.default_strategy(tenant_id), default_id)
        for sid, f in folded.items():
            projection = Projection(version=len(f.history))
            projection.rebuild(f.events)
            pipe.hset(
                keyspace.ledger_state(tenant_id, sid),
                mapping={"version": len(f.history), "state": projection.to_json()},
            )
            history_key = keyspace.ledger_history(tenant_id, sid)
            for page in range(0, len(f.history), HISTORY_PAGE):
                pipe.rpush(history_key, *f.history[page : page + HISTORY_PAGE])
            if f.order_ids:
                pipe.hset(keyspace.ledger_order_ids(tenant_id, sid), mapping=f.order_ids)
            if f.cash_ids:
                pipe.hset(keyspace.ledger_cash_ids(tenant_id, sid), mapping=f.cash_ids)
            if f.reconciliation:
                pipe.rpush(keyspace.ledger_reconciliation(tenant_id, sid), *f.reconciliation)
        await pipe.execute()
    if strategies:
        await store.hset(keyspace.strategy_index, mapping=dict.fromkeys(strategies, tenant_id))
    return read


__all__ = [
    "CASH_RECORDED",
    "KEY_PREFIX",
    "KEY_WARNING",
    "LEDGER_EVENTS",
    "ORDER_RECORDED",
    "POSITIONS_SNAPSHOTTED",
    "SOURCE",
    "STRATEGY_CREATED",
    "CashRecorded",
    "IssuedLedgerKey",
    "KeyRevoked",
    "LedgerKey",
    "LedgerKeyOwner",
    "LedgerStore",
    "MissingPrice",
    "OrderInput",
    "OrdersRecorded",
    "Projection",
    "SnapshotRecorded",
    "Strategy",
    "UnknownStrategy",
    "UnknownTenant",
    "default_strategy_id",
    "ledger_event",
    "ledger_key_owner",
    "rebuild_ledger",
]
