"""A fill's price is a price of its symbol at that time: a close older than a fill never values
the position after it, in /state, /nav and /performance alike (#11.11)."""

from __future__ import annotations

import orjson

from baas.core.keyspace import Keyspace

from .support import Desk

OLD_CLOSES = [
    {"symbol": "MSFT", "date": "2013-12-30", "close": 27.5},
    {"symbol": "MSFT", "date": "2013-12-31", "close": 27.95},
]
BUY = {"symbol": "MSFT", "side": "buy", "quantity": 2, "price": 421}


async def equities(desk: Desk) -> tuple[float, float, float]:
    state = await desk.state()
    nav = (await desk.get("nav", benchmark="")).json()["nav"]
    report = (await desk.get("performance", benchmark="")).json()
    return state["nav"]["total_equity"], nav[-1]["total_equity"], report["ending_equity"]


async def test_a_position_bought_after_the_last_close_is_valued_at_its_fill(desk: Desk):
    await desk.import_prices(OLD_CLOSES)
    await desk.cash(event_type="deposit", amount=1000, occurred_at="2026-03-02T14:00:00Z")
    await desk.orders({**BUY, "executed_at": "2026-03-02T15:00:00Z"})
    assert (await desk.state())["nav"]["market_value"] == 842
    assert await equities(desk) == (1000, 1000, 1000)
    # A later fill is the newer price; a close of the fill's own day is newer still.
    await desk.orders({**BUY, "quantity": 1, "price": 430, "executed_at": "2026-03-03T15:00:00Z"})
    assert await equities(desk) == (1000 + 2 * 9, 1000 + 2 * 9, 1000 + 2 * 9)
    await desk.import_prices([{"symbol": "MSFT", "date": "2026-03-03", "close": 440}])
    assert await equities(desk) == (1000 + 2 * 19 + 10, 1000 + 2 * 19 + 10, 1000 + 2 * 19 + 10)


async def test_a_projection_stored_before_fills_were_kept_is_replayed(desk: Desk, store, prefix):
    await desk.import_prices(OLD_CLOSES)
    await desk.orders({**BUY, "executed_at": "2026-03-02T15:00:00Z"})
    key = Keyspace(prefix).ledger_state(desk.tenant.tenant_id, desk.strategy_id)
    document = orjson.loads(await store.hget(key, "state"))
    del document["last_fills"]  # as an earlier version wrote it
    await store.hset(key, "state", orjson.dumps(document))
    assert (await desk.state())["nav"]["market_value"] == 842
    await desk.cash(event_type="dividend", amount=1)
    assert "last_fills" in orjson.loads(await store.hget(key, "state"))
    assert (await desk.state())["nav"]["market_value"] == 842
