"""``baas ledger rebuild``'s work: the tenant's ledger projections dropped and folded again from
its log (``baas.core.ledger.log_entries``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis

from baas.core.keyspace import Keyspace
from baas.core.ledger import LedgerEvent
from baas.core.ledger.log_entries import (
    CASH_RECORDED,
    LEDGER_EVENTS,
    ORDER_RECORDED,
    POSITIONS_SNAPSHOTTED,
    SOURCE,
    STRATEGY_CREATED,
    ledger_event,
)
from baas.core.ledger.projection import Projection
from baas.core.ledger.rows import sorted_json
from baas.store.ledger import HISTORY_PAGE


@dataclass(slots=True)
class _StrategyFold:
    """What the rebuild gathers of one strategy from the log."""

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
    folded: dict[str, _StrategyFold] = {}
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
                strategies[subject] = sorted_json(data)
                continue
            if kind not in LEDGER_EVENTS:
                continue
            read += 1
            target = folded.setdefault(subject, _StrategyFold())
            target.history.append(raw)
            event = ledger_event(document)
            if event is not None:
                target.events.append(event)
            if kind == ORDER_RECORDED and data.get("external_order_id") is not None:
                target.order_ids.setdefault(data["external_order_id"], sorted_json(data))
            elif kind == CASH_RECORDED and data.get("external_id") is not None:
                target.cash_ids.setdefault(data["external_id"], sorted_json(data))
            elif kind == POSITIONS_SNAPSHOTTED:
                target.reconciliation.extend(sorted_json(e) for e in data.get("reconciliation", ()))
        start = "(" + entries[-1][0].decode()

    existing = {k.decode() for k in await store.hkeys(keyspace.strategies(tenant_id))}
    every = existing | strategies.keys() | folded.keys()
    async with store.pipeline(transaction=True) as pipe:
        for strategy_id in every:
            for key in (
                keyspace.ledger_state(tenant_id, strategy_id),
                keyspace.ledger_nav(tenant_id, strategy_id),
                keyspace.ledger_history(tenant_id, strategy_id),
                keyspace.ledger_order_ids(tenant_id, strategy_id),
                keyspace.ledger_cash_ids(tenant_id, strategy_id),
                keyspace.ledger_reconciliation(tenant_id, strategy_id),
            ):
                pipe.delete(key)
        if strategies:
            pipe.hset(keyspace.strategies(tenant_id), mapping=strategies)
        if default_id is not None:
            pipe.set(keyspace.default_strategy(tenant_id), default_id)
        for strategy_id, fold in folded.items():
            projection = Projection(version=len(fold.history))
            projection.rebuild(fold.events)
            pipe.hset(
                keyspace.ledger_state(tenant_id, strategy_id),
                mapping={"version": len(fold.history), "state": projection.to_json()},
            )
            history_key = keyspace.ledger_history(tenant_id, strategy_id)
            for page in range(0, len(fold.history), HISTORY_PAGE):
                pipe.rpush(history_key, *fold.history[page : page + HISTORY_PAGE])
            if fold.order_ids:
                pipe.hset(keyspace.ledger_order_ids(tenant_id, strategy_id), mapping=fold.order_ids)
            if fold.cash_ids:
                pipe.hset(keyspace.ledger_cash_ids(tenant_id, strategy_id), mapping=fold.cash_ids)
            if fold.reconciliation:
                reconciliation = keyspace.ledger_reconciliation(tenant_id, strategy_id)
                pipe.rpush(reconciliation, *fold.reconciliation)
        await pipe.execute()
    if strategies:
        await store.hset(keyspace.strategy_index, mapping=dict.fromkeys(strategies, tenant_id))
    return read
