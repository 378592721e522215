"""The trading read models in the store, and recording a worker's decision.

Read models are hashes per tenant (``rm:alerts``, ``rm:brokers``, ``rm:paper``, ``rm:signals``)
plus a sorted set of signals by time. They change only through ``record``, which writes them
together with the outcome events in one atomic function call (``baas_commit``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
import redis.asyncio as aioredis

from baas.core.event_time import format_time
from baas.core.keyspace import Keyspace
from baas.core.trading import events as ev
from baas.core.trading.paper import PaperAccount
from baas.core.trading.readmodel import ACCOUNTS, ALERTS, BROKERS, SIGNALS, ReadModel
from baas.store import functions

MODELS = (ALERTS, BROKERS, ACCOUNTS, SIGNALS)


class Recorded(StrEnum):
    OK = "ok"
    HANDLED = "handled"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class SignalPage:
    signals: list[dict[str, Any]]
    next_cursor: str | None


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def signal_score(moment: datetime) -> float:
    """A signal's place in the index: milliseconds since the epoch, to the microsecond (a double
    holds them exactly), so that the listing's order is that of CreatedAt."""
    return round(moment.timestamp() * 1000, 3)


class TradingStore:
    def __init__(self, store: aioredis.Redis, keyspace: Keyspace) -> None:
        self.store = store
        self.keys = keyspace

    def _hash(self, tenant_id: str, kind: str) -> str:
        return self.keys.readmodel(tenant_id, kind)

    # Reading

    async def load(
        self,
        tenant_id: str,
        *,
        alerts: Iterable[str] = (),
        signals: Iterable[str] = (),
        all_brokers: bool = False,
    ) -> tuple[int, ReadModel]:
        """The tenant's version and the records a decision needs (brokers and accounts: all)."""
        alert_ids, signal_ids = list(alerts), list(signals)
        async with self.store.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.version(tenant_id))
            pipe.hmget(self._hash(tenant_id, ALERTS), alert_ids or ["-"])
            pipe.hmget(self._hash(tenant_id, SIGNALS), signal_ids or ["-"])
            pipe.hgetall(self._hash(tenant_id, BROKERS))
            pipe.hgetall(self._hash(tenant_id, ACCOUNTS))
            version, alert_rows, signal_rows, brokers, accounts = await pipe.execute()
        model = ReadModel()
        for key, raw in zip(alert_ids, alert_rows, strict=False):
            if raw:
                model.alerts[key] = orjson.loads(raw)
        for key, raw in zip(signal_ids, signal_rows, strict=False):
            if raw:
                model.signals[key] = orjson.loads(raw)
        for key, raw in brokers.items():
            broker = orjson.loads(raw)
            if broker.get("Removed"):
                model.removed_brokers.add(key.decode())
            else:
                model.brokers[key.decode()] = broker
        for key, raw in accounts.items():
            model.accounts[key.decode()] = PaperAccount.from_dict(orjson.loads(raw))
        # Resting orders are signals too: a new price may fill them.
        waiting = {o for a in model.accounts.values() for o in a.open_orders} - model.signals.keys()
        if waiting:
            ids = sorted(waiting)
            rows = await self.store.hmget(self._hash(tenant_id, SIGNALS), ids)
            model.signals.update({k: orjson.loads(r) for k, r in zip(ids, rows, strict=True) if r})
        return int(version or 0), model

    async def alert(self, tenant_id: str, alert_id: str) -> dict[str, Any] | None:
        raw = await self.store.hget(self._hash(tenant_id, ALERTS), alert_id)
        return orjson.loads(raw) if raw else None

    async def records(self, tenant_id: str, kind: str) -> dict[str, Any]:
        rows = await self.store.hgetall(self._hash(tenant_id, kind))
        return {k.decode(): orjson.loads(v) for k, v in rows.items()}

    async def record_of(self, tenant_id: str, kind: str, key: str) -> dict[str, Any] | None:
        raw = await self.store.hget(self._hash(tenant_id, kind), key)
        return orjson.loads(raw) if raw else None

    async def broker_connections(self, tenant_id: str, broker_id: str) -> list[dict[str, Any]]:
        """What each worker last reported of its connection to the broker (IBKR)."""
        rows = await self.store.hgetall(self.keys.broker_status(tenant_id, broker_id))
        return [orjson.loads(v) for _, v in sorted(rows.items())]

    async def signal_page(
        self, tenant_id: str, cursor: str | None, limit: int, keep: Any
    ) -> SignalPage:
        """Newest first; ``keep(record)`` filters; the cursor is the last (score, id) returned."""
        index = self.keys.signal_index(tenant_id)
        high: str = "+inf"
        after: str | None = None
        if cursor:
            score, _, after = cursor.partition(":")
            high = score
        found: list[dict[str, Any]] = []
        last: tuple[float, str] | None = None
        offset = 0
        while len(found) < limit:
            batch = await self.store.zrevrangebyscore(
                index, high, "-inf", start=offset, num=200, withscores=True
            )
            if not batch:
                return SignalPage(found, None)
            offset += len(batch)
            members = [(m.decode(), s) for m, s in batch]
            if after is not None:
                members = [(m, s) for m, s in members if not (s == float(high) and m >= after)]
            rows = await self.store.hmget(
                self._hash(tenant_id, SIGNALS), [m for m, _ in members] or ["-"]
            )
            for (member, score), raw in zip(members, rows, strict=False):
                if raw and keep(record := orjson.loads(raw)):
                    found.append(record)
                    last = (score, member)
                    if len(found) == limit:
                        break
        assert last is not None
        return SignalPage(found, f"{last[0]!r}:{last[1]}")

    # Writing

    async def record(
        self,
        tenant_id: str,
        command: str,
        expected_version: int,
        event_id_prefix: str,
        outcomes: list[ev.DomainEvent],
        model: ReadModel,
        received_at: datetime,
    ) -> Recorded:
        """Append the outcomes and write the records they changed, atomically (see baas_commit)."""
        position = {kind: 1 + i for i, kind in enumerate(MODELS)}  # in the models' keys
        changes: list[Any] = [len(outcomes)]
        changes += [
            ev.to_json(o, f"{event_id_prefix}-{n}", tenant_id) for n, o in enumerate(outcomes, 1)
        ]
        writes = [
            (position[kind], key, _dumps(_record(model, kind, key)))
            for kind, key in sorted(model.dirty)
        ]
        changes.append(len(writes))
        changes += list(itertools.chain.from_iterable(writes))
        new_signals = [o for o in outcomes if o.type in (ev.SIGNAL_ACCEPTED, ev.SIGNAL_REJECTED)]
        changes.append(len(new_signals))
        for o in new_signals:
            changes += [signal_score(o.time), o.subject]
        call = functions.commit(
            log=self.keys.tenant_log(tenant_id),
            version=self.keys.version(tenant_id),
            handled=self.keys.handled(tenant_id),
            signal_index=self.keys.signal_index(tenant_id),
            models=[self._hash(tenant_id, kind) for kind in MODELS],
            command=command,
            expected_version=expected_version,
            received_at=format_time(received_at),
            changes=changes,
        )
        reply = await self.store.execute_command(*call.command())
        return Recorded(reply.decode())

    async def replace_all(self, tenant_id: str, model: ReadModel, index: dict[str, float]) -> None:
        """For ``baas rebuild``: drop the read models and write ``model`` instead."""
        async with self.store.pipeline(transaction=True) as pipe:
            for kind in MODELS:
                pipe.delete(self._hash(tenant_id, kind))
            pipe.delete(self.keys.signal_index(tenant_id))
            for kind, key in sorted(_everything(model)):
                pipe.hset(self._hash(tenant_id, kind), key, _dumps(_record(model, kind, key)))
            if index:
                pipe.zadd(self.keys.signal_index(tenant_id), index)
            await pipe.execute()


def _record(model: ReadModel, kind: str, key: str) -> Any:
    if kind == ALERTS:
        return model.alerts[key]
    if kind == BROKERS:
        return model.brokers.get(key) or {"BrokerId": key, "Removed": True}
    if kind == ACCOUNTS:
        return model.accounts[key].to_dict()
    return model.signals[key]


def _everything(model: ReadModel) -> set[tuple[str, str]]:
    return (
        {(ALERTS, k) for k in model.alerts}
        | {(BROKERS, k) for k in model.brokers.keys() | model.removed_brokers}
        | {(ACCOUNTS, k) for k in model.accounts}
        | {(SIGNALS, k) for k in model.signals}
    )
