"""Paper limit orders that outlive their time in force are cancelled by the scheduled job."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from baas.core.trading.signals import SignalPolicy
from workers.handlers import CommandHandler
from workers.main import expire_paper_orders, quiet_job_logs


async def test_an_unfilled_limit_order_expires(trading_desk):
    handler = CommandHandler(trading_desk.trading, SignalPolicy(limit_order_ttl=timedelta(0)))
    trading_desk.consumer.handle = handler.handle
    await trading_desk.alert()
    resting = await trading_desk.signal(Data="buy", Quantity=2, Price=50.0, OrderType="LMT")
    await trading_desk.drain()
    assert (await trading_desk.signal_record(resting))["Status"] == "submitted"

    ctx = {
        "trading": trading_desk.trading,
        "keyspace": trading_desk.keyspace,
        "store": trading_desk.store,
    }
    assert await expire_paper_orders(ctx) == 1
    record = await trading_desk.signal_record(resting)
    assert record["Status"] == "cancelled"
    assert record["Reason"] == "expired"
    assert (await trading_desk.account())["open_orders"] == []
    assert await expire_paper_orders(ctx) == 0


@pytest.mark.parametrize(("level", "shown"), [("info", ["ERROR"]), ("debug", ["INFO", "ERROR"])])
def test_scheduled_job_runs_stay_out_of_the_log_unless_debug(
    caplog: pytest.LogCaptureFixture, level: str, shown: list[str]
) -> None:
    arq_log = logging.getLogger("arq.worker")
    before = arq_log.level
    try:
        quiet_job_logs(level)
        with caplog.at_level(logging.DEBUG):
            arq_log.info("  0.50s → cron:expire_paper_orders()")  # as arq writes each run
            arq_log.error("job cron:expire_paper_orders failed")
        assert [r.levelname for r in caplog.records] == shown
    finally:
        arq_log.setLevel(before)
