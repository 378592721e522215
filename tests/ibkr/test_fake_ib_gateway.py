"""The fake IB Gateway against the real ib_async over loopback TCP.

The first part pins protocol facts (raw sockets, and the fake's encoders decoded by ib_async's
own Decoder); the second drives scenarios through ``ib_async.IB``.
"""

import asyncio
import datetime as dt
import re
import struct
from typing import Any

import pytest
from ib_async import (
    IB,
    ComboLeg,
    Contract,
    Crypto,
    DeltaNeutralContract,
    Forex,
    LimitOrder,
    MarketOrder,
    Option,
    Order,
    OrderComboLeg,
    Stock,
    TagValue,
    Trade,
)
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.util import UNSET_DOUBLE

from tests.fakes.ib_gateway import (
    Drop,
    Execution,
    FakeIBGateway,
    Fill,
    Hold,
    Instrument,
    PlacedOrder,
    Position,
    Reject,
    WorkingOrder,
    messages,
    occ_symbol,
    parse_occ,
    protocol,
)
from tests.fakes.ib_gateway.catalog import Catalog

from .support import Connect, until

ACCOUNT = "DU1234567"
AAPL = Stock("AAPL", "SMART", "USD", conId=265598)


def wire(fields: list[protocol.Field]) -> list[str]:
    """What a client's socket reader makes of an encoded message."""
    data = protocol.encode(*fields)
    (size,) = struct.unpack(">I", data[:4])
    assert size == len(data) - 4
    return protocol.decode(data[4:])


class Sink:
    """Stands where ib_async's Wrapper would, recording what its Decoder decoded."""

    defaultTimezone = dt.UTC

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def decoded(handler: str, fields: list[str]) -> tuple[Any, ...]:
    """Decode with ib_async at version 178, insisting every field was consumed."""
    sink = Sink()
    getattr(Decoder(sink, protocol.SERVER_VERSION), handler)(fields)
    with pytest.raises(ValueError):
        getattr(Decoder(Sink(), protocol.SERVER_VERSION), handler)(fields[:-1])
    [(_, args)] = sink.calls
    return args


def interpreted(fields: list[str]) -> tuple[str, tuple[Any, ...]]:
    sink = Sink()
    Decoder(sink, protocol.SERVER_VERSION).interpret(fields)
    [call] = sink.calls
    return call


def sample_order(**changes: Any) -> WorkingOrder:
    aapl = Catalog().find("AAPL")
    placed = PlacedOrder(
        client_id=3, order_id=42, contract=aapl.spec("SMART"), action="BUY",
        total_quantity=100.0, order_type="LMT", lmt_price=101.25, aux_price=None, tif="GTC",
        account=ACCOUNT, order_ref="sig-42", parent_id=0, outside_rth=True, cash_qty=2500.0,
        fields=(),
    )  # fmt: skip
    order = WorkingOrder(placed, aapl, perm_id=1_000_042, account=ACCOUNT, quantity=100.0)
    order.status, order.filled, order.avg_fill_price, order.last_fill_price = (
        "Submitted", 40.0, 101.0, 101.0,
    )  # fmt: skip
    for name, value in changes.items():
        setattr(order, name, value)
    return order


def sample_execution() -> Execution:
    order = sample_order()
    return Execution(
        "000f4262.00000001.01.01", 42, 3, 1_000_042, "sig-42", ACCOUNT, order.contract,
        "NASDAQ", "BOT", 40.0, 101.0, 40.0, 101.0, "20250101 12:00:00 UTC", 1.25, "USD", 0.0,
    )  # fmt: skip


def filled(trade: Trade) -> bool:
    return (
        trade.orderStatus.status == "Filled"
        and bool(trade.fills)
        and all(f.commissionReport.execId for f in trade.fills)
    )


async def qualified(ib: IB, contract: Contract) -> Contract:
    [result] = await asyncio.wait_for(ib.qualifyContractsAsync(contract), 5)
    assert isinstance(result, Contract)
    return result


def errors_of(ib: IB) -> list[tuple[int, int, str]]:
    """(reqId, code, message) of every error ib_async reports from now on."""
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, _contract: errors.append((req_id, code, text))
    return errors


def sent(gateway: FakeIBGateway, msg_id: int) -> list[tuple[str, ...]]:
    return [r.fields for r in gateway.received if r.msg_id == msg_id]


WORKING_REFS = ("all-1", "all-partial", "all-2")
"""The orders ``place_for_two_clients`` leaves working, in the order they were placed."""


async def place_for_two_clients(gateway: FakeIBGateway, connect: Connect) -> tuple[IB, IB]:
    """Client 1: a resting limit order and a market order filled 40 of 100 (both working);
    client 2: a limit order held PreSubmitted (working) and a filled one (not working)."""
    gateway.on_order(Hold(), order_ref="all-1")
    gateway.on_order(Fill(price=100.0, parts=(40,)), order_ref="all-partial")
    gateway.on_order(Hold("PreSubmitted"), order_ref="all-2")
    first, second = await connect(1), await connect(2)
    resting = first.placeOrder(AAPL, LimitOrder("BUY", 10, 180.0, orderRef="all-1"))
    await until(lambda: resting.orderStatus.status == "Submitted")
    partial = first.placeOrder(AAPL, MarketOrder("BUY", 100, orderRef="all-partial"))
    await until(lambda: partial.orderStatus.filled == 40)
    held = second.placeOrder(AAPL, LimitOrder("SELL", 5, 195.0, orderRef="all-2"))
    await until(lambda: held.orderStatus.status == "PreSubmitted")
    done = second.placeOrder(AAPL, MarketOrder("SELL", 1, orderRef="all-done"))
    await until(lambda: filled(done))
    return first, second


# --- protocol facts --------------------------------------------------------------------------


async def test_handshake_and_start_api_on_a_raw_socket(gateway: FakeIBGateway) -> None:
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        try:
            writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..178")
            (size,) = struct.unpack(">I", await reader.readexactly(4))
            version, conn_time, tail = (await reader.readexactly(size)).split(b"\0")
            assert (version, tail) == (b"178", b"")
            assert re.fullmatch(rb"\d{8} \d\d:\d\d:\d\d UTC", conn_time)

            writer.write(protocol.encode(71, 2, 7, ""))
            replies = {tuple(protocol.decode(await protocol.read_frame(reader))) for _ in "12"}
            assert replies == {("15", "1", ACCOUNT), ("9", "1", "1")}
            assert gateway.client_ids == {7}
        finally:
            writer.close()


async def test_all_open_orders_on_a_raw_socket(gateway: FakeIBGateway, connect: Connect) -> None:
    """reqAllOpenOrders (16, version 1): openOrder (5) then orderStatus (3) for every working
    order of every client, each with the placing client's orderId and clientId, then
    openOrderEnd (53, version 1); the same layouts reqOpenOrders gets, which ib_async's
    Decoder reads to the last field."""
    await place_for_two_clients(gateway, connect)
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        try:
            writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..178")
            await protocol.read_frame(reader)  # version and connection time
            writer.write(protocol.encode(71, 2, 3, ""))
            for _ in "12":  # managed accounts, next valid id
                await protocol.read_frame(reader)
            writer.write(protocol.encode(16, 1))
            frames = [protocol.decode(await protocol.read_frame(reader))]
            while frames[-1][0] != "53":
                frames.append(protocol.decode(await protocol.read_frame(reader)))
        finally:
            writer.close()

    working = [gateway.order(ref) for ref in WORKING_REFS]
    each = (messages.open_order, messages.order_status)
    assert frames == [*(wire(encode(o)) for o in working for encode in each), ["53", "1"]]
    open_orders, statuses = frames[0:-1:2], frames[1:-1:2]
    assert [(f[0], f[1], f[23], f[24], f[25]) for f in open_orders] == [
        ("5", str(o.placed.order_id), o.placed.order_ref, str(o.placed.client_id), str(o.perm_id))
        for o in working
    ]  # fmt: skip
    ids = [str(o.placed.order_id) for o in working]
    assert [(f[0], f[1], f[2], f[3], f[4], f[9]) for f in statuses] == [
        ("3", ids[0], "Submitted", "0.0", "10.0", "1"),
        ("3", ids[1], "Submitted", "40.0", "60.0", "1"),
        ("3", ids[2], "PreSubmitted", "0.0", "5.0", "2"),
    ]
    assert sent(gateway, 16) == [("16", "1")]

    for frame, order in zip(open_orders, working, strict=True):
        order_id, _contract, o, state = decoded("openOrder", frame)
        assert (order_id, o.orderId, o.clientId, o.orderRef, o.permId, state.status) == (
            order.placed.order_id, order.placed.order_id, order.placed.client_id,
            order.placed.order_ref, order.perm_id, order.status,
        )  # fmt: skip
    for frame, order in zip(statuses, working, strict=True):
        name, args = interpreted(frame)
        assert (name, args[0], args[1], args[5], args[8]) == (
            "orderStatus", order.placed.order_id, order.status, order.perm_id,
            order.placed.client_id,
        )  # fmt: skip
    assert interpreted(frames[-1]) == ("openOrderEnd", ())


async def test_a_version_range_without_178_is_refused(gateway: FakeIBGateway) -> None:
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(b"API\0" + struct.pack(">I", 9) + b"v100..150")
        assert await reader.read() == b""
        writer.close()
    assert gateway.handshakes == ["v100..150"]


def test_small_replies_have_the_documented_layouts() -> None:
    order, execution = sample_order(), sample_execution()
    assert wire(messages.error(7, 200, "no")) == ["4", "2", "7", "200", "no", ""]
    assert wire(messages.order_status(order)) == [
        "3", "42", "Submitted", "40.0", "60.0", "101.0", "1000042", "0", "101.0", "3", "", "0.0",
    ]  # fmt: skip
    assert wire(messages.commission_report(execution)) == [
        "59", "1", "000f4262.00000001.01.01", "1.25", "USD", "0.0", "", "",
    ]  # fmt: skip
    position = Position(ACCOUNT, order.instrument, 10.0, 150.0)
    assert wire(messages.position(position))[:3] == ["61", "3", ACCOUNT]

    name, args = interpreted(wire(messages.order_status(order)))
    assert (name, args) == (
        "orderStatus", (42, "Submitted", 40.0, 60.0, 101.0, 1000042, 0, 101.0, 3, "", 0.0),
    )  # fmt: skip
    assert interpreted(wire(messages.error(7, 200, "no"))) == ("error", (7, 200, "no", ""))
    name, (report,) = interpreted(wire(messages.commission_report(execution)))
    assert (report.execId, report.commission, report.currency) == (execution.exec_id, 1.25, "USD")
    name, (account, contract, quantity, avg_cost) = interpreted(wire(messages.position(position)))
    assert (account, contract.conId, quantity, avg_cost) == (ACCOUNT, 265598, 10.0, 150.0)


def test_open_order_decodes_field_for_field() -> None:
    order_id, c, o, state = decoded("openOrder", wire(messages.open_order(sample_order())))
    assert order_id == 42
    assert (c.conId, c.symbol, c.secType, c.exchange, c.currency) == (
        265598, "AAPL", "STK", "SMART", "USD",
    )  # fmt: skip
    assert (c.localSymbol, c.tradingClass) == ("AAPL", "AAPL")
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.auxPrice, o.tif) == (
        "BUY", 100.0, "LMT", 101.25, UNSET_DOUBLE, "GTC",
    )  # fmt: skip
    assert (o.orderRef, o.clientId, o.permId, o.account) == ("sig-42", 3, 1_000_042, ACCOUNT)
    assert (o.outsideRth, o.cashQty, state.status) == (True, 2500.0, "Submitted")


def test_completed_order_decodes_without_an_order_id() -> None:
    done = sample_order(status="Filled", filled=100.0, completed_status="Filled")
    done.completed_time = "20250101 12:00:01 UTC"
    c, o, state = decoded("completedOrder", wire(messages.completed_order(done)))
    assert (c.conId, c.symbol) == (265598, "AAPL")
    assert (o.orderId, o.clientId, o.permId, o.orderRef) == (0, 0, 1_000_042, "sig-42")
    assert (o.totalQuantity, o.filledQuantity, o.lmtPrice, o.cashQty) == (100, 100, 101.25, 2500)
    assert (state.status, state.completedStatus, state.completedTime) == (
        "Filled", "Filled", "20250101 12:00:01 UTC",
    )  # fmt: skip


def test_exec_details_decode_field_for_field() -> None:
    fields = wire(messages.exec_details(-1, sample_execution()))
    req_id, c, ex = decoded("execDetails", fields)
    assert (req_id, c.conId, c.symbol) == (-1, 265598, "AAPL")
    assert (ex.execId, ex.orderId, ex.clientId, ex.permId, ex.orderRef) == (
        "000f4262.00000001.01.01", 42, 3, 1_000_042, "sig-42",
    )  # fmt: skip
    assert (ex.side, ex.shares, ex.price, ex.cumQty, ex.avgPrice) == ("BOT", 40, 101, 40, 101)
    assert (ex.acctNumber, ex.exchange) == (ACCOUNT, "NASDAQ")
    assert ex.time == dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize("key", ["AAPL", "EUR.USD", "BTC.USD", "AAPL  250117C00150000"])
def test_contract_details_decode_field_for_field(key: str) -> None:
    instrument = Catalog().find(key)
    req_id, details = decoded("contractDetails", wire(messages.contract_details(9, instrument)))
    c = details.contract
    assert (req_id, c.conId, c.symbol, c.secType, c.exchange, c.currency) == (
        9, instrument.con_id, instrument.symbol, instrument.sec_type, instrument.exchange,
        instrument.currency,
    )  # fmt: skip
    assert (c.localSymbol, c.primaryExchange, c.lastTradeDateOrContractMonth, c.strike) == (
        instrument.local_symbol, instrument.primary_exchange, instrument.last_trade_date,
        instrument.strike,
    )  # fmt: skip
    assert (details.minTick, details.sizeIncrement, details.underConId) == (
        instrument.min_tick, instrument.size_increment, instrument.under_con_id,
    )  # fmt: skip


def test_occ_symbols() -> None:
    assert occ_symbol("AAPL", "20250117", "C", 150.0) == "AAPL  250117C00150000"
    assert parse_occ("AAPL  250117C00150000") == ("AAPL", "20250117", "C", 150.0)
    assert parse_occ("SPY250321P00512500") == ("SPY", "20250321", "P", 512.5)
    assert parse_occ("AAPL") is None


# --- through ib_async ------------------------------------------------------------------------


async def test_connect_sync_and_disconnect(
    gateway: FakeIBGateway, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    ib = await connect(client_id=7)
    assert ib.isConnected()
    assert ib.client.serverVersion() == 178
    assert ib.managedAccounts() == [ACCOUNT]
    assert gateway.handshakes == [f"v{Client.MinClientVersion}..{Client.MaxClientVersion}"]
    assert gateway.handshakes == ["v157..178"]
    assert gateway.received[0].fields == ("71", "2", "7", "")
    # positions, open orders, completed orders, account updates (plain and multi), executions
    assert {r.msg_id for r in gateway.received[1:]} == {61, 5, 99, 6, 76, 7}
    assert "timed out" not in caplog.text
    assert {v.tag for v in ib.accountValues()} >= {"NetLiquidation", "AccountType"}

    ib.disconnect()
    await gateway.wait_for(lambda: not gateway.client_ids)


async def test_current_time(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    now = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)
    assert abs((now - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    assert sent(gateway, 49) == [("49", "1")]


async def test_qualify_each_security_type(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    occ = "AAPL  250117C00150000"
    stock, fx, coin, option, by_fields = await asyncio.wait_for(
        ib.qualifyContractsAsync(
            Stock("AAPL", "SMART", "USD"),
            Forex("EURUSD"),
            Crypto("BTC", "PAXOS", "USD"),
            Contract(secType="OPT", localSymbol=occ, exchange="SMART", currency="USD"),
            Option("AAPL", "20250117", 150, "C", "SMART"),
        ),
        5,
    )
    assert isinstance(stock, Contract) and isinstance(fx, Contract)
    assert isinstance(coin, Contract) and isinstance(option, Contract)
    assert isinstance(by_fields, Contract)
    assert (stock.conId, stock.exchange, stock.primaryExchange) == (265598, "SMART", "NASDAQ")
    assert (fx.conId, fx.secType, fx.localSymbol, fx.exchange) == (
        12087792, "CASH", "EUR.USD", "IDEALPRO",
    )  # fmt: skip
    assert (coin.conId, coin.secType, coin.localSymbol, coin.exchange) == (
        479624278, "CRYPTO", "BTC.USD", "PAXOS",
    )  # fmt: skip
    assert (option.symbol, option.lastTradeDateOrContractMonth, option.strike, option.right) == (
        "AAPL", "20250117", 150.0, "C",
    )  # fmt: skip
    assert option.multiplier == "100"
    assert option.conId == by_fields.conId == gateway.instrument(occ).con_id

    # reqContractDetails is 9,8,reqId, then the contract fields
    assert sent(gateway, 9)[0][1] == "8"
    assert sent(gateway, 9)[0][4:6] == ("AAPL", "STK")


async def test_unknown_symbol_gets_error_200(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    errors = errors_of(ib)

    assert await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD")) == [None]
    req_id = int(sent(gateway, 9)[0][2])
    assert errors == [(req_id, 200, "No security definition has been found for the request")]

    trade = ib.placeOrder(Stock("NOPE", "SMART", "USD"), MarketOrder("BUY", 1))
    await until(trade.isDone)
    assert trade.log[-1].errorCode == 200


async def test_place_order_wire_layout(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect(client_id=3)
    gateway.on_order(Hold())
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 101.25, tif="GTC", orderRef="layout"))
    [placed] = await gateway.wait_for(lambda: gateway.placed(order_ref="layout"))

    f = placed.fields
    assert (f[0], f[1]) == ("3", str(trade.order.orderId))
    assert f[2:5] == ("265598", "AAPL", "STK")
    assert (f[9], f[11]) == ("SMART", "USD")
    assert (f[16], f[17], f[18], f[19], f[21], f[26]) == (
        "BUY", "10", "LMT", "101.25", "GTC", "layout",
    )  # fmt: skip
    assert (placed.order_id, placed.client_id, placed.symbol, placed.sec_type) == (
        trade.order.orderId, 3, "AAPL", "STK",
    )  # fmt: skip
    assert (placed.exchange, placed.currency, placed.action, placed.total_quantity) == (
        "SMART", "USD", "BUY", 10.0,
    )  # fmt: skip
    assert (placed.order_type, placed.lmt_price, placed.tif, placed.cash_qty) == (
        "LMT", 101.25, "GTC", None,
    )  # fmt: skip


ADAPTIVE = [TagValue("adaptivePriority", "Normal")]
SPREAD = [ComboLeg(265598, 1, "BUY", "SMART"), ComboLeg(272093, 1, "SELL", "SMART")]
ORDER_VARIANTS: dict[str, tuple[Contract, dict[str, Any]]] = {
    "algo": (AAPL, {"algoStrategy": "Adaptive", "algoParams": ADAPTIVE}),
    "scale": (
        AAPL,
        {"scaleInitLevelSize": 10, "scaleSubsLevelSize": 5, "scalePriceIncrement": 0.5},
    ),
    "hedge": (AAPL, {"hedgeType": "D", "hedgeParam": "0.5"}),
    "delta-neutral-order": (AAPL, {"deltaNeutralOrderType": "LMT", "deltaNeutralAuxPrice": 1.0}),
    "delta-neutral-contract": (
        Stock("AAPL", "SMART", "USD", deltaNeutralContract=DeltaNeutralContract(265598, 0.5, 190)),
        {},
    ),
    "peg-bench": (AAPL, {"orderType": "PEG BENCH", "referenceContractId": 756733}),
    "combo": (
        Contract(secType="BAG", symbol="AAPL", exchange="SMART", currency="USD", comboLegs=SPREAD),
        {"orderComboLegs": [OrderComboLeg(1.0)], "smartComboRoutingParams": ADAPTIVE},
    ),
}


@pytest.mark.parametrize("variant", ORDER_VARIANTS)
async def test_place_order_variable_length_sections(
    gateway: FakeIBGateway, connect: Connect, variant: str
) -> None:
    contract, extras = ORDER_VARIANTS[variant]
    ib = await connect()
    gateway.on_order(Hold())
    basics = {"action": "BUY", "totalQuantity": 1, "orderType": "LMT", "lmtPrice": 10.0}
    order = Order(**(basics | extras), orderRef=variant, cashQty=1234.0)
    ib.placeOrder(contract, order)
    [placed] = await gateway.wait_for(lambda: gateway.placed(order_ref=variant))
    assert (placed.order_type, placed.lmt_price) == (order.orderType, 10.0)
    assert placed.cash_qty == 1234.0  # read after every variable-length section


async def test_cash_quantity_order_fills_by_value(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    btc = await qualified(ib, Crypto("BTC", "PAXOS", "USD"))
    trade = ib.placeOrder(btc, MarketOrder("BUY", 0, cashQty=2500.0, tif="IOC", orderRef="cash"))
    await until(lambda: filled(trade))

    [placed] = gateway.placed(order_ref="cash")
    assert placed.cash_qty == 2500.0
    assert placed.fields[-14] == "2500.0"  # 13 fields follow cashQty at version 178
    assert trade.orderStatus.filled == pytest.approx(2500.0 / 60000.0)
    assert trade.orderStatus.avgFillPrice == 60000.0


async def test_market_and_limit_orders_fill(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Fill(price=190.5, commission=1.25), symbol="AAPL")
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    msft = await qualified(ib, Stock("MSFT", "SMART", "USD"))
    market = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="mkt"))
    limit = ib.placeOrder(msft, LimitOrder("SELL", 5, 421.0, orderRef="lmt"))
    await until(lambda: filled(market) and filled(limit))

    for trade, price, commission in ((market, 190.5, 1.25), (limit, 421.0, 1.0)):
        [fill] = trade.fills
        assert (trade.orderStatus.status, trade.orderStatus.avgFillPrice) == ("Filled", price)
        assert fill.execution.orderRef == trade.order.orderRef
        assert fill.commissionReport.execId == fill.execution.execId
        assert fill.commissionReport.commission == commission
    assert limit.fills[0].execution.side == "SLD"
    assert gateway.order("mkt").status == gateway.order("lmt").status == "Filled"


async def test_partial_fills(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Fill(price=100.0, parts=(40, 60)), order_ref="two-parts")
    gateway.on_order(Fill(price=100.0, parts=(40,)), order_ref="part-then-rest")
    spy = await qualified(ib, Stock("SPY", "SMART", "USD"))
    both = ib.placeOrder(spy, MarketOrder("BUY", 100, orderRef="two-parts"))
    first = ib.placeOrder(spy, MarketOrder("BUY", 100, orderRef="part-then-rest"))
    await until(lambda: filled(both) and len(first.fills) == 1)

    assert [f.execution.shares for f in both.fills] == [40.0, 60.0]
    assert [f.execution.cumQty for f in both.fills] == [40.0, 100.0]
    assert len({f.execution.execId for f in both.fills}) == 2
    assert all(f.commissionReport.commission == 1.0 for f in both.fills)
    assert (first.orderStatus.status, first.orderStatus.remaining) == ("Submitted", 60.0)

    gateway.release("part-then-rest", Fill(price=101.0))
    await until(lambda: filled(first))
    assert first.orderStatus.avgFillPrice == pytest.approx(100.6)


@pytest.mark.parametrize(
    "reject",
    [
        Reject(201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED."),
        Reject.fractional(),
        Reject(10289, "Order refused by the fake gateway"),
    ],
    ids=lambda r: str(r.code),
)
async def test_rejected_orders(gateway: FakeIBGateway, connect: Connect, reject: Reject) -> None:
    ib = await connect()
    gateway.on_order(reject, order_ref="refused")
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 0.5, orderRef="refused"))
    await until(trade.isDone)

    assert trade.orderStatus.status in ("Cancelled", "Inactive")
    assert trade.log[-1].errorCode == reject.code
    assert reject.message in trade.log[-1].message
    [completed] = await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 5)
    assert (completed.order.orderRef, completed.orderStatus.status) == ("refused", "Cancelled")


async def test_cancel(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Hold())
    errors = errors_of(ib)
    ibm = await qualified(ib, Stock("IBM", "SMART", "USD"))
    trade = ib.placeOrder(ibm, LimitOrder("BUY", 1, 150.0, orderRef="to-cancel"))
    await until(lambda: trade.orderStatus.status == "Submitted")

    ib.cancelOrder(trade.order)
    await until(lambda: trade.orderStatus.status == "Cancelled")
    assert sent(gateway, 4) == [("4", "1", str(trade.order.orderId), "")]
    assert gateway.order("to-cancel").status == "Cancelled"

    ib.cancelOrder(trade.order)
    await until(lambda: [code for _, code, _ in errors] == [202, 10148])


async def test_hold_never_moves_until_released(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Hold("PreSubmitted"), order_ref="pre")
    gateway.on_order(Hold(None), order_ref="silent")
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    pre = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="pre"))
    silent = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="silent"))
    await gateway.wait_for(lambda: len(gateway.placed()) == 2)
    await until(lambda: pre.orderStatus.status == "PreSubmitted")
    await asyncio.sleep(0.2)
    assert (pre.orderStatus.status, silent.orderStatus.status) == ("PreSubmitted", "PendingSubmit")

    gateway.release("silent", Fill(price=189.0))
    await until(lambda: filled(silent))
    assert pre.orderStatus.status == "PreSubmitted"


async def test_modify_a_working_order(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Hold())
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 180.0, orderRef="mod"))
    await until(lambda: trade.orderStatus.status == "Submitted")

    trade.order.lmtPrice = 179.5
    ib.placeOrder(aapl, trade.order)
    await until(lambda: trade.log[-1].message == "Modified")
    assert [p.lmt_price for p in gateway.placed(order_ref="mod")] == [180.0, 179.5]
    assert gateway.order("mod").placed.lmt_price == 179.5


async def test_drop_mid_order_then_reconnect(gateway: FakeIBGateway, connect: Connect) -> None:
    gateway.on_order(Drop(price=50.0, partial=40), order_ref="drop-1")
    ib = await connect(client_id=5)
    ibm = await qualified(ib, Stock("IBM", "SMART", "USD"))
    trade = ib.placeOrder(ibm, MarketOrder("BUY", 100, orderRef="drop-1"))
    await until(lambda: not ib.isConnected())
    assert [f.execution.shares for f in trade.fills] == [40.0]  # reported before the socket closed

    await connect(5, ib=ib)
    fills = await asyncio.wait_for(ib.reqExecutionsAsync(), 5)
    assert sorted(f.execution.shares for f in fills if f.execution.orderRef == "drop-1") == [40, 60]
    completed = await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 5)
    [done] = [t for t in completed if t.order.orderRef == "drop-1"]
    assert (done.order.orderId, done.orderStatus.status, done.order.filledQuantity) == (
        0, "Filled", 100.0,
    )  # fmt: skip
    assert len(gateway.placed(order_ref="drop-1")) == 1


async def test_unpriced_drop_leaves_the_order_working(
    gateway: FakeIBGateway, connect: Connect
) -> None:
    gateway.on_order(Drop(), order_ref="in-flight")
    ib = await connect(client_id=5)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    ib.placeOrder(aapl, LimitOrder("SELL", 3, 195.0, orderRef="in-flight"))
    await until(lambda: not ib.isConnected())

    await connect(5, ib=ib)
    [trade] = ib.openTrades()  # from the reqOpenOrders ib_async sends when it connects
    assert (trade.order.orderRef, trade.orderStatus.status) == ("in-flight", "Submitted")
    gateway.release("in-flight", Fill())
    await until(lambda: filled(trade))
    assert trade.fills[0].execution.price == 195.0


async def test_a_once_rule_exposes_a_retried_order(
    gateway: FakeIBGateway, connect: Connect
) -> None:
    gateway.on_order(Drop(), order_ref="retry", once=True)
    ib = await connect()
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="retry"))
    await until(lambda: not ib.isConnected())

    await connect(ib=ib)
    retried = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="retry"))
    await until(lambda: filled(retried))
    assert [p.client_id for p in gateway.placed(order_ref="retry")] == [1, 1]


@pytest.mark.parametrize("keep_orders", [True, False])
async def test_restart(gateway: FakeIBGateway, connect: Connect, keep_orders: bool) -> None:
    ib = await connect(client_id=2)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    before = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="before-restart"))
    await until(lambda: filled(before))
    port = gateway.port

    await gateway.restart(next_valid_id=5000, keep_orders=keep_orders)
    await until(lambda: not ib.isConnected())
    assert gateway.port == port
    await connect(2, ib=ib)
    after = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef="after-restart"))
    await until(lambda: filled(after))
    assert 5000 <= after.order.orderId < 5010

    fills = await asyncio.wait_for(ib.reqExecutionsAsync(), 5)
    refs = sorted(f.execution.orderRef for f in fills)
    assert refs == (["after-restart", "before-restart"] if keep_orders else ["after-restart"])
    assert len(gateway.placed()) == 2  # the record of received orders survives restarts


async def test_positions_and_account_summary(gateway: FakeIBGateway, connect: Connect) -> None:
    gateway.set_position("AAPL", 10, 150.0)
    gateway.set_position("EUR.USD", -20000, 1.09)
    gateway.set_account_value("NetLiquidation", "123456.78")
    gateway.set_account_value("ExcessLiquidity", "99999.00")
    ib = await connect()

    held = {p.contract.conId: (p.position, p.avgCost) for p in ib.positions()}
    assert held == {265598: (10.0, 150.0), 12087792: (-20000.0, 1.09)}
    summary = await asyncio.wait_for(ib.accountSummaryAsync(), 5)
    values = {(v.account, v.tag, v.currency): v.value for v in summary}
    assert values[(ACCOUNT, "NetLiquidation", "USD")] == "123456.78"
    assert values[(ACCOUNT, "ExcessLiquidity", "USD")] == "99999.00"
    assert values[(ACCOUNT, "AccountType", "")] == "INDIVIDUAL"
    [request] = sent(gateway, 62)
    assert request[:4] == ("62", "1", request[2], "All")

    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 5))
    await until(lambda: filled(trade))
    positions = await asyncio.wait_for(ib.reqPositionsAsync(), 5)
    [position] = [p for p in positions if p.contract.conId == 265598]
    assert (position.position, position.avgCost) == (15.0, pytest.approx((1500 + 950) / 15))


async def test_all_open_orders_span_every_client(gateway: FakeIBGateway, connect: Connect) -> None:
    first, second = await place_for_two_clients(gateway, connect)
    third = await connect(3)

    assert await asyncio.wait_for(third.reqOpenOrdersAsync(), 5) == []
    trades = await asyncio.wait_for(third.reqAllOpenOrdersAsync(), 5)

    assert sent(gateway, 16) == [("16", "1")]
    found = {
        t.order.orderRef: (
            t.order.clientId, t.order.orderId, t.order.permId, t.order.totalQuantity,
            t.orderStatus.status, t.orderStatus.filled, t.orderStatus.remaining,
            t.orderStatus.clientId,
        )
        for t in trades
    }  # fmt: skip
    ids = {ref: (gateway.order(ref).placed.order_id, gateway.order(ref).perm_id) for ref in found}
    assert found == {
        "all-1": (1, *ids["all-1"], 10.0, "Submitted", 0.0, 10.0, 1),
        "all-partial": (1, *ids["all-partial"], 100.0, "Submitted", 40.0, 60.0, 1),
        "all-2": (2, *ids["all-2"], 5.0, "PreSubmitted", 0.0, 5.0, 2),
    }
    for ib, refs in ((first, ["all-1", "all-partial"]), (second, ["all-2"])):
        own = await asyncio.wait_for(ib.reqOpenOrdersAsync(), 5)
        assert sorted(t.order.orderRef for t in own) == refs  # reqOpenOrders: its own only


async def test_cancel_at_ib(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.on_order(Hold())
    errors = errors_of(ib)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 150.0, orderRef="tws-cancel"))
    await until(lambda: trade.orderStatus.status == "Submitted")

    gateway.cancel_at_ib("tws-cancel")  # as if cancelled in TWS
    await until(lambda: trade.orderStatus.status == "Cancelled" and errors)
    assert errors == [(trade.order.orderId, 202, "Order Canceled - reason:")]
    assert gateway.order("tws-cancel").status == "Cancelled"
    assert sent(gateway, 4) == []  # the client asked for nothing
    with pytest.raises(ValueError, match="already Cancelled"):
        gateway.cancel_at_ib("tws-cancel")
    with pytest.raises(KeyError):
        gateway.cancel_at_ib("no-such-order")


async def test_deliver_notice(gateway: FakeIBGateway, connect: Connect) -> None:
    first, second = await connect(1), await connect(2)
    gateway.on_order(Hold())
    first_errors, second_errors = errors_of(first), errors_of(second)
    trade = second.placeOrder(AAPL, LimitOrder("BUY", 150, 150.0, orderRef="odd"))
    await until(lambda: trade.orderStatus.status == "Submitted")

    gateway.deliver_notice(399, "Order Message:\nWarning: odd lot", order_ref="odd")
    gateway.deliver_notice(2104, "Market data farm connection is OK:usfarm")
    await until(lambda: len(second_errors) == 2 and first_errors)

    assert second_errors == [
        (trade.order.orderId, 399, "Order Message:\nWarning: odd lot"),
        (-1, 2104, "Market data farm connection is OK:usfarm"),
    ]
    assert first_errors == [(-1, 2104, "Market data farm connection is OK:usfarm")]
    assert not trade.isDone()  # a warning: the order works on


async def test_stop_answering(gateway: FakeIBGateway, connect: Connect) -> None:
    ib = await connect()
    gateway.stop_answering(protocol.In.REQ_CURRENT_TIME)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 0.2)
    assert sent(gateway, 49) == [("49", "1")]  # received, never answered
    assert await asyncio.wait_for(ib.reqPositionsAsync(), 5) == []  # the rest still answers
    assert ib.isConnected()


async def test_two_clients_and_a_duplicate_client_id(
    gateway: FakeIBGateway, connect: Connect
) -> None:
    first, second = await asyncio.gather(connect(1), connect(2))
    assert gateway.client_ids == {1, 2}

    duplicate = IB()
    errors = errors_of(duplicate)
    with pytest.raises(TimeoutError):
        await connect(1, ib=duplicate, timeout=1)
    assert errors == [(-1, 326, messages.CLIENT_ID_IN_USE)]
    assert first.isConnected() and second.isConnected()
    assert gateway.client_ids == {1, 2}

    one = first.placeOrder(AAPL, MarketOrder("BUY", 1, orderRef="from-1"))
    two = second.placeOrder(AAPL, MarketOrder("SELL", 1, orderRef="from-2"))
    await until(lambda: filled(one) and filled(two))
    assert {(p.client_id, p.order_ref) for p in gateway.placed()} == {(1, "from-1"), (2, "from-2")}
    assert [t.order.orderRef for t in first.trades()] == ["from-1"]


async def test_failures_inside_the_fake_surface_on_stop() -> None:
    gateway = await FakeIBGateway().start()
    gateway.on_order(Fill(parts=(5,)))  # more than the order's size
    ib = IB()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
    ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await gateway.wait_for(lambda: not gateway.client_ids)
    ib.disconnect()
    with pytest.raises(ExceptionGroup, match="fake IB gateway failed"):
        await gateway.stop()


async def test_added_instruments_qualify(gateway: FakeIBGateway, connect: Connect) -> None:
    gateway.add_instrument(
        Instrument(4391, "AMD", "STK", "SMART", "USD", "NASDAQ", "AMD", "NMS", mark_price=150.0)
    )
    ib = await connect()
    amd = await qualified(ib, Stock("AMD", "SMART", "USD"))
    assert (amd.conId, amd.primaryExchange, amd.tradingClass) == (4391, "NASDAQ", "NMS")


def test_only_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeIBGateway(host="0.0.0.0")
