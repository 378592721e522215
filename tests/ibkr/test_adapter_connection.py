"""The IBKR adapter's connection: drops, gateway restarts, reconciliation, deadlines, two
workers, ``check()``; against the fake IB Gateway through the real ib_async."""

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.fakes.ib_gateway import Drop, FakeIBGateway, Fill, Hold
from tests.fakes.ib_gateway.protocol import In
from tests.support.ibkr_broker import FAST, MakeBroker, Outcomes, broker_order
from workers.ibkr import IbkrBroker, IbkrConnection, IbkrStopped, check

from .support import until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def reconnected(broker: IbkrBroker, since: datetime) -> None:
    def done() -> bool:
        status = broker.status()
        return broker.ready and bool(status.last_connect_time and status.last_connect_time > since)

    await until(done)


async def test_a_disconnect_mid_order_then_reconnect_sends_no_duplicate(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Drop(price=50.0, partial=40), order_ref="sig-drop")
    broker, outcomes = await make_broker(client_id=5)
    before = datetime.now(UTC)

    await broker.submit(broker_order("sig-drop", "IBM", quantity=100))
    await outcomes.final("sig-drop")
    await reconnected(broker, before)

    assert len(gateway.placed(order_ref="sig-drop")) == 1
    fills = outcomes.of("sig-drop", "filled")
    assert [(f.quantity, f.price) for f in fills] == [
        (Decimal(40), Decimal(50)), (Decimal(60), Decimal(50)),
    ]  # fmt: skip
    assert [f.fill_id for f in fills] == [e.exec_id for e in gateway.executions]
    assert outcomes.kinds("sig-drop") == ["submitted", "filled", "filled"]
    assert broker.status().last_disconnect_time is not None


async def test_an_execution_during_the_disconnect_is_delivered_once(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Drop(price=181.0), order_ref="sig-away")
    broker, outcomes = await make_broker(client_id=5)

    await broker.submit(broker_order("sig-away", "IBM", quantity=20))
    filled = await outcomes.final("sig-away")
    assert await broker.reconcile_executions() == 0
    assert await broker.reconcile_executions() == 0
    await broker.drain()

    [execution] = gateway.executions
    assert (filled.fill_id, filled.quantity, filled.price, filled.commission) == (
        execution.exec_id, Decimal(20), Decimal(181), Decimal(1),
    )  # fmt: skip
    assert outcomes.kinds("sig-away") == ["submitted", "filled"]
    assert execution.exec_id in broker.delivered_exec_ids
    assert len(gateway.placed(order_ref="sig-away")) == 1


async def test_an_order_working_after_a_drop_is_followed(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Drop(), order_ref="sig-in-flight")
    broker, outcomes = await make_broker(client_id=5)
    before = datetime.now(UTC)

    await broker.submit(broker_order("sig-in-flight", "AAPL", side="sell", quantity=3))
    await reconnected(broker, before)
    await outcomes.wait_for(lambda: outcomes.of("sig-in-flight", "submitted"))
    gateway.release("sig-in-flight", Fill(price=195.0))
    filled = await outcomes.final("sig-in-flight")

    assert (filled.quantity, filled.price) == (Decimal(3), Decimal(195))
    assert len(gateway.placed(order_ref="sig-in-flight")) == 1
    assert outcomes.kinds("sig-in-flight") == ["submitted", "filled"]


async def test_a_gateway_restart_with_a_new_next_valid_id(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker(client_id=2)
    await broker.submit(broker_order("sig-before", "AAPL", quantity=1))
    await outcomes.final("sig-before")
    before = datetime.now(UTC)

    await gateway.restart(next_valid_id=5000)
    await reconnected(broker, before)
    await broker.submit(broker_order("sig-after", "AAPL", quantity=1))
    await outcomes.final("sig-after")

    [placed] = gateway.placed(order_ref="sig-after")
    assert 5000 <= placed.order_id < 5010
    assert len(gateway.placed(order_ref="sig-before")) == 1
    assert outcomes.kinds("sig-before") == ["submitted", "filled"]
    assert outcomes.kinds("sig-after") == ["submitted", "filled"]
    assert gateway.client_ids == {2}


async def test_an_order_the_gateway_forgot_is_sent_again_within_its_age(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Hold(None), order_ref="sig-forgotten", once=True)
    broker, outcomes = await make_broker(client_id=2)
    await broker.submit(broker_order("sig-forgotten", "AAPL", quantity=2, expires_in=10))
    await gateway.wait_for(lambda: gateway.placed(order_ref="sig-forgotten"))
    before = datetime.now(UTC)

    await gateway.restart(keep_orders=False)
    await reconnected(broker, before)
    filled = await outcomes.final("sig-forgotten")

    assert [p.order_ref for p in gateway.placed()] == ["sig-forgotten", "sig-forgotten"]
    assert len(gateway.orders) == 1  # the first one never existed for the new gateway
    assert filled.quantity == Decimal(2)


async def test_an_order_the_gateway_forgot_past_its_age_is_rejected(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Hold(None), order_ref="sig-late")
    broker, outcomes = await make_broker(client_id=2)
    await broker.submit(broker_order("sig-late", "AAPL", quantity=2, expires_in=0.3))
    await gateway.wait_for(lambda: gateway.placed(order_ref="sig-late"))
    await asyncio.sleep(0.35)

    await gateway.restart(keep_orders=False)
    rejected = await outcomes.final("sig-late")

    assert rejected.kind == "rejected"
    reason = rejected.reason or ""
    assert reason.startswith(
        "the order did not reach IB before the connection dropped, and the signal's maximum "
        "age ran out at "
    )
    assert reason.endswith(": not sent again")
    assert len(gateway.placed(order_ref="sig-late")) == 1


async def test_two_workers_connect_with_their_own_client_ids(gateway: FakeIBGateway) -> None:
    config = {"BrokerId": "ibkr-main", "Host": "127.0.0.1", "Port": gateway.port, "ClientId": 10}
    sinks = [Outcomes(), Outcomes()]
    brokers = [
        IbkrBroker.for_broker(
            config, tenant_id="tenant-1", worker_index=index, on_outcome=sinks[index], options=FAST
        )
        for index in (0, 1)
    ]
    try:
        for broker in brokers:
            await broker.start()
        assert all([await b.wait_ready(5) for b in brokers])
        assert gateway.client_ids == {10, 11}
        await asyncio.gather(
            brokers[0].submit(broker_order("sig-w0", "AAPL", quantity=1)),
            brokers[1].submit(broker_order("sig-w1", "MSFT", quantity=2)),
        )
        await asyncio.gather(sinks[0].final("sig-w0"), sinks[1].final("sig-w1"))
        # each reconnects and reconciles: neither takes the other's fills
        before = datetime.now(UTC)
        await gateway.restart()
        await asyncio.gather(*(reconnected(b, before) for b in brokers))
        await asyncio.gather(*(b.reconcile_executions() for b in brokers))
        await asyncio.gather(*(b.drain() for b in brokers))
    finally:
        for broker in brokers:
            await broker.stop()

    assert {(p.client_id, p.order_ref) for p in gateway.placed()} == {
        (10, "sig-w0"), (11, "sig-w1"),
    }  # fmt: skip
    assert {o.signal_id for o in sinks[0].items} == {"sig-w0"}
    assert {o.signal_id for o in sinks[1].items} == {"sig-w1"}
    assert sinks[0].kinds("sig-w0") == sinks[1].kinds("sig-w1") == ["submitted", "filled"]


async def test_an_order_while_disconnected_past_its_deadline_is_rejected(
    make_broker: MakeBroker,
) -> None:
    port = free_port()
    broker, outcomes = await make_broker(port=port, ready=False)

    await broker.submit(broker_order("sig-offline", "AAPL", quantity=1, expires_in=0.3))
    rejected = await outcomes.final("sig-offline")

    assert rejected.kind == "rejected"
    reason = rejected.reason or ""
    assert reason.startswith(
        f"not connected to IB Gateway at 127.0.0.1:{port} (clientId 1): the signal's maximum "
        "age ran out at "
    )
    assert "while waiting for the connection; last error: 127.0.0.1:" in reason
    status = broker.status()
    assert (status.connected, status.ready, status.server_version) == (False, False, None)
    assert status.failed_attempts >= 1
    assert status.last_error and status.last_error_time


async def test_an_order_waits_for_the_connection_within_its_deadline(
    make_broker: MakeBroker,
) -> None:
    port = free_port()
    broker, outcomes = await make_broker(port=port, ready=False)
    pending = asyncio.create_task(
        broker.submit(broker_order("sig-waits", "AAPL", quantity=1, expires_in=5))
    )
    await asyncio.sleep(0.2)
    assert not pending.done()

    async with FakeIBGateway(port=port) as late:
        await asyncio.wait_for(pending, 5)
        filled = await outcomes.final("sig-waits")
        assert len(late.placed(order_ref="sig-waits")) == 1
        assert filled.kind == "filled"
        await broker.stop()


async def test_status_for_the_api(gateway: FakeIBGateway, make_broker: MakeBroker) -> None:
    broker, _ = await make_broker(client_id=4)

    status = broker.status()
    assert (status.connected, status.ready, status.client_id) == (True, True, 4)
    assert (status.accounts, status.account, status.server_version) == (
        ("DU1234567",), "DU1234567", 178,
    )  # fmt: skip
    assert (status.failed_attempts, status.last_error) == (0, None)
    data = json.loads(json.dumps(status.to_dict()))
    assert data["accounts"] == ["DU1234567"]
    assert datetime.fromisoformat(data["last_connect_time"]) == status.last_connect_time


async def test_an_unmanaged_account_is_reported(gateway: FakeIBGateway) -> None:
    broker = IbkrBroker(
        tenant_id="t", broker_id="b", host="127.0.0.1", port=gateway.port, client_id=1,
        account="U999", on_outcome=Outcomes(), options=FAST,
    )  # fmt: skip
    async with broker:
        assert await broker.wait_ready(5)
        assert broker.status().last_error == (
            "account U999 is not managed by this login (it manages DU1234567)"
        )


async def test_a_client_id_in_use_is_the_last_error(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    await make_broker(client_id=6)
    quick = dataclasses.replace(
        FAST, connection=dataclasses.replace(FAST.connection, connect_timeout=0.3)
    )
    broker, _ = await make_broker(client_id=6, ready=False, options=quick)
    await until(lambda: broker.status().failed_attempts >= 1)
    assert "IB error 326" in (broker.status().last_error or "")
    assert not broker.ready


async def test_an_unanswered_heartbeat_reconnects(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    options = dataclasses.replace(
        FAST,
        connection=dataclasses.replace(
            FAST.connection, heartbeat_interval=0.1, heartbeat_timeout=0.2
        ),
    )
    gateway.stop_answering(In.REQ_CURRENT_TIME)  # a hung IB Gateway, as the heartbeat sees it
    broker, _ = await make_broker(options=options)
    first = broker.status().last_connect_time
    assert first is not None
    await reconnected(broker, first)
    assert broker.status().last_error == "IB Gateway did not answer a heartbeat within 0.2 s"
    assert len([r for r in gateway.received if r.msg_id == 71]) >= 2


# --- check() -----------------------------------------------------------------------------


async def test_check_ok(gateway: FakeIBGateway) -> None:
    ok, summary = await check("127.0.0.1", gateway.port, 77, 5)
    assert ok, summary
    assert summary.startswith(f"IB Gateway at 127.0.0.1:{gateway.port}: API server version 178, ")
    assert summary.endswith("accounts DU1234567 (clientId 77)")
    assert [r.fields for r in gateway.received if r.msg_id == 49] == [("49", "1")]
    await gateway.wait_for(lambda: not gateway.client_ids)


async def test_check_refused() -> None:
    port = free_port()
    ok, reason = await check("127.0.0.1", port, 77, 2)
    assert not ok
    assert reason.startswith(f"cannot connect to IB Gateway at 127.0.0.1:{port}: ")


async def test_check_a_client_id_in_use(gateway: FakeIBGateway, make_broker: MakeBroker) -> None:
    await make_broker(client_id=77)
    ok, reason = await check("127.0.0.1", gateway.port, 77, 1)
    assert not ok
    assert "IB error 326" in reason


@pytest.fixture
async def mute_gateway() -> AsyncIterator[int]:
    """A socket that takes connections and the API greeting but never answers: IB Gateway
    before its login completes."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_check_a_gateway_that_does_not_answer(mute_gateway: int) -> None:
    ok, reason = await check("127.0.0.1", mute_gateway, 77, 0.5)
    assert not ok
    assert reason == (
        f"IB Gateway at 127.0.0.1:{mute_gateway}: no API answer within 0.5 s "
        "(IB Gateway still logging in, or clientId 77 in use?)"
    )


async def test_a_signal_another_worker_already_sent_is_not_sent_again(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    """Worker 0 sent the order; worker 1 claims the signal after a crash and submits it again:
    IB's completed orders and executions show it, so nothing is sent, and worker 1 reports
    what IB has (the log records each fill once, by its FillId)."""
    first, first_outcomes = await make_broker(client_id=10)
    second, outcomes = await make_broker(client_id=11)
    order = broker_order("sig-claimed", "MSFT", quantity=2)
    await first.submit(order)
    first_fill = await first_outcomes.final("sig-claimed")

    await second.submit(order)
    fill = await outcomes.final("sig-claimed")

    assert [p.client_id for p in gateway.placed(order_ref="sig-claimed")] == [10]
    assert fill.fill_id == first_fill.fill_id
    assert outcomes.kinds("sig-claimed") == ["submitted", "filled"]


async def test_cancel_an_order_still_waiting_for_the_connection(
    make_broker: MakeBroker,
) -> None:
    broker, outcomes = await make_broker(port=free_port(), ready=False)
    pending = asyncio.create_task(
        broker.submit(broker_order("sig-unsent", "AAPL", quantity=1, expires_in=5))
    )
    await asyncio.sleep(0.05)

    assert await broker.cancel("sig-unsent")
    await asyncio.wait_for(pending, 1)
    cancelled = await outcomes.final("sig-unsent")

    assert (cancelled.kind, cancelled.reason) == ("cancelled", "cancelled before it was sent to IB")


async def test_stopping_ends_a_submit_waiting_for_the_connection(
    make_broker: MakeBroker,
) -> None:
    broker, outcomes = await make_broker(port=free_port(), ready=False)
    pending = asyncio.create_task(
        broker.submit(broker_order("sig-stopped", "AAPL", quantity=1, expires_in=5))
    )
    await asyncio.sleep(0.05)

    await broker.stop()
    with pytest.raises(IbkrStopped):
        await asyncio.wait_for(pending, 1)
    assert outcomes.of("sig-stopped") == []


async def test_the_connection_on_its_own(gateway: FakeIBGateway) -> None:
    connection = IbkrConnection("127.0.0.1", gateway.port, 21, options=FAST.connection)
    events: list[str] = []
    connection.connectedEvent += lambda: events.append("connected")
    connection.disconnectedEvent += lambda: events.append("disconnected")
    assert not await connection.wait_connected(0)
    connection.start()
    try:
        assert await connection.wait_connected(5)
        assert connection.status().ready is False  # nobody said orders are being sent
        await gateway.restart()
        await until(lambda: events == ["connected", "disconnected", "connected"])
        assert connection.is_connected
        assert gateway.client_ids == {21}
    finally:
        await connection.stop()
    assert events == ["connected", "disconnected", "connected", "disconnected"]
    assert not connection.status().connected


async def test_a_working_order_of_a_crashed_worker_is_not_sent_again(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    """Worker 0 placed a limit order that rests at IB (working, no fills) and crashed; worker 1
    claims the signal and submits it again. The order is not in worker 1's open orders (IB
    gives those per clientId) but in all open orders: nothing is sent, worker 1 reports the
    order and, once IB fills it, delivers the fill once (found with the executions)."""
    gateway.on_order(Hold(), order_ref="sig-resting")
    first, first_outcomes = await make_broker(client_id=10)
    order = broker_order(
        "sig-resting", "AAPL", quantity=5, order_type="LMT", limit_price="180", expires_in=10
    )
    await first.submit(order)
    await first_outcomes.wait_for(lambda: first_outcomes.of("sig-resting", "submitted"))
    await first.stop()  # a crash: the order stays working at IB
    await gateway.wait_for(lambda: gateway.client_ids == set())

    second, outcomes = await make_broker(client_id=11)
    await second.submit(order)
    await second.drain()

    [placed] = gateway.placed(order_ref="sig-resting")
    assert placed.client_id == 10
    perm_id = str(gateway.order("sig-resting").perm_id)
    [submitted] = outcomes.of("sig-resting")
    assert (submitted.kind, submitted.broker_order_id) == ("submitted", perm_id)
    assert (submitted.quantity, submitted.price) == (Decimal(5), Decimal(180))
    assert [r.fields for r in gateway.received if r.msg_id == 16 and r.client_id == 11]

    gateway.release("sig-resting", Fill(price=179.5))
    assert await second.reconcile_executions() == 1
    filled = await outcomes.final("sig-resting")
    assert await second.reconcile_executions() == 0
    await second.drain()

    [execution] = gateway.executions
    assert (filled.fill_id, filled.quantity, filled.price, filled.commission) == (
        execution.exec_id, Decimal(5), Decimal("179.5"), Decimal(1),
    )  # fmt: skip
    assert filled.broker_order_id == perm_id
    assert outcomes.kinds("sig-resting") == ["submitted", "filled"]
    assert len(gateway.placed(order_ref="sig-resting")) == 1


async def test_a_working_order_of_another_live_worker_is_not_taken(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    """Every worker sees every client's open orders now; each still reports only the orders
    of the signals it was given."""
    gateway.on_order(Hold(), order_ref="sig-w10")
    first, first_outcomes = await make_broker(client_id=10)
    second, outcomes = await make_broker(client_id=11)
    await first.submit(
        broker_order("sig-w10", "AAPL", quantity=1, order_type="LMT", limit_price="180")
    )
    await first_outcomes.wait_for(lambda: first_outcomes.of("sig-w10", "submitted"))

    assert await second.reconcile_executions() == 0  # sees the order working, leaves it
    gateway.release("sig-w10", Fill())
    await first_outcomes.final("sig-w10")
    assert await second.reconcile_executions() == 0  # and its execution
    await second.drain()

    assert [r.client_id for r in gateway.received if r.msg_id == 16].count(11) >= 2
    assert outcomes.items == []
    assert first_outcomes.kinds("sig-w10") == ["submitted", "filled"]
