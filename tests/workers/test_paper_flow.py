"""Signals through the gateway and a worker into the paper sandbox, with their lifecycle."""

from __future__ import annotations

import dataclasses

from tests.support.trading_desk import now_iso


async def test_the_spec_buy_and_sell_fill_in_the_paper_account(trading_desk):
    await trading_desk.alert()
    buy = await trading_desk.signal(Data="buy", Quantity=10, Price=200.0)
    sell = await trading_desk.signal(Data="sell", Quantity=4, Price=210.0)
    await trading_desk.drain()

    bought = await trading_desk.signal_record(buy)
    assert bought["Status"] == "filled"
    assert [h["Status"] for h in bought["History"]] == ["accepted", "submitted", "filled"]
    assert bought["Fills"][0]["Price"] == "200.0" or bought["Fills"][0]["Price"].startswith("200")
    sold = await trading_desk.signal_record(sell)
    assert sold["Status"] == "filled"

    account = await trading_desk.account()
    assert account["positions"]["AAPL"]["quantity"] in ("6", "6.0")
    # 100,000 − 10 × 200 + 4 × 210
    assert float(account["cash"]) == 100_000 - 2000 + 840


async def test_close_flattens_and_nothing_to_close_is_rejected(trading_desk):
    await trading_desk.alert()
    await trading_desk.signal(Data="buy", Quantity=5, Price=100.0)
    close = await trading_desk.signal(Data="close", Quantity=1, Price=101.0)
    again = await trading_desk.signal(Data="close", Quantity=1, Price=101.0)
    await trading_desk.drain()
    assert (await trading_desk.signal_record(close))["Status"] == "filled"
    assert "AAPL" not in (await trading_desk.account())["positions"]
    rejected = await trading_desk.signal_record(again)
    assert rejected["Status"] == "rejected"
    assert rejected["Reason"] == "nothing to close: no position in AAPL"


async def test_a_limit_order_rests_then_fills_when_a_later_price_crosses(trading_desk):
    await trading_desk.alert()
    limit = await trading_desk.signal(Data="buy", Quantity=3, Price=95.0, OrderType="LMT")
    await trading_desk.signal(
        Data="buy", Quantity=1, Price=100.0
    )  # the market is at 100: the limit waits
    await trading_desk.drain()
    assert (await trading_desk.signal_record(limit))["Status"] == "submitted"
    await trading_desk.signal(Data="sell", Quantity=1, Price=94.0)  # 94 crosses the buy limit at 95
    await trading_desk.drain()
    record = await trading_desk.signal_record(limit)
    assert record["Status"] == "filled"
    assert record["Fills"][0]["Price"] in ("94", "94.0", "94.0000")


async def test_unknown_alert_unknown_broker_and_stale_signals_are_rejected_with_reasons(
    trading_desk,
):
    await trading_desk.alert()
    unknown_alert = await trading_desk.signal(CorrelationId="nope")
    unknown_broker = await trading_desk.signal(BrokerId="ghost")
    stale = await trading_desk.signal(Date=now_iso(-3600))
    await trading_desk.drain()
    assert (await trading_desk.signal_record(unknown_alert))["Reason"].startswith(
        "unknown alert 'nope'"
    )
    assert (await trading_desk.signal_record(unknown_broker))["Reason"] == "unknown broker 'ghost'"
    stale_record = await trading_desk.signal_record(stale)
    assert stale_record["Status"] == "rejected"
    assert stale_record["Reason"].startswith("stale")


async def test_disabled_alert_and_broker_place_no_order(trading_desk):
    await trading_desk.alert(Enabled=False)
    off_alert = await trading_desk.signal()
    await trading_desk.alert("alert-2")
    await trading_desk.send(
        "ConfigureBroker", {"BrokerId": "paper", "Kind": "paper", "Enabled": False}
    )
    off_broker = await trading_desk.signal(CorrelationId="alert-2")
    await trading_desk.drain()
    assert (await trading_desk.signal_record(off_alert))["Reason"] == "alert 'alert-1' is disabled"
    assert (await trading_desk.signal_record(off_broker))["Reason"] == "broker 'paper' is disabled"
    assert (
        await trading_desk.trading.record_of(trading_desk.tenant.tenant_id, "paper", "paper")
        is None
    )  # never traded


async def test_a_repeated_signal_id_is_not_executed_twice(trading_desk):
    await trading_desk.alert()
    signal_id = await trading_desk.signal(Quantity=2)
    await trading_desk.signal(Id=signal_id, Quantity=2)  # another event id, the same signal Id
    await trading_desk.drain()
    account = await trading_desk.account()
    assert account["positions"]["AAPL"]["quantity"] in ("2", "2.0")


async def test_outcomes_are_in_the_log(trading_desk):
    await trading_desk.alert()
    signal_id = await trading_desk.signal()
    await trading_desk.drain()
    outcomes = [e for e in await trading_desk.log() if e["source"] == "worker"]
    types = [e["type"] for e in outcomes if e["subject"] == signal_id]
    assert types == ["SignalAccepted", "OrderSubmitted", "OrderFilled"]
    filled = next(e for e in outcomes if e["type"] == "OrderFilled")
    assert set(filled["data"]) >= {"Quantity", "Price", "Commission", "BrokerOrderId", "FillId"}


async def test_a_command_that_keeps_failing_still_gets_an_outcome(trading_desk, monkeypatch):
    await trading_desk.alert()
    signal_id = await trading_desk.signal()

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trading_desk.consumer, "handle", broken)
    for _ in range(3):
        await trading_desk.consumer.claim_abandoned()
        await trading_desk.consumer.step()
        trading_desk.consumer._next_claim = 0
        # Make the failed entries claimable again at once.
        trading_desk.consumer.settings = dataclasses.replace(
            trading_desk.consumer.settings, worker_claim_idle_seconds=0
        )
    record = await trading_desk.signal_record(signal_id)
    assert record["Status"] == "rejected"
    assert record["Reason"] == "internal error while handling the command: RuntimeError: boom"
