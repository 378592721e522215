"""Paper limit orders that outlive their time in force are cancelled by the scheduled job."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from baas.core.keyspace import Keyspace
from baas.core.trading.signals import SignalPolicy
from baas.store.connection import open_store
from baas.store.trading import TradingStore
from tests.support.gateway import free_port
from tests.support.store import make_settings
from workers.handlers import CommandHandler
from workers.main import expire_paper_orders, quiet_job_logs


async def test_an_unfilled_limit_order_expires(trading_desk, caplog):
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
    with caplog.at_level(logging.INFO, logger="baas.worker"):
        assert await expire_paper_orders(ctx) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "baas.worker"]
    assert [line for line in lines if line.startswith("signal ")] == [
        f"signal {resting} cancelled on paper: expired"
    ]
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


async def test_a_scheduled_job_that_meets_a_store_outage_logs_one_line(caplog, prefix):
    settings = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix, store_timeout_seconds=1)
    store = open_store(settings.redis_url, settings)
    keyspace = Keyspace(prefix)
    ctx = {"trading": TradingStore(store, keyspace), "keyspace": keyspace, "store": store}
    try:
        with caplog.at_level(logging.INFO):
            assert await expire_paper_orders(ctx) == 0
    finally:
        await store.aclose()
    [record] = [r for r in caplog.records if r.name == "baas.worker"]
    assert record.getMessage() == "expire_paper_orders skipped: the store is unavailable"
    assert record.exc_info is None
