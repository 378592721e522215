"""Paper limit orders that outlive their time in force are cancelled by the scheduled job."""

from __future__ import annotations

from datetime import timedelta

from baas.core.trading.signals import SignalPolicy
from workers.handlers import CommandHandler
from workers.main import expire_paper_orders


async def test_an_unfilled_limit_order_expires(desk):
    handler = CommandHandler(desk.trading, SignalPolicy(limit_order_ttl=timedelta(0)))
    desk.consumer.handler = handler.handle
    await desk.alert()
    resting = await desk.signal(Data="buy", Quantity=2, Price=50.0, OrderType="LMT")
    await desk.drain()
    assert (await desk.signal_record(resting))["Status"] == "submitted"

    ctx = {"trading": desk.trading, "keyspace": desk.keyspace, "store": desk.store}
    assert await expire_paper_orders(ctx) == 1
    record = await desk.signal_record(resting)
    assert record["Status"] == "cancelled"
    assert record["Reason"] == "expired"
    assert (await desk.account())["open_orders"] == []
    assert await expire_paper_orders(ctx) == 0
