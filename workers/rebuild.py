"""``baas rebuild``: drop the read models and fold them again from the log.

Only the workers' recorded outcomes change read models (see ``readmodel.evolve``), so the
rebuilt models equal the live ones; run it with the workers stopped.
"""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis

from baas.core.keyspace import Keyspace
from baas.core.trading import events
from baas.core.trading.readmodel import ReadModel, evolve
from baas.store.trading import TradingStore, signal_score

PAGE = 2000


async def fold_log(
    store: aioredis.Redis, keyspace: Keyspace, tenant_id: str
) -> tuple[ReadModel, dict[str, float], int]:
    """The read models and signal index that the tenant's log implies, and the entries read."""
    model = ReadModel()
    index: dict[str, float] = {}
    stream = keyspace.tenant_log(tenant_id)
    start, read = "-", 0
    while entries := await store.xrange(stream, min=start, count=PAGE):
        for _, fields in entries:
            outcome = events.outcome_of(orjson.loads(fields[b"event"]))
            if outcome is not None:
                evolve(model, outcome)
                if outcome.type in (events.SIGNAL_ACCEPTED, events.SIGNAL_REJECTED):
                    index.setdefault(outcome.subject, signal_score(outcome.time))
        read += len(entries)
        start = "(" + entries[-1][0].decode()
    return model, index, read


async def rebuild(
    store: aioredis.Redis, keyspace: Keyspace, tenant_ids: list[str]
) -> dict[str, float]:
    """Rebuild each tenant's read models; the log entries read per tenant."""
    trading = TradingStore(store, keyspace)
    counts = {}
    for tenant_id in tenant_ids:
        model, index, read = await fold_log(store, keyspace, tenant_id)
        await trading.replace_all(tenant_id, model, index)
        counts[tenant_id] = read
    return counts
