"""Read models are projections of the log: rebuilding them gives what the workers wrote live."""

from __future__ import annotations

import orjson

from workers.rebuild import rebuild

MODELS = ("alerts", "brokers", "paper", "signals")


async def snapshot(trading_desk) -> dict:
    tenant = trading_desk.tenant.tenant_id
    state = {}
    for kind in MODELS:
        rows = await trading_desk.store.hgetall(trading_desk.keyspace.readmodel(tenant, kind))
        state[kind] = {k.decode(): orjson.loads(v) for k, v in rows.items()}
    state["index"] = await trading_desk.store.zrange(
        trading_desk.keyspace.signal_index(tenant), 0, -1, withscores=True
    )
    return state


async def test_rebuild_equals_the_live_projections(trading_desk):
    await trading_desk.alert()
    await trading_desk.alert("alert-2", "ConfigureStrategyAlert", Mode="orders", Quantity=2)
    await trading_desk.send(
        "ConfigureBroker",
        {
            "BrokerId": "sim",
            "Kind": "paper",
            "StartingCash": 5000,
            "CommissionPerShare": 0.01,
            "MinCommission": 1,
        },
    )
    await trading_desk.signal(Quantity=10, Price=200.0)
    await trading_desk.signal(Data="sell", Quantity=15, Price=201.5)
    await trading_desk.signal(Data="buy", Quantity=3, Price=190.0, OrderType="LMT")
    await trading_desk.signal(
        CorrelationId="alert-2", BrokerId="sim", Symbol="MSFT", Quantity=4, Price=400.0
    )
    await trading_desk.signal(Data="sell", Quantity=1, Price=189.0)  # fills the resting limit
    await trading_desk.signal(CorrelationId="missing")
    await trading_desk.signal(Data="close", Price=191.0)
    await trading_desk.send("RemoveBroker", {"BrokerId": "sim"})
    await trading_desk.drain()
    live = await snapshot(trading_desk)
    assert live["signals"] and live["paper"] and live["alerts"]

    await rebuild(trading_desk.store, trading_desk.keyspace, [trading_desk.tenant.tenant_id])
    assert await snapshot(trading_desk) == live
