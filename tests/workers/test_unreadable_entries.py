"""A log entry the worker cannot read (hand-written, damaged) is skipped, not a poison pill."""

from __future__ import annotations

import orjson


async def test_an_unreadable_entry_is_skipped_and_the_next_signal_fills(trading_desk):
    await trading_desk.alert()
    stream = trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
    timeless = {"id": "x1", "source": "hand", "type": "SubmitSignal", "data": {"Id": "x1"}}
    await trading_desk.store.xadd(stream, {"event": b"{not json"})
    await trading_desk.store.xadd(stream, {"event": orjson.dumps(timeless)})
    signal_id = await trading_desk.signal(Quantity=2, Price=100.0)
    await trading_desk.drain()
    assert (await trading_desk.signal_record(signal_id))["Status"] == "filled"
    pending = await trading_desk.store.xpending(stream, "workers")
    assert pending["pending"] == 0
