"""The IBKR adapter's orders against the fake IB Gateway, through the real ib_async."""

import asyncio
from decimal import Decimal

import pytest

from tests.fakes.ib_gateway import FakeIBGateway, Fill, Hold, Reject, messages
from tests.support.ibkr_broker import MakeBroker, Outcomes, broker_order

OCC = "AAPL  250117C00150000"


def exec_ids(gateway: FakeIBGateway, order_ref: str) -> list[str]:
    return [e.exec_id for e in gateway.executions if e.order_ref == order_ref]


async def test_a_stock_market_order_fills(gateway: FakeIBGateway, make_broker: MakeBroker) -> None:
    gateway.on_order(Fill(price=190.5, commission=1.25), order_ref="sig-stk")
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-stk", "AAPL", quantity=10))
    filled = await outcomes.final("sig-stk")

    [placed] = gateway.placed(order_ref="sig-stk")
    assert (placed.sec_type, placed.symbol, placed.exchange, placed.currency) == (
        "STK", "AAPL", "SMART", "USD",
    )  # fmt: skip
    assert (placed.action, placed.total_quantity, placed.order_type, placed.tif) == (
        "BUY", 10.0, "MKT", "DAY",
    )  # fmt: skip
    assert placed.client_id == 1
    perm_id = str(gateway.order("sig-stk").perm_id)
    submitted, _ = outcomes.of("sig-stk")
    assert (submitted.kind, submitted.quantity, submitted.broker_order_id) == (
        "submitted", Decimal(10), perm_id,
    )  # fmt: skip
    assert (submitted.tenant_id, submitted.broker_id, submitted.reason) == (
        "tenant-1", "ibkr-main", None,
    )  # fmt: skip
    assert (filled.kind, filled.quantity, filled.price, filled.commission) == (
        "filled", Decimal(10), Decimal("190.5"), Decimal("1.25"),
    )  # fmt: skip
    assert (filled.fill_id, filled.broker_order_id, filled.commission_currency) == (
        exec_ids(gateway, "sig-stk")[0], perm_id, "USD",
    )  # fmt: skip
    assert outcomes.kinds("sig-stk") == ["submitted", "filled"]


async def test_a_limit_order_is_rounded_to_the_tick_in_the_traders_favour(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(
        broker_order(
            "sig-lmt", "MSFT", side="sell", quantity=5, order_type="LMT", limit_price="421.004"
        )
    )
    filled = await outcomes.final("sig-lmt")

    [placed] = gateway.placed(order_ref="sig-lmt")
    assert (placed.action, placed.order_type, placed.lmt_price, placed.tif) == (
        "SELL", "LMT", 421.01, "DAY",
    )  # fmt: skip
    submitted = outcomes.of("sig-lmt", "submitted")[0]
    assert submitted.price == Decimal("421.01")
    assert submitted.reason == "limit 421.004 rounded to 421.01 (tick 0.01)"
    assert (filled.quantity, filled.price) == (Decimal(5), Decimal("421.01"))


async def test_forex_on_idealpro_in_base_currency_units(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-fx", "EUR.USD", instrument_type="Forex", quantity=20000))
    filled = await outcomes.final("sig-fx")

    [placed] = gateway.placed(order_ref="sig-fx")
    assert (placed.sec_type, placed.symbol, placed.currency, placed.exchange) == (
        "CASH", "EUR", "USD", "IDEALPRO",
    )  # fmt: skip
    assert placed.contract.con_id == gateway.instrument("EUR.USD").con_id
    assert (placed.total_quantity, placed.cash_qty) == (20000.0, None)
    assert (filled.quantity, filled.price) == (Decimal(20000), Decimal("1.08"))


async def test_a_crypto_market_buy_is_sent_as_cash(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(
        broker_order(
            "sig-btc-buy", "BTCUSD", instrument_type="Crypto", quantity="0.05", price="60000"
        )
    )
    filled = await outcomes.wait_for(lambda: outcomes.of("sig-btc-buy", "filled"))

    [placed] = gateway.placed(order_ref="sig-btc-buy")
    assert (placed.sec_type, placed.symbol, placed.exchange, placed.currency) == (
        "CRYPTO", "BTC", "PAXOS", "USD",
    )  # fmt: skip
    assert (placed.action, placed.total_quantity, placed.cash_qty, placed.tif) == (
        "BUY", 0.0, 3000.0, "IOC",
    )  # fmt: skip
    [fill] = filled
    assert (fill.quantity, fill.price, fill.order_quantity) == (
        Decimal("0.05"), Decimal(60000), None,
    )  # fmt: skip
    submitted = outcomes.of("sig-btc-buy", "submitted")[0]
    assert submitted.quantity is None
    assert submitted.reason == "sent as 3000.00 USD of BTC (0.05 × 60000)"


async def test_a_crypto_sell_is_sent_in_coins(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(
        broker_order(
            "sig-btc-sell", "BTC", instrument_type="Crypto", side="sell", quantity="0.0125"
        )
    )
    filled = await outcomes.final("sig-btc-sell")

    [placed] = gateway.placed(order_ref="sig-btc-sell")
    assert (placed.action, placed.total_quantity, placed.cash_qty, placed.tif) == (
        "SELL", 0.0125, None, "IOC",
    )  # fmt: skip
    assert (filled.quantity, filled.price) == (Decimal("0.0125"), Decimal(60000))


async def test_a_crypto_market_buy_without_a_price_is_rejected(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-btc-np", "BTC", instrument_type="Crypto", quantity="0.1"))
    rejected = await outcomes.final("sig-btc-np")

    assert rejected.kind == "rejected"
    assert "send Price with the signal" in (rejected.reason or "")
    assert gateway.placed() == []


@pytest.mark.parametrize("symbol", [OCC, OCC.replace(" ", ""), "AAPL 20250117 150 C"])
async def test_options_from_an_occ_symbol(
    gateway: FakeIBGateway, make_broker: MakeBroker, symbol: str
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(
        broker_order(
            "sig-opt",
            symbol,
            instrument_type="Options",
            quantity=2,
            order_type="LMT",
            limit_price="3.5",
        )
    )
    filled = await outcomes.final("sig-opt")

    [placed] = gateway.placed(order_ref="sig-opt")
    assert (placed.sec_type, placed.symbol, placed.exchange) == ("OPT", "AAPL", "SMART")
    assert (placed.contract.last_trade_date, placed.contract.strike, placed.contract.right) == (
        "20250117", 150.0, "C",
    )  # fmt: skip
    assert placed.contract.con_id == gateway.instrument(OCC).con_id
    assert (filled.quantity, filled.price) == (Decimal(2), Decimal("3.5"))


async def test_a_partial_fill_is_its_own_outcome(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Fill(price=100.0, parts=(40, 60), commission=0.5), order_ref="sig-parts")
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-parts", "SPY", quantity=100))
    await outcomes.final("sig-parts")

    fills = outcomes.of("sig-parts", "filled")
    assert [(f.quantity, f.cumulative_quantity) for f in fills] == [
        (Decimal(40), Decimal(40)), (Decimal(60), Decimal(100)),
    ]  # fmt: skip
    assert [f.fill_id for f in fills] == exec_ids(gateway, "sig-parts")
    assert len({f.fill_id for f in fills}) == 2
    assert all(f.commission == Decimal("0.5") for f in fills)
    assert outcomes.kinds("sig-parts") == ["submitted", "filled", "filled"]


@pytest.mark.parametrize(
    "reject",
    [
        Reject(201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED."),
        Reject.fractional(),
        Reject(10289, "Order refused by the fake gateway"),
    ],
    ids=lambda r: str(r.code),
)
async def test_rejections_carry_ibs_code_and_message(
    gateway: FakeIBGateway, make_broker: MakeBroker, reject: Reject
) -> None:
    gateway.on_order(reject, order_ref="sig-refused")
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-refused", "AAPL", quantity=1))
    rejected = await outcomes.final("sig-refused")

    assert (rejected.kind, rejected.code, rejected.reason) == (
        "rejected",
        reject.code,
        reject.message,
    )
    await asyncio.sleep(0.1)
    assert outcomes.kinds("sig-refused") == ["rejected"]


async def test_fractional_shares_round_down_and_zero_is_refused_before_sending(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-half", "AAPL", quantity="0.5"))
    await broker.submit(broker_order("sig-frac", "AAPL", quantity="10.7"))
    rejected = await outcomes.final("sig-half")
    await outcomes.final("sig-frac")

    assert (rejected.kind, rejected.code) == ("rejected", None)
    assert rejected.reason == (
        "IB does not take fractional share orders through its API (error 10243): "
        "0.5 rounds down to 0 shares"
    )
    assert gateway.placed(order_ref="sig-half") == []
    [placed] = gateway.placed(order_ref="sig-frac")
    assert placed.total_quantity == 10.0
    submitted = outcomes.of("sig-frac", "submitted")[0]
    assert (submitted.quantity, submitted.reason) == (
        Decimal(10), "quantity 10.7 rounded down to 10",
    )  # fmt: skip


async def test_cancel_a_working_order(gateway: FakeIBGateway, make_broker: MakeBroker) -> None:
    gateway.on_order(Hold(), order_ref="sig-cancel")
    broker, outcomes = await make_broker()

    await broker.submit(
        broker_order("sig-cancel", "IBM", quantity=1, order_type="LMT", limit_price="150")
    )
    await outcomes.wait_for(lambda: outcomes.of("sig-cancel", "submitted"))
    assert await broker.cancel("sig-cancel")
    cancelled = await outcomes.final("sig-cancel")

    assert (cancelled.kind, cancelled.reason, cancelled.code) == (
        "cancelled", "cancelled on request", None,
    )  # fmt: skip
    assert cancelled.broker_order_id == str(gateway.order("sig-cancel").perm_id)
    assert gateway.order("sig-cancel").status == "Cancelled"
    assert not await broker.cancel("sig-cancel")
    assert not await broker.cancel("no-such-signal")
    await asyncio.sleep(0.1)
    assert outcomes.kinds("sig-cancel") == ["submitted", "cancelled"]


async def test_an_order_cancelled_at_ib_is_reported(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Hold(), order_ref="sig-ib-cancel")
    broker, outcomes = await make_broker()
    await broker.submit(broker_order("sig-ib-cancel", "IBM", quantity=1))
    await outcomes.wait_for(lambda: outcomes.of("sig-ib-cancel", "submitted"))

    gateway.cancel_at_ib("sig-ib-cancel")  # as if cancelled in TWS
    cancelled = await outcomes.final("sig-ib-cancel")

    assert (cancelled.kind, cancelled.reason) == ("cancelled", "cancelled at IB")


async def test_an_unknown_symbol_is_rejected_with_ibs_error_200(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-nope", "NOPE", quantity=1))
    rejected = await outcomes.final("sig-nope")

    assert (rejected.kind, rejected.code) == ("rejected", 200)
    assert rejected.reason == f"{messages.NO_SECURITY_DEFINITION} (STK NOPE SMART USD)"
    assert gateway.placed() == []


async def test_each_contract_is_qualified_once(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    for n in range(3):
        await broker.submit(broker_order(f"sig-q{n}", "AAPL", quantity=1))
    await outcomes.wait_for(lambda: len(outcomes.of("sig-q2", "filled")) == 1)

    details_requests = [r for r in gateway.received if r.msg_id == 9]
    assert len(details_requests) == 1
    assert len(gateway.placed(symbol="AAPL")) == 3


@pytest.mark.parametrize(
    ("key", "held", "action", "quantity"),
    [("AAPL", 10, "SELL", 10.0), ("EUR.USD", -20000, "BUY", 20000.0)],
)
async def test_close_sends_the_opposite_order_for_the_position(
    gateway: FakeIBGateway,
    make_broker: MakeBroker,
    key: str,
    held: int,
    action: str,
    quantity: float,
) -> None:
    gateway.set_position(key, held, 100.0)
    broker, outcomes = await make_broker()
    instrument_type = "Forex" if "." in key else "STK"

    await broker.close_position(
        broker_order("sig-close", key, instrument_type=instrument_type, side="close", quantity=1)
    )
    filled = await outcomes.final("sig-close")

    [placed] = gateway.placed(order_ref="sig-close")
    assert (placed.action, placed.total_quantity) == (action, quantity)
    assert placed.contract.con_id == gateway.instrument(key).con_id
    assert filled.quantity == Decimal(str(quantity))
    assert outcomes.of("sig-close", "submitted")[0].quantity == Decimal(str(quantity))


async def test_close_without_a_position_is_rejected(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    broker, outcomes = await make_broker()

    await broker.submit(broker_order("sig-flat", "MSFT", side="close", quantity=1))
    rejected = await outcomes.final("sig-flat")

    assert rejected.kind == "rejected"
    assert rejected.reason == (
        "nothing to close: IB reports no position in STK MSFT SMART USD in account DU1234567"
    )
    assert gateway.placed() == []


async def test_a_second_close_after_the_first_filled_sends_nothing(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.set_position("IBM", 7, 150.0)
    broker, outcomes = await make_broker()
    close = broker_order("sig-close-twice", "IBM", side="close", quantity=1)

    await broker.submit(close)
    await outcomes.final("sig-close-twice")
    await broker.submit(close)

    assert len(gateway.placed(order_ref="sig-close-twice")) == 1
    assert outcomes.kinds("sig-close-twice") == ["submitted", "filled"]


async def test_submit_twice_places_one_order(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Hold(), order_ref="sig-concurrent")
    broker, outcomes = await make_broker()
    order = broker_order("sig-twice", "AAPL", quantity=3)
    concurrent = broker_order("sig-concurrent", "AAPL", quantity=3)

    await broker.submit(order)
    await outcomes.final("sig-twice")
    await broker.submit(order)
    await asyncio.gather(*(broker.submit(concurrent) for _ in range(5)))
    await outcomes.wait_for(lambda: outcomes.of("sig-concurrent", "submitted"))

    assert len(gateway.placed(order_ref="sig-twice")) == 1
    assert len(gateway.placed(order_ref="sig-concurrent")) == 1
    assert outcomes.kinds("sig-twice") == ["submitted", "filled"]


async def test_submit_again_after_a_restart_places_nothing(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    """A worker that crashed after placing, restarted (a new adapter, same clientId) and
    handled the signal again: IB has the order, so nothing is sent; the fill already recorded
    (its execId given back to the new adapter) is not delivered again."""
    first, first_outcomes = await make_broker(client_id=3)
    order = broker_order("sig-crash", "AAPL", quantity=4)
    await first.submit(order)
    await first_outcomes.final("sig-crash")
    await first.stop()
    delivered = first.delivered_exec_ids

    second, outcomes = await make_broker(client_id=3, delivered_exec_ids=delivered)
    await second.submit(order)
    await asyncio.sleep(0.1)

    assert len(gateway.placed(order_ref="sig-crash")) == 1
    assert outcomes.kinds("sig-crash") == ["submitted"]
    assert outcomes.of("sig-crash")[0].broker_order_id == str(gateway.order("sig-crash").perm_id)


async def test_a_fill_not_recorded_before_a_restart_is_delivered_by_the_new_adapter(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    first, first_outcomes = await make_broker(client_id=3)
    await first.submit(broker_order("sig-unrecorded", "AAPL", quantity=4))
    await first_outcomes.final("sig-unrecorded")
    await first.stop()

    _second, outcomes = await make_broker(client_id=3)  # nothing given back: a fresh start
    [fill] = await outcomes.wait_for(lambda: outcomes.of("sig-unrecorded", "filled"))

    assert fill.fill_id == exec_ids(gateway, "sig-unrecorded")[0]
    assert outcomes.kinds("sig-unrecorded") == ["filled"]


async def test_an_odd_lot_warning_is_not_an_error(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    gateway.on_order(Hold(), order_ref="sig-odd")
    broker, outcomes = await make_broker()
    await broker.submit(broker_order("sig-odd", "EUR.USD", instrument_type="Forex", quantity=1500))
    await outcomes.wait_for(lambda: outcomes.of("sig-odd", "submitted"))

    # IB's notice for an odd lot arrives as an error message carrying the order id
    gateway.deliver_notice(
        399, "Order Message:\nBUY 1500 EUR.USD\nWarning: odd lot", order_ref="sig-odd"
    )
    await asyncio.sleep(0.1)
    gateway.release("sig-odd", Fill(price=1.08))
    filled = await outcomes.final("sig-odd")

    assert filled.quantity == Decimal(1500)
    assert outcomes.kinds("sig-odd") == ["submitted", "filled"]


async def test_a_sink_failure_is_retried_by_the_next_reconciliation(
    gateway: FakeIBGateway, make_broker: MakeBroker
) -> None:
    class Flaky(Outcomes):
        failed = False

        async def __call__(self, outcome):  # type: ignore[no-untyped-def]
            if outcome.kind == "filled" and not self.failed:
                self.failed = True
                raise RuntimeError("store down")
            await super().__call__(outcome)

    broker, outcomes = await make_broker(sink=Flaky())
    await broker.submit(broker_order("sig-flaky", "AAPL", quantity=1))
    await outcomes.wait_for(lambda: outcomes.of("sig-flaky", "submitted"))
    await broker.drain()
    assert outcomes.kinds("sig-flaky") == ["submitted"]

    assert await broker.reconcile_executions() == 1
    await outcomes.final("sig-flaky")
    assert await broker.reconcile_executions() == 0
    await broker.drain()
    assert outcomes.kinds("sig-flaky") == ["submitted", "filled"]


async def test_net_liquidation(gateway: FakeIBGateway, make_broker: MakeBroker) -> None:
    gateway.set_account_value("NetLiquidation", "123456.78")
    broker, _ = await make_broker()
    assert broker.net_liquidation() == Decimal("123456.78")
