"""A store that stops answering while a worker handles a signal is no failure of the signal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time

import pytest

from baas.core.keyspace import Keyspace
from baas.core.trading.commands import Command, SubmitSignal
from baas.core.trading.signals import SignalPolicy
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from baas.store.trading import TradingStore
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant
from tests.support.trading_desk import TradingDesk, make_consumer
from workers.consumer import MAX_FAILURES, LogConsumer
from workers.handlers import CommandHandler

OUTAGES = MAX_FAILURES + 1


@pytest.fixture
def own_store(tmp_path):
    """A store of this test's own, which it may freeze (SIGSTOP) and resume (SIGCONT)."""
    with EmbeddedValkey(tmp_path / "store") as server:
        yield server


async def test_a_signal_handled_through_store_outages_is_filled_not_rejected(own_store, prefix):
    # The worker under test meets real time-outs (a frozen store, a short time-out); the test's
    # own setup and polling use a patient connection, so a busy machine fails neither.
    settings = make_settings(
        own_store.url,
        prefix,
        worker_block_ms=50,
        worker_claim_idle_seconds=0.2,
        store_timeout_seconds=0.5,
    )
    patient = dataclasses.replace(settings, store_timeout_seconds=10)
    store = open_store(own_store.url, settings)
    reader = open_store(own_store.url, patient)
    await load_functions(reader)
    keyspace = Keyspace(prefix)
    trading = TradingStore(store, keyspace)
    handler = CommandHandler(trading, SignalPolicy())
    pid = own_store._process.pid
    outages = 0

    async def handle_during_an_outage(command: Command):
        """The first attempts at the signal meet a frozen store (a real time-out)."""
        nonlocal outages
        if not isinstance(command, SubmitSignal) or outages >= OUTAGES:
            return await handler.handle(command)
        outages += 1
        os.kill(pid, signal.SIGSTOP)
        try:
            return await handler.handle(command)
        finally:
            os.kill(pid, signal.SIGCONT)

    consumer = LogConsumer(
        store, keyspace, settings, "w1", handler.decode, handle_during_an_outage, handler.give_up
    )
    tenant = await new_tenant(reader, prefix)
    records = TradingStore(reader, keyspace)
    try:
        async with app_client(patient) as client:
            setup = make_consumer(reader, keyspace, patient)
            trading_desk = TradingDesk(client, tenant, setup, records, keyspace, reader)
            await trading_desk.alert()
            await trading_desk.drain()
            signal_id = await trading_desk.signal()
            stop = asyncio.Event()
            running = asyncio.create_task(consumer.run(stop))
            try:
                deadline = time.monotonic() + 60
                record = None
                while time.monotonic() < deadline:
                    record = await records.record_of(tenant.tenant_id, "signals", signal_id)
                    if record and record["Status"] in ("filled", "rejected"):
                        break
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                await asyncio.wait_for(running, 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        await store.aclose()
        await reader.aclose()
    assert record is not None
    assert record["Status"] == "filled", record.get("Reason")
    assert outages == OUTAGES
