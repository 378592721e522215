"""The IBKR adapter's pure parts: contracts, orders, backoff, snapshot matching."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import CommissionReport, Contract, Execution, Fill

from tests.support.ibkr_broker import broker_order
from workers.ibkr import (
    Backoff,
    OptionSpec,
    OrderRefused,
    contract_for,
    parse_option,
    prepare_order,
)
from workers.ibkr.reconcile import OrderView, Snapshot, fills_to_deliver, order_state


@pytest.mark.parametrize(
    "symbol",
    [
        "AAPL  260619C00200000",
        "AAPL260619C00200000",
        "aapl 20260619 200 C",
        "AAPL 2026-06-19 200 CALL",
    ],
)
def test_option_symbols(symbol: str) -> None:
    assert parse_option(symbol) == OptionSpec("AAPL", "20260619", Decimal(200), "C")


def test_occ_symbols_with_short_roots_and_fractional_strikes() -> None:
    assert parse_option("SPY250321P00512500") == OptionSpec(
        "SPY", "20250321", Decimal("512.5"), "P"
    )
    assert parse_option("F     250117C00012000") == OptionSpec("F", "20250117", Decimal(12), "C")
    assert parse_option("AAPL") is None


def test_contracts_for_each_instrument_type() -> None:
    stock = contract_for("STK", "brk.b", "USD")
    assert (stock.secType, stock.symbol, stock.exchange, stock.currency) == (
        "STK",
        "BRK B",
        "SMART",
        "USD",
    )
    for pair in ("EURUSD", "EUR.USD", "eur/usd"):
        fx = contract_for("Forex", pair)
        assert (fx.secType, fx.symbol, fx.currency, fx.exchange) == (
            "CASH",
            "EUR",
            "USD",
            "IDEALPRO",
        )
    assert contract_for("Forex", "EUR", "GBP").currency == "GBP"
    for coin in ("BTC", "BTCUSD", "BTC.USD", "btc/usd"):
        c = contract_for("Crypto", coin)
        assert (c.secType, c.symbol, c.exchange, c.currency) == ("CRYPTO", "BTC", "PAXOS", "USD")
    option = contract_for("Options", "AAPL  260619P00200000", "USD")
    assert (option.secType, option.symbol, option.lastTradeDateOrContractMonth) == (
        "OPT", "AAPL", "20260619",
    )  # fmt: skip
    assert (option.strike, option.right, option.exchange, option.currency) == (
        200.0,
        "P",
        "SMART",
        "USD",
    )
    explicit = contract_for(
        "Options", "ignored", option=OptionSpec("MSFT", "20250117", Decimal("412.5"), "C")
    )
    assert (explicit.symbol, explicit.strike) == ("MSFT", 412.5)


@pytest.mark.parametrize(
    ("instrument_type", "symbol", "message"),
    [
        ("Options", "AAPL", "is not an option symbol"),
        ("Forex", "EURO", "is not a currency pair"),
        ("Crypto", "BTC.EUR", "against USD only"),
        ("Bonds", "X", "unknown instrument type"),
    ],
)
def test_symbols_that_cannot_be_traded(instrument_type: str, symbol: str, message: str) -> None:
    with pytest.raises(OrderRefused, match=message):
        contract_for(instrument_type, symbol)


def prepared(**fields):  # type: ignore[no-untyped-def]
    order = broker_order("sig", **fields)
    return prepare_order(order, contract_for(order.instrument_type, order.symbol), account="DU1")


def test_market_and_limit_orders() -> None:
    market = prepared(quantity=10)
    assert (market.order.action, market.order.orderType, market.order.totalQuantity) == (
        "BUY",
        "MKT",
        10,
    )
    assert (market.order.orderRef, market.order.tif, market.order.account) == ("sig", "DAY", "DU1")
    limit = prepared(side="sell", quantity=5, order_type="LMT", limit_price="101.25")
    assert (limit.order.action, limit.order.orderType, limit.order.lmtPrice) == (
        "SELL",
        "LMT",
        101.25,
    )
    assert (limit.quantity, limit.limit_price, limit.notes) == (Decimal(5), Decimal("101.25"), ())
    with pytest.raises(OrderRefused, match="needs a limit price"):
        prepared(order_type="LMT")
    with pytest.raises(OrderRefused, match="resolve it to buy or sell"):
        prepared(side="close")


def test_limit_prices_round_to_the_tick_never_beyond_the_limit() -> None:
    order = broker_order(
        "sig", order_type="LMT", limit_price="1.08237", instrument_type="Forex", symbol="EURUSD"
    )
    contract = contract_for("Forex", "EURUSD")
    buy = prepare_order(order, contract, min_tick=Decimal("0.00005"))
    assert buy.limit_price == Decimal("1.08235")
    sell = prepare_order(
        broker_order("s", order_type="LMT", limit_price="1.08237", side="sell"),
        contract,
        min_tick=Decimal("0.00005"),
    )
    assert str(sell.limit_price) == "1.0824"
    exact = prepare_order(
        broker_order("e", order_type="LMT", limit_price="190"), contract, min_tick=Decimal("0.01")
    )
    assert (exact.limit_price, exact.notes) == (Decimal(190), ())


@pytest.mark.parametrize(
    ("instrument_type", "symbol", "quantity", "sent"),
    [
        ("STK", "AAPL", "10.7", "10"),
        ("Options", "AAPL  260619C00200000", "2.5", "2"),
        ("Forex", "EURUSD", "20000.9", "20000"),
        ("Crypto", "BTC", "0.123456789", "0.12345678"),
    ],
)
def test_quantities_round_down(instrument_type: str, symbol: str, quantity: str, sent: str) -> None:
    result = prepared(
        instrument_type=instrument_type, symbol=symbol, quantity=quantity, side="sell"
    )
    assert result.quantity == Decimal(sent)
    assert str(result.quantity) == sent
    assert result.notes == (f"quantity {quantity} rounded down to {sent}",)


@pytest.mark.parametrize(
    ("instrument_type", "symbol", "quantity", "message"),
    [
        ("STK", "AAPL", "0.5", "fractional share orders through its API \\(error 10243\\)"),
        ("Options", "AAPL  260619C00200000", "0.9", "0 option contracts"),
        ("Forex", "EURUSD", "0.5", "0 EUR: Forex quantities are whole units"),
        ("Crypto", "BTC", "0.000000001", "8 decimal places"),
    ],
)
def test_a_quantity_rounding_to_zero_is_refused(
    instrument_type: str, symbol: str, quantity: str, message: str
) -> None:
    with pytest.raises(OrderRefused, match=message):
        prepared(instrument_type=instrument_type, symbol=symbol, quantity=quantity)


def test_crypto_orders() -> None:
    buy = prepared(instrument_type="Crypto", symbol="ETH", quantity="1.5", price="3000.555")
    assert (buy.order.orderType, buy.order.totalQuantity, buy.order.cashQty, buy.order.tif) == (
        "MKT", 0, 4500.83, "IOC",
    )  # fmt: skip
    assert (buy.quantity, buy.cash_quantity) == (None, Decimal("4500.83"))
    sell = prepared(instrument_type="Crypto", symbol="ETH", quantity="1.5", side="sell")
    assert (sell.order.totalQuantity, sell.order.tif, sell.cash_quantity) == (1.5, "IOC", None)
    limit = prepared(
        instrument_type="Crypto", symbol="ETH", quantity="1.5", order_type="LMT", limit_price="2900"
    )
    assert (limit.order.totalQuantity, limit.order.lmtPrice, limit.order.tif) == (1.5, 2900, "DAY")
    with pytest.raises(OrderRefused, match="send Price"):
        prepared(instrument_type="Crypto", symbol="ETH", quantity="1.5")


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)
    assert backoff.attempts == 8
    backoff.reset()
    assert backoff.next_delay() <= 0.5
    with pytest.raises(ValueError):
        Backoff(0, 1)


def fill(exec_id: str, ref: str, client_id: int, minutes: int = 0) -> Fill:
    execution = Execution(
        execId=exec_id, orderRef=ref, clientId=client_id, shares=1, price=10.0, permId=7,
        time=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
    )  # fmt: skip
    return Fill(Contract(), execution, CommissionReport(), execution.time)


def view(ref: str, perm_id: int, status: str, *, open_: bool = False) -> OrderView:
    return OrderView(ref, perm_id, 0, 0, status, open_, Decimal(1), Decimal(0), "")


def test_order_state_matches_by_order_ref() -> None:
    snapshot = Snapshot(
        (view("a", 1, "Cancelled"), view("a", 2, "Submitted", open_=True), view("b", 3, "Filled"),
         view("c", 4, "Inactive"), view("d", 5, "Cancelled"), view("d", 6, "Filled")),
        (fill("x1", "e", 1),),
        datetime.now(UTC),
    )  # fmt: skip
    assert order_state(snapshot, "a").state == "working"
    assert order_state(snapshot, "b").state == "filled"
    assert order_state(snapshot, "c").state == "inactive"
    assert order_state(snapshot, "d").order == view("d", 6, "Filled")
    only_fills = order_state(snapshot, "e")
    assert (only_fills.state, only_fills.order, len(only_fills.fills)) == ("working", None, 1)
    assert not order_state(snapshot, "z").exists
    assert snapshot.refs() == {"a", "b", "c", "d", "e"}


def test_fills_to_deliver_are_ours_new_and_once() -> None:
    fills = [
        fill("late", "mine", 1, minutes=5),
        fill("early", "mine", 1, minutes=1),
        fill("early", "mine", 1, minutes=1),  # reported twice
        fill("other-worker", "theirs", 2),
        fill("adopted", "asked", 2),
        fill("manual", "", 1),  # no orderRef: not a signal's
        fill("done", "mine", 1),
    ]
    chosen = fills_to_deliver(
        fills, 1, tracked=lambda ref: ref == "asked", delivered=lambda exec_id: exec_id == "done"
    )
    assert [f.execution.execId for f in chosen] == ["adopted", "early", "late"]
