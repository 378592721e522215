"""An `ibkr` broker through the real worker: gateway → log → worker → adapter → fake IB Gateway,
and IB's reports back into the tenant's log."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from baas.bootstrap import command_consumer
from baas.core.keyspace import Keyspace
from baas.core.trading.signals import SignalPolicy
from baas.store.trading import TradingStore
from tests.fakes.ib_gateway import Drop, FakeIBGateway, Fill, Hold, Reject
from tests.support.gateway import app_client, free_port
from tests.support.store import new_tenant
from tests.support.trading_desk import TradingDesk, handle_again, now_iso
from workers.brokers import BrokerRegistry
from workers.handlers import CommandHandler


@pytest.fixture
async def ib_desk(
    settings, store, prefix
) -> AsyncIterator[tuple[TradingDesk, FakeIBGateway, BrokerRegistry]]:
    fast = dataclasses.replace(
        settings,
        worker_block_ms=50,
        ibkr_reconnect_initial_seconds=0.02,
        ibkr_reconnect_max_seconds=0.2,
        ibkr_heartbeat_seconds=0,
        ibkr_commission_wait_seconds=0.5,
        ibkr_request_timeout_seconds=3.0,
    )
    keyspace = Keyspace(prefix)
    tenant = await new_tenant(store, prefix)
    trading = TradingStore(store, keyspace)
    async with FakeIBGateway() as gw, app_client(fast) as client:
        registry = BrokerRegistry(store, keyspace, trading, fast, "w-test")
        handler = CommandHandler(trading, SignalPolicy(), brokers=registry)
        consumer = command_consumer(store, keyspace, fast, "w-test", handler)
        trading_desk = TradingDesk(client, tenant, consumer, trading, keyspace, store)
        await trading_desk.send(
            "ConfigureBroker",
            {
                "BrokerId": "ib",
                "Kind": "ibkr",
                "Host": "127.0.0.1",
                "Port": gw.port,
                "ClientId": 10,
            },
        )
        await trading_desk.alert(BrokerId="ib")
        await trading_desk.drain()
        try:
            yield trading_desk, gw, registry
        finally:
            await registry.stop()


async def settled(
    trading_desk: TradingDesk, signal_id: str, statuses: set[str], seconds: float = 10.0
) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        record = await trading_desk.signal_record(signal_id)
        if record["Status"] in statuses or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.05)


async def test_a_signal_is_filled_at_ib_and_the_fill_recorded(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.on_order(Fill(price=190.5, commission=1.25), symbol="AAPL")
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=10, Price=190.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"filled"})
    assert record["Status"] == "filled"
    assert [h["Status"] for h in record["History"]] == ["accepted", "submitted", "filled"]
    [fill] = record["Fills"]
    assert (fill["Quantity"], fill["Price"], fill["Commission"]) == ("10", "190.5", "1.25")
    [placed] = gw.placed(order_ref=signal_id)
    assert (placed.action, placed.total_quantity, placed.order_type) == ("BUY", 10, "MKT")


async def test_ib_rejections_carry_the_code_and_message(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.on_order(Reject(201, "Order rejected - reason: no trading permissions"), symbol="AAPL")
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=1, Price=190.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"rejected", "cancelled"})
    assert record["Status"] == "rejected"
    assert record["BrokerCode"] == 201
    assert "no trading permissions" in record["Reason"]


async def test_a_command_handled_twice_places_one_order(ib_desk):
    trading_desk, gw, _ = ib_desk
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=2, Price=190.0)
    await trading_desk.drain()
    await settled(trading_desk, signal_id, {"filled"})
    # As after a crash between the recording and the acknowledgement: the same entry again.
    [(entry_id, fields)] = [
        (e, f)
        for e, f in await trading_desk.store.xrange(
            trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
        )
        if b'"SubmitSignal"' in f[b"event"]
    ]
    await handle_again(
        trading_desk.consumer,
        trading_desk.tenant.tenant_id,
        entry_id.decode(),
        orjson.loads(fields[b"event"]),
    )
    assert len(gw.placed(order_ref=signal_id)) == 1


async def test_close_flattens_the_position_ib_reports(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.set_position(gw.instrument("AAPL"), 7, 180.0)
    signal_id = await trading_desk.signal(
        BrokerId="ib", Symbol="AAPL", Data="close", Quantity=1, Price=190.0
    )
    await trading_desk.drain()
    await settled(trading_desk, signal_id, {"filled"})
    [placed] = gw.placed(order_ref=signal_id)
    assert (placed.action, placed.total_quantity) == ("SELL", 7)


async def test_the_connection_status_reaches_the_broker_endpoint(ib_desk):
    trading_desk, _, registry = ib_desk
    await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=1, Price=190.0)
    await trading_desk.drain()
    await registry.publish_status()
    r = await trading_desk.client.get(
        f"/tenants/{trading_desk.tenant.tenant_id}/api/brokers/ib", headers=trading_desk.headers
    )
    assert r.status_code == 200
    status = r.json()["Status"]
    assert status["Connected"] is True
    [connection] = status["Connections"]
    assert connection["client_id"] == 10
    assert connection["server_version"] >= 157


@pytest.mark.parametrize(
    ("instrument", "symbol", "quantity", "price", "expected"),
    [
        ("STK", "MSFT", 3, 420.0, ("STK", "BUY", 3.0, 0.0)),
        ("Forex", "EURUSD", 20000, 1.08, ("CASH", "BUY", 20000.0, 0.0)),
        ("Crypto", "BTC", 0.5, 60000.0, ("CRYPTO", "BUY", 0.0, 30000.0)),
        ("Options", "AAPL  261218C00200000", 2, 5.0, ("OPT", "BUY", 2.0, 0.0)),
    ],
)
async def test_each_instrument_type_reaches_ib(
    ib_desk, instrument, symbol, quantity, price, expected
):
    trading_desk, gw, _ = ib_desk
    signal_id = await trading_desk.signal(
        BrokerId="ib", InstrumentType=instrument, Symbol=symbol, Quantity=quantity, Price=price
    )
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"filled"})
    assert record["Status"] == "filled", record
    [placed] = gw.placed(order_ref=signal_id)
    assert (
        placed.sec_type,
        placed.action,
        float(placed.total_quantity),
        float(placed.cash_qty or 0),
    ) == expected


async def test_a_gateway_restart_with_a_new_next_valid_id(ib_desk):
    trading_desk, gw, _ = ib_desk
    first = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=1, Price=190.0)
    await trading_desk.drain()
    await settled(trading_desk, first, {"filled"})
    await gw.restart(next_valid_id=5000)
    second = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=1, Price=190.0)
    await trading_desk.drain()
    assert (await settled(trading_desk, second, {"filled"}))["Status"] == "filled"
    assert len(gw.placed(order_ref=first)) == len(gw.placed(order_ref=second)) == 1


async def test_baas_ibkr_check(gateway_for_cli):
    gw = gateway_for_cli
    ok = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baas.cli.main",
        "ibkr",
        "check",
        "--port",
        str(gw.port),
        "--timeout",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(ok.communicate(), 30)
    assert ok.returncode == 0, err
    assert b"DU" in out
    refused = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baas.cli.main",
        "ibkr",
        "check",
        "--port",
        str(free_port()),
        "--timeout",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(refused.communicate(), 30)
    assert refused.returncode == 1
    assert b"cannot connect" in err


@pytest.fixture
async def gateway_for_cli() -> AsyncIterator[FakeIBGateway]:
    async with FakeIBGateway() as gw:
        yield gw


async def test_a_limit_order_filled_in_parts(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.on_order(Fill(price=189.5, parts=(4, 6)), symbol="AAPL")
    signal_id = await trading_desk.signal(
        BrokerId="ib", Symbol="AAPL", Quantity=10, Price=189.5, OrderType="LMT"
    )
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"filled"})
    assert [h["Status"] for h in record["History"]] == [
        "accepted",
        "submitted",
        "partially_filled",
        "filled",
    ]
    assert [f["Quantity"] for f in record["Fills"]] == ["4", "6"]
    [placed] = gw.placed(order_ref=signal_id)
    assert (placed.order_type, placed.lmt_price) == ("LMT", 189.5)


@pytest.mark.parametrize(
    ("behavior", "code"),
    [
        (Reject(10289, "Order rejected: the order size exceeds the allowed limit"), 10289),
        (Reject.fractional(), 10243),
    ],
)
async def test_other_ib_rejections(ib_desk, behavior, code):
    trading_desk, gw, _ = ib_desk
    gw.on_order(behavior, symbol="AAPL")
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=3, Price=190.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"rejected", "cancelled"})
    assert (record["Status"], record["BrokerCode"]) == ("rejected", code)


async def test_a_fractional_share_quantity_is_rejected_before_sending(ib_desk):
    trading_desk, gw, _ = ib_desk
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=0.5, Price=190.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"rejected"})
    assert record["Status"] == "rejected"
    assert "10243" in record["Reason"]
    assert gw.placed(order_ref=signal_id) == []


async def test_an_unknown_symbol_is_rejected_with_ibs_message(ib_desk):
    trading_desk, _, _ = ib_desk
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="NOPE", Quantity=1, Price=10.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"rejected"})
    assert (record["Status"], record["BrokerCode"]) == ("rejected", 200)
    assert "security definition" in record["Reason"].lower()


async def test_a_cancel_at_ib_reaches_the_log(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.on_order(Hold(), symbol="AAPL")
    signal_id = await trading_desk.signal(
        BrokerId="ib", Symbol="AAPL", Quantity=1, Price=150.0, OrderType="LMT"
    )
    await trading_desk.drain()
    await settled(trading_desk, signal_id, {"submitted"})
    gw.cancel_at_ib(signal_id)
    record = await settled(trading_desk, signal_id, {"cancelled"})
    assert record["Status"] == "cancelled"


async def test_a_dropped_connection_mid_order_places_no_second_order(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.on_order(Drop(price=190.0), symbol="AAPL")
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=5, Price=190.0)
    await trading_desk.drain()
    record = await settled(trading_desk, signal_id, {"filled"})
    assert record["Status"] == "filled"
    assert len(gw.placed(order_ref=signal_id)) == 1
    # The same command handled again (another worker after a crash): still one order.
    [(entry_id, fields)] = [
        (e, f)
        for e, f in await trading_desk.store.xrange(
            trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
        )
        if b'"SubmitSignal"' in f[b"event"]
    ]
    await handle_again(
        trading_desk.consumer,
        trading_desk.tenant.tenant_id,
        entry_id.decode(),
        orjson.loads(fields[b"event"]),
    )
    assert len(gw.placed(order_ref=signal_id)) == 1


async def test_two_workers_connect_with_their_own_client_ids(ib_desk, store):
    trading_desk, gw, first = ib_desk
    second_settings = dataclasses.replace(first.settings, worker_index=1)
    second = BrokerRegistry(
        store, trading_desk.keyspace, trading_desk.trading, second_settings, "w-two"
    )
    try:
        broker = await trading_desk.trading.record_of(
            trading_desk.tenant.tenant_id, "brokers", "ib"
        )
        one = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=1, Price=190.0)
        await trading_desk.drain()
        await settled(trading_desk, one, {"filled"})
        record = await trading_desk.signal_record(one)
        await second.submit(
            trading_desk.tenant.tenant_id, broker, record
        )  # as a second worker would
        assert len(gw.placed(order_ref=one)) == 1
        assert {10, 11} <= set(gw.client_ids)
    finally:
        await second.stop()


async def test_position_mode_trades_the_difference_with_ibs_position(ib_desk):
    trading_desk, gw, _ = ib_desk
    gw.set_position(gw.instrument("AAPL"), 3, 180.0)

    async def target(position: int) -> str:
        signal_id = secrets.token_hex(6)
        data = {
            "CorrelationId": "alert-1",
            "Id": signal_id,
            "BrokerId": "ib",
            "Symbol": "AAPL",
            "Date": now_iso(),
            "Data": "buy",
            "Quantity": 1,
            "Price": 190.0,
            "OrderType": "MKT",
            "InstrumentType": "STK",
        }
        await trading_desk.send("SubmitSignal", data, targetposition=str(position))
        await trading_desk.drain()
        assert (await settled(trading_desk, signal_id, {"filled"}))["Status"] == "filled"
        return signal_id

    first = await target(10)
    [placed] = gw.placed(order_ref=first)
    assert (placed.action, placed.total_quantity) == ("BUY", 7)
    second = await target(4)
    [placed] = gw.placed(order_ref=second)
    assert (placed.action, placed.total_quantity) == ("SELL", 6)
    record = await trading_desk.signal_record(second)
    assert record["Fills"][0]["Quantity"] == "6"


async def broker_connections(trading_desk: TradingDesk, broker_id: str = "ib") -> list[dict] | None:
    r = await trading_desk.client.get(
        f"/tenants/{trading_desk.tenant.tenant_id}/api/brokers/{broker_id}",
        headers=trading_desk.headers,
    )
    return r.json()["Status"]["Connections"] if r.status_code == 200 else None


async def test_removing_an_ibkr_broker_closes_its_connection(ib_desk):
    trading_desk, gw, registry = ib_desk
    await gw.wait_for(lambda: 10 in gw.client_ids)  # connected at configuration, no signal yet
    [(_, adapter)] = registry.adapters.values()
    await registry.publish_status()
    assert [c["client_id"] for c in await broker_connections(trading_desk)] == [10]

    await trading_desk.send("RemoveBroker", {"BrokerId": "ib"})
    await trading_desk.drain()
    await gw.wait_for(lambda: not gw.client_ids)
    assert registry.adapters == {}
    assert not adapter.connection.running  # no reconnection scheduled
    status_key = trading_desk.keyspace.broker_status(trading_desk.tenant.tenant_id, "ib")
    assert await trading_desk.store.hgetall(status_key) == {}


async def test_disabling_an_ibkr_broker_closes_its_connection_and_enabling_reopens_it(ib_desk):
    trading_desk, gw, registry = ib_desk
    await gw.wait_for(lambda: 10 in gw.client_ids)
    broker = {"BrokerId": "ib", "Kind": "ibkr", "Host": "127.0.0.1", "Port": gw.port}
    await trading_desk.send("ConfigureBroker", {**broker, "ClientId": 10, "Enabled": False})
    await trading_desk.drain()
    await gw.wait_for(lambda: not gw.client_ids)
    assert registry.adapters == {}

    await trading_desk.send("ConfigureBroker", {**broker, "ClientId": 10})
    await trading_desk.drain()
    await gw.wait_for(lambda: 10 in gw.client_ids)


async def test_each_worker_shows_its_connection_from_the_start(ib_desk, store):
    trading_desk, gw, first = ib_desk
    second_settings = dataclasses.replace(first.settings, worker_index=1, ibkr_sync_seconds=0.1)
    second = BrokerRegistry(
        store, trading_desk.keyspace, trading_desk.trading, second_settings, "w-two"
    )
    stop = asyncio.Event()
    running = asyncio.create_task(second.run_status_publisher(stop))
    try:
        deadline = time.monotonic() + 10
        mine: list[dict] = []
        while not mine and time.monotonic() < deadline:
            connections = await broker_connections(trading_desk) or []
            mine = [c for c in connections if c["worker"] == "w-two" and c["connected"]]
            await asyncio.sleep(0.05)
        [connection] = mine
        assert connection["client_id"] == 11
        assert connection["accounts"] == ["DU1234567"]

        await trading_desk.send("RemoveBroker", {"BrokerId": "ib"})
        await (
            trading_desk.drain()
        )  # the first worker handles it; the second follows within a period
        await gw.wait_for(lambda: not gw.client_ids, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await second.stop()


async def test_each_of_ibs_reports_is_one_log_line(ib_desk, caplog):
    trading_desk, gw, _ = ib_desk
    caplog.set_level(logging.INFO, logger="baas.worker")
    gw.on_order(Fill(price=190.5, commission=1.25), symbol="AAPL")
    signal_id = await trading_desk.signal(BrokerId="ib", Symbol="AAPL", Quantity=10, Price=190.0)
    await trading_desk.drain()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("signal ")]
        if len(lines) >= 3:
            break
        await asyncio.sleep(0.05)
    assert lines == [
        f"signal {signal_id} accepted: buy 10 AAPL for ib",
        f"signal {signal_id} submitted: buy 10 AAPL MKT on ib",
        f"signal {signal_id} filled 10 AAPL @ 190.5 on ib",
    ]
