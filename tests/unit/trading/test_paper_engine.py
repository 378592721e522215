"""Matching, accounting and replay rules of baas.core.trading.paper."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from baas.core.trading.paper import (
    PAPER_CONTEXT,
    Cancelled,
    Fill,
    Filled,
    OrderRequest,
    PaperAccount,
    PaperSettings,
    Position,
    Rejected,
    Resting,
    RestingOrder,
    apply_outcome,
    apply_price,
    close_order,
    decide_cancel,
    decide_expiry,
    decide_order,
    decide_price,
)
from tests.support.buying_power import check_buying_power

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
D = Decimal
FREE = PaperSettings()


def at(minutes: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def request(
    side,
    qty,
    price=None,
    *,
    order_type="MKT",
    limit=None,
    symbol="AAPL",
    order_id="o1",
    minutes=0,
    expires_at=None,
) -> OrderRequest:
    return OrderRequest(
        order_id=order_id,
        symbol=symbol,
        side=side,
        quantity=D(str(qty)),
        order_type=order_type,
        limit_price=None if limit is None else D(str(limit)),
        price=None if price is None else D(str(price)),
        time=at(minutes),
        expires_at=expires_at,
    )


def limit(side, qty, limit_price, price=None, **kwargs) -> OrderRequest:
    return request(side, qty, price, order_type="LMT", limit=limit_price, **kwargs)


def apply_all(account, outcomes):
    for outcome in outcomes:
        apply_outcome(account, outcome)
    return outcomes


def trade(account, config, req):
    """Decide an order, record its price and apply the outcome, as the sandbox does."""
    outcomes = decide_order(account, config, req)
    if req.price is not None:
        apply_price(account, req.symbol, req.price)
    return apply_all(account, outcomes)


def fill_of(outcomes) -> Fill:
    [outcome] = outcomes
    assert isinstance(outcome, Filled), outcome
    return outcome.fill


def new_account(config=FREE) -> PaperAccount:
    return PaperAccount.open(config)


# Market orders


def test_market_buy_fills_at_the_request_price():
    account = new_account()
    outcomes = decide_order(account, FREE, request("buy", 10, "150.25"))
    assert outcomes == [
        Filled(Fill("o1-fill-1", "o1", "AAPL", "buy", D(10), D("150.25"), D(0), at()))
    ]
    assert account == new_account()  # deciding changes nothing
    apply_all(account, outcomes)
    assert account.cash == D("98497.50")
    assert account.positions == {"AAPL": Position(D(10), D("150.25"))}
    assert account.last_prices == {}  # prices are recorded by apply_price only


def test_market_sell_fills_at_the_last_known_price():
    account = new_account()
    trade(account, FREE, request("buy", 10, 150))
    apply_price(account, "AAPL", D(160))
    fill = fill_of(trade(account, FREE, request("sell", 4, order_id="o2", minutes=1)))
    assert (fill.price, fill.quantity, fill.time) == (D(160), D(4), at(1))
    assert account.cash == D(100000) - D(1500) + D(640)
    assert account.positions["AAPL"] == Position(D(6), D(150))
    assert account.realized_pnl == D(40)


def test_request_price_wins_over_the_last_known_price():
    account = new_account()
    apply_price(account, "AAPL", D(100))
    assert fill_of(decide_order(account, FREE, request("buy", 1, 105))).price == D(105)


def test_market_order_without_any_price_is_rejected():
    account = new_account()
    apply_price(account, "MSFT", D(300))
    expected = [Rejected("o1", "no price known for AAPL: send Price with the signal")]
    assert decide_order(account, FREE, request("buy", 1)) == expected
    # A price that is not > 0 is no price, and is not recorded either.
    assert decide_order(account, FREE, request("buy", 1, 0)) == expected
    apply_price(account, "AAPL", D(0))
    assert "AAPL" not in account.last_prices


@pytest.mark.parametrize("qty", [0, -5])
def test_quantity_must_be_positive(qty):
    [outcome] = decide_order(new_account(), FREE, request("buy", qty, 100))
    assert outcome == Rejected("o1", f"quantity must be greater than 0, not {qty}")


def test_invalid_requests_are_rejected():
    account = new_account()
    assert decide_order(account, FREE, request("hold", 1, 100)) == [
        Rejected("o1", "side must be buy or sell, not 'hold'")
    ]
    assert decide_order(account, FREE, request("buy", 1, 100, order_type="STP")) == [
        Rejected("o1", "order type must be MKT or LMT, not 'STP'")
    ]
    assert decide_order(account, FREE, request("buy", 1, 100, order_type="LMT")) == [
        Rejected("o1", "a limit order needs a limit price greater than 0, not None")
    ]
    trade(account, FREE, limit("buy", 1, 90, 100))
    assert decide_order(account, FREE, limit("buy", 1, 80, 100)) == [
        Rejected("o1", "order o1 is already open")
    ]


def test_floats_are_refused():
    req = OrderRequest("o1", "AAPL", "buy", 1.5, "MKT", None, D(100), T0)
    with pytest.raises(TypeError, match="quantity must be a Decimal"):
        decide_order(new_account(), FREE, req)


# Commission and slippage


def test_commission_per_share_with_a_minimum():
    config = PaperSettings(commission_per_share=D("0.005"), min_commission=D(1))
    account = new_account(config)
    assert fill_of(trade(account, config, request("buy", 100, 10))).commission == D(1)
    assert account.cash == D(100000) - D(1000) - D(1)
    fill = fill_of(trade(account, config, request("sell", 1000, 10, order_id="o2")))
    assert fill.commission == D("5.000")
    assert account.cash == D(100000) - D(1001) + D(10000) - D(5)
    assert account.commissions_paid == D(6)
    assert account.realized_pnl == 0  # commission is not part of it


def test_slippage_goes_against_the_trader():
    config = PaperSettings(slippage_bps=D(5))
    account = new_account(config)
    assert fill_of(decide_order(account, config, request("buy", 1, 100))).price == D("100.05")
    assert fill_of(decide_order(account, config, request("sell", 1, 100))).price == D("99.95")


def test_fill_prices_round_to_four_places_half_even():
    ten_bps = PaperSettings(slippage_bps=D(10))
    account = new_account()
    # 123.4567 * 1.001 = 123.5801567; 123.4567 * 0.999 = 123.3332433
    assert fill_of(decide_order(account, ten_bps, request("buy", 1, "123.4567"))).price == D(
        "123.5802"
    )
    assert fill_of(decide_order(account, ten_bps, request("sell", 1, "123.4567"))).price == D(
        "123.3332"
    )
    # Exact halves go to the even digit.
    half = PaperSettings(slippage_bps=D("0.5"))
    one_and_half = PaperSettings(slippage_bps=D("1.5"))
    assert fill_of(decide_order(account, half, request("buy", 1, 1))).price == D("1.0000")
    assert fill_of(decide_order(account, one_and_half, request("buy", 1, 1))).price == D("1.0002")
    assert fill_of(decide_order(account, half, request("sell", 1, 1))).price == D("1.0000")
    # Without slippage too.
    assert fill_of(decide_order(account, FREE, request("buy", 1, "10.12345"))).price == D("10.1234")
    assert fill_of(decide_order(account, FREE, request("buy", 1, "10.12355"))).price == D("10.1236")


def test_a_price_that_rounds_to_zero_is_rejected():
    [outcome] = decide_order(new_account(), FREE, request("buy", 1, "0.00004"))
    assert outcome == Rejected("o1", "the fill price of AAPL rounds to 0.0000")


# Limit orders


def test_marketable_limit_orders_fill_at_the_better_current_price():
    account = new_account()
    buy = fill_of(decide_order(account, FREE, limit("buy", 10, 101, 100)))
    sell = fill_of(decide_order(account, FREE, limit("sell", 10, 99, 100)))
    assert (buy.price, sell.price) == (D(100), D(100))
    # At the limit exactly is marketable too.
    assert fill_of(decide_order(account, FREE, limit("buy", 10, 100, 100))).price == D(100)


def test_marketable_limit_uses_the_last_known_price():
    account = new_account()
    apply_price(account, "AAPL", D(100))
    assert fill_of(decide_order(account, FREE, limit("buy", 10, 101))).price == D(100)


def test_slippage_on_a_marketable_limit_never_goes_beyond_the_limit():
    config = PaperSettings(slippage_bps=D(10))
    account = new_account(config)
    assert fill_of(decide_order(account, config, limit("buy", 1, "100.05", 100))).price == D(
        "100.05"
    )
    assert fill_of(decide_order(account, config, limit("buy", 1, 101, 100))).price == D("100.1")
    assert fill_of(decide_order(account, config, limit("sell", 1, "99.95", 100))).price == D(
        "99.95"
    )
    assert fill_of(decide_order(account, config, limit("sell", 1, 99, 100))).price == D("99.9")


def test_limit_orders_away_from_the_price_rest():
    account = new_account()
    expires = at(60)
    outcomes = decide_order(account, FREE, limit("buy", 10, 95, 100, expires_at=expires))
    order = RestingOrder("o1", "AAPL", "buy", D(10), D(95), at(), expires)
    assert outcomes == [Resting(order)]
    apply_all(account, outcomes)
    assert account.open_orders == {"o1": order}
    assert account.cash == D(100000)
    sell = decide_order(account, FREE, limit("sell", 10, 105, 100, order_id="o2"))
    assert sell == [Resting(RestingOrder("o2", "AAPL", "sell", D(10), D(105), at(), None))]


def test_limit_order_rests_when_no_price_is_known():
    [outcome] = decide_order(new_account(), FREE, limit("buy", 10, 95))
    assert isinstance(outcome, Resting)


def test_resting_buy_fills_when_a_later_price_crosses_it():
    config = PaperSettings(slippage_bps=D(10))  # not applied to resting fills
    account = new_account(config)
    trade(account, config, limit("buy", 10, 95, 100))
    assert decide_price(account, config, "AAPL", D(96), at(1)) == []
    assert decide_price(account, config, "MSFT", D(90), at(1)) == []
    before = account.to_dict()
    outcomes = decide_price(account, config, "AAPL", D("94.5"), at(2))
    assert account.to_dict() == before
    assert outcomes == [
        Filled(Fill("o1-fill-1", "o1", "AAPL", "buy", D(10), D("94.5"), D(0), at(2)))
    ]
    apply_all(account, outcomes)
    assert account.open_orders == {}
    assert account.positions == {"AAPL": Position(D(10), D("94.5"))}
    assert account.cash == D(100000) - D(945)


def test_resting_sell_fills_at_its_limit_exactly():
    account = new_account()
    trade(account, FREE, limit("sell", 10, 105, 100))
    assert decide_price(account, FREE, "AAPL", D("104.99"), at(1)) == []
    assert fill_of(decide_price(account, FREE, "AAPL", D(105), at(2))).price == D(105)


def test_crossed_orders_fill_in_order_of_placement():
    account = new_account()
    trade(account, FREE, limit("buy", 1, 95, 100, order_id="late", minutes=2))
    trade(account, FREE, limit("buy", 1, 90, 100, order_id="early", minutes=1))
    trade(account, FREE, limit("buy", 1, 80, 100, order_id="far", minutes=0))
    outcomes = decide_price(account, FREE, "AAPL", D(85), at(3))
    assert [o.fill.order_id for o in outcomes] == ["early", "late"]


def test_partially_filled_resting_order_is_reduced_and_numbers_its_fills():
    account = new_account()
    trade(account, FREE, limit("buy", 10, 95, 100))
    apply_outcome(account, Filled(Fill("o1-fill-1", "o1", "AAPL", "buy", D(4), D(95), D(0), at(1))))
    assert account.open_orders["o1"].quantity == D(6)
    fill = fill_of(decide_price(account, FREE, "AAPL", D(94), at(2)))
    assert (fill.fill_id, fill.quantity) == ("o1-fill-2", D(6))
    apply_outcome(account, Filled(fill))
    assert account.open_orders == {}
    assert account.positions["AAPL"] == Position(D(10), D("94.4"))


# Positions and realised P&L


def test_weighted_average_cost_and_partial_reduction():
    account = new_account()
    trade(account, FREE, request("buy", 100, 10))
    trade(account, FREE, request("buy", 50, 13, order_id="o2"))
    assert account.positions["AAPL"] == Position(D(150), D(11))  # (1000 + 650) / 150
    trade(account, FREE, request("sell", 30, 12, order_id="o3"))
    assert account.positions["AAPL"] == Position(D(120), D(11))
    assert account.realized_pnl == D(30)
    assert account.cash == D(100000) - D(1650) + D(360)


def test_average_cost_keeps_34_significant_digits():
    account = new_account()
    trade(account, FREE, request("buy", 1, 10))
    trade(account, FREE, request("buy", 2, 11, order_id="o2"))
    assert account.positions["AAPL"].avg_cost == D("10.66666666666666666666666666666667")


def test_long_crossing_zero_to_short_resets_average_cost():
    account = new_account()
    trade(account, FREE, request("buy", 100, 10))
    trade(account, FREE, request("sell", 150, 12, order_id="o2"))
    assert account.positions["AAPL"] == Position(D(-50), D(12))
    assert account.realized_pnl == D(200)  # only the 100 closed shares
    assert account.cash == D(100000) - D(1000) + D(1800)


def test_short_crossing_zero_to_long_resets_average_cost():
    account = new_account()
    trade(account, FREE, request("sell", 100, 50))
    trade(account, FREE, request("buy", 130, 40, order_id="o2"))
    assert account.positions["AAPL"] == Position(D(30), D(40))
    assert account.realized_pnl == D(1000)
    assert account.cash == D(100000) + D(5000) - D(5200)


def test_short_open_add_and_cover_at_a_gain_and_at_a_loss():
    account = new_account()
    trade(account, FREE, request("sell", 100, 50))
    trade(account, FREE, request("sell", 100, 40, order_id="o2"))
    assert account.positions["AAPL"] == Position(D(-200), D(45))  # avg cost stays positive
    trade(account, FREE, request("buy", 50, 30, order_id="o3"))
    assert account.realized_pnl == D(750)  # (45 - 30) * 50
    trade(account, FREE, request("buy", 150, 50, order_id="o4"))
    assert account.realized_pnl == D(750) - D(750)  # (45 - 50) * 150
    assert account.positions == {}
    assert account.cash == D(100000) + D(9000) - D(1500) - D(7500)


def test_equity_marks_at_last_price_or_average_cost():
    account = PaperAccount(
        cash=D(1000),
        positions={"AAPL": Position(D(10), D(100)), "MSFT": Position(D(-5), D(200))},
        last_prices={"AAPL": D(110)},
    )
    assert account.equity() == D(1000) + D(1100) - D(1000)
    assert new_account().equity() == D(100000)


# Closing, expiry, cancellation


def test_close_order_flattens_a_long():
    account = new_account()
    trade(account, FREE, request("buy", 10, 100))
    close = close_order(account, "c1", "AAPL", at(5), D(110))
    assert close == OrderRequest("c1", "AAPL", "sell", D(10), "MKT", None, D(110), at(5))
    trade(account, FREE, close)
    assert account.positions == {}
    assert account.realized_pnl == D(100)


def test_close_order_flattens_a_short():
    account = new_account()
    trade(account, FREE, request("sell", 7, 100))
    close = close_order(account, "c1", "AAPL", at(5), None)
    assert close == OrderRequest("c1", "AAPL", "buy", D(7), "MKT", None, None, at(5))
    trade(account, FREE, close)  # at the last known price, 100
    assert account.positions == {}
    assert account.cash == D(100000)


def test_close_order_when_flat_is_none():
    account = new_account()
    assert close_order(account, "c1", "AAPL", at(), D(100)) is None
    trade(account, FREE, request("buy", 1, 100))
    trade(account, FREE, request("sell", 1, 100, order_id="o2"))
    assert close_order(account, "c1", "AAPL", at(), D(100)) is None


def test_expiry_cancels_orders_at_or_after_their_expiry():
    account = new_account()
    trade(account, FREE, limit("buy", 1, 90, 100, order_id="a", expires_at=at(60)))
    trade(account, FREE, limit("buy", 1, 90, 100, order_id="b", expires_at=at(30)))
    trade(account, FREE, limit("buy", 1, 90, 100, order_id="gtc"))
    assert decide_expiry(account, at(29)) == []
    assert decide_expiry(account, at(30)) == [Cancelled("b", "expired")]
    assert decide_expiry(account, at(90)) == [Cancelled("b", "expired"), Cancelled("a", "expired")]
    # An expired order no longer fills, even before decide_expiry cancels it.
    fills = decide_price(account, FREE, "AAPL", D(80), at(45))
    assert [o.fill.order_id for o in fills] == ["a", "gtc"]
    apply_all(account, decide_expiry(account, at(30)))
    assert set(account.open_orders) == {"a", "gtc"}


def test_cancel_removes_an_open_order():
    account = new_account()
    trade(account, FREE, limit("buy", 1, 90, 100))
    assert decide_cancel(account, "nope", "user") == []
    outcomes = decide_cancel(account, "o1", "cancelled by user")
    assert outcomes == [Cancelled("o1", "cancelled by user")]
    apply_all(account, outcomes)
    assert account.open_orders == {}
    assert decide_cancel(account, "o1", "again") == []


def test_rejected_changes_nothing():
    account = new_account()
    trade(account, FREE, request("buy", 3, 100))
    before = account.to_dict()
    apply_outcome(account, Rejected("o9", "whatever"))
    assert account.to_dict() == before
    with pytest.raises(TypeError):
        apply_outcome(account, "Filled")


# Buying power

SMALL = PaperSettings(starting_cash=D(10000))  # buying power 20000 at leverage 2


def test_buying_power_allows_exactly_equity_times_leverage():
    account = new_account(SMALL)
    assert isinstance(decide_order(account, SMALL, request("buy", 200, 100))[0], Filled)
    assert decide_order(account, SMALL, request("buy", 201, 100)) == [
        Rejected(
            "o1",
            "insufficient buying power: gross exposure 20100.00 after this order would exceed"
            " 20000.00 (equity 10000.00, max leverage 2)",
        )
    ]
    # Shorts count the same.
    [outcome] = decide_order(account, SMALL, request("sell", 201, 100))
    assert isinstance(outcome, Rejected)


def test_buying_power_counts_commission_and_other_positions():
    config = PaperSettings(starting_cash=D(10000), min_commission=D(1))
    account = new_account(config)
    # The commission lowers equity to 9999: 200 shares at 100 no longer fit.
    [outcome] = decide_order(account, config, request("buy", 200, 100))
    assert outcome == Rejected(
        "o1",
        "insufficient buying power: gross exposure 20000.00 after this order would exceed"
        " 19998.00 (equity 9999.00, max leverage 2)",
    )
    trade(account, config, request("sell", 100, 50, symbol="MSFT"))  # short 5000
    assert isinstance(decide_order(account, config, request("buy", 149, 100))[0], Filled)
    assert isinstance(decide_order(account, config, request("buy", 150, 100))[0], Rejected)


def test_reductions_are_always_allowed():
    account = new_account(SMALL)
    trade(account, SMALL, request("buy", 200, 100))
    apply_price(account, "AAPL", D(60))
    assert account.equity() == D(2000)  # exposure 12000 > 4000 already
    assert isinstance(decide_order(account, SMALL, request("buy", 1, 60))[0], Rejected)
    assert isinstance(decide_order(account, SMALL, request("sell", 50, 60))[0], Filled)
    assert isinstance(decide_order(account, SMALL, request("sell", 200, 60))[0], Filled)
    close = close_order(account, "c1", "AAPL", at(), None)
    assert isinstance(decide_order(account, SMALL, close)[0], Filled)
    # Crossing zero is not a pure reduction: the short of 100 is checked (6000 > 4000).
    [outcome] = decide_order(account, SMALL, request("sell", 300, 60))
    assert outcome == Rejected(
        "o1",
        "insufficient buying power: gross exposure 6000.00 after this order would exceed"
        " 4000.00 (equity 2000.00, max leverage 2)",
    )


def test_an_order_price_does_not_revalue_the_position_it_adds_to():
    # Issue #12.2: marking the 10 held at the new order's price let 1 share at 1e12 pay for
    # itself, and the sale of all 11 at 100 then left cash at -999,999,899,900.
    account = new_account()
    trade(account, FREE, request("buy", 10, 100, symbol="MSFT"))
    [outcome] = trade(account, FREE, request("buy", 1, "1e12", symbol="MSFT", order_id="o2"))
    assert outcome == Rejected(
        "o2",
        "insufficient buying power: gross exposure 1000000001000.00 after this order would"
        " exceed 200000.00 (equity 100000.00, max leverage 2)",
    )
    trade(account, FREE, request("sell", 11, 100, symbol="MSFT", order_id="o3"))
    assert account.cash == D(100100)
    assert account.positions == {"MSFT": Position(D(-1), D(100))}


def test_a_gain_at_the_order_price_does_not_pay_for_the_part_beyond_zero():
    account = new_account(SMALL)
    trade(account, SMALL, request("buy", 10, 100))  # equity 10000, buying power 20000
    # Selling 30 at 1000 closes the 10 at a gain of 9000 that the order's own price makes:
    # only the 20 shares it opens short count, against the equity before (20000: it fits).
    assert isinstance(decide_order(account, SMALL, request("sell", 30, 1000))[0], Filled)
    assert decide_order(account, SMALL, request("sell", 31, 1000)) == [
        Rejected(
            "o1",
            "insufficient buying power: gross exposure 21000.00 after this order would exceed"
            " 20000.00 (equity 10000.00, max leverage 2)",
        )
    ]


def test_a_loss_at_the_order_price_lowers_the_equity_that_backs_the_part_beyond_zero():
    account = new_account(SMALL)
    trade(account, SMALL, request("sell", 10, 100))  # short 10, equity 10000
    # Buying 30 at 1000 closes the short at a loss of 9000: equity 1000, 20000 opened.
    [outcome] = decide_order(account, SMALL, request("buy", 30, 1000))
    assert outcome == Rejected(
        "o1",
        "insufficient buying power: gross exposure 20000.00 after this order would exceed"
        " 2000.00 (equity 1000.00, max leverage 2)",
    )


def test_resting_order_is_checked_at_placement_with_its_limit_price():
    account = new_account(SMALL)
    [outcome] = decide_order(account, SMALL, limit("buy", 250, 90, 100))
    assert outcome == Rejected(
        "o1",
        "insufficient buying power: gross exposure 22500.00 after this order would exceed"
        " 20000.00 (equity 10000.00, max leverage 2)",
    )
    [outcome] = decide_order(account, SMALL, limit("buy", 200, 100))
    assert isinstance(outcome, Resting)


def test_resting_order_that_no_longer_fits_is_cancelled_when_it_would_fill():
    account = new_account(SMALL)
    trade(account, SMALL, limit("buy", 150, 95, 100))  # 14250: fits at placement
    trade(account, SMALL, limit("buy", 10, 94, 100, order_id="o3"))
    trade(account, SMALL, request("buy", 60, 100, order_id="o2"))
    outcomes = decide_price(account, SMALL, "AAPL", D(94), at(1))
    # The 60 held at their mark (100) and 150 more at 94: 20100, against equity 10000.
    assert outcomes[0] == Cancelled(
        "o1",
        "insufficient buying power: gross exposure 20100.00 after this order would exceed"
        " 20000.00 (equity 10000.00, max leverage 2)",
    )
    # The next order is checked against the account the cancellation left: it fits.
    assert isinstance(outcomes[1], Filled)
    apply_all(account, outcomes)
    assert account.open_orders == {}
    assert account.positions["AAPL"].quantity == D(70)


# Settings and serialisation


def test_settings_from_config():
    config = PaperSettings.from_config(
        {"StartingCash": 25000, "CommissionPerShare": 0.005, "MinCommission": 1, "SlippageBps": 2.5}
    )
    assert config == PaperSettings(D(25000), D("0.005"), D(1), D("2.5"), D(2))
    assert config.commission_per_share == D("0.005")  # exact, not the binary float
    assert PaperSettings.from_config({}) == PaperSettings()
    assert PaperSettings.from_config({"SlippageBps": None, "Other": "x"}) == PaperSettings()
    assert PaperSettings.from_config({"MaxLeverage": 1}).max_leverage == D(1)


@pytest.mark.parametrize(
    "config",
    [
        {"StartingCash": -1},
        {"CommissionPerShare": True},
        {"MinCommission": "lots"},
        {"SlippageBps": 10000},
        {"MaxLeverage": 0},
        {"StartingCash": float("nan")},
    ],
)
def test_settings_refuse_bad_numbers(config):
    with pytest.raises(ValueError):
        PaperSettings.from_config(config)


def test_account_round_trips_through_json():
    account = new_account()
    trade(account, FREE, request("buy", 1, 10))
    trade(account, FREE, request("buy", 2, 11, order_id="o2"))
    trade(account, FREE, request("sell", D("2.50"), "300.10", symbol="MSFT", order_id="o3"))
    trade(account, FREE, request("sell", 1, 12, order_id="o4"))
    trade(account, FREE, limit("buy", 5, "9.5", order_id="o5", minutes=3))
    paris = timezone(timedelta(hours=1))
    expires = datetime(2024, 1, 2, 17, 30, 0, 250000, tzinfo=paris)
    trade(account, FREE, limit("sell", 5, 400, symbol="MSFT", order_id="o6", expires_at=expires))
    apply_price(account, "NVDA", D("1.10"))

    data = account.to_dict()
    assert data == {
        "cash": str(account.cash),
        "realized_pnl": "1.33333333333333333333333333333333",
        "commissions_paid": "0.00",  # 0 * 2.50
        "positions": {
            "AAPL": {"quantity": "2", "avg_cost": "10.66666666666666666666666666666667"},
            "MSFT": {"quantity": "-2.50", "avg_cost": "300.1000"},  # fill prices have 4 places
        },
        "open_orders": [
            {
                "order_id": "o5",
                "symbol": "AAPL",
                "side": "buy",
                "quantity": "5",
                "limit_price": "9.5",
                "placed_at": "2024-01-02T15:03:00Z",
                "expires_at": None,
                "fill_count": 0,
            },
            {
                "order_id": "o6",
                "symbol": "MSFT",
                "side": "sell",
                "quantity": "5",
                "limit_price": "400",
                "placed_at": "2024-01-02T15:00:00Z",
                "expires_at": "2024-01-02T16:30:00.250000Z",
                "fill_count": 0,
            },
        ],
        "last_prices": {"AAPL": "12", "MSFT": "300.10", "NVDA": "1.10"},
    }
    restored = PaperAccount.from_dict(json.loads(json.dumps(data)))
    assert restored == account
    assert restored.to_dict() == data
    assert restored.open_orders["o6"].expires_at.tzinfo is UTC


# Replay: random order flows

SYMBOLS = ("AAPL", "MSFT")
CONFIGS = (
    FREE,
    PaperSettings(
        starting_cash=D(20000),
        commission_per_share=D("0.005"),
        min_commission=D(1),
        slippage_bps=D(5),
    ),
    PaperSettings(starting_cash=D(5000), slippage_bps=D("2.5"), max_leverage=D(1)),
)


def plan_steps(prices, quantities):
    """Steps of a random order flow: orders, prices, expiries, cancels and closes."""
    maybe_price = st.none() | prices
    orders = st.tuples(
        st.just("order"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(("buy", "sell")),
        quantities,
        st.sampled_from(("MKT", "LMT")),
        prices,
        maybe_price,
        st.none() | st.integers(1, 20),
    )
    new_prices = st.tuples(st.just("price"), st.sampled_from(SYMBOLS), prices)
    # Orders and prices are drawn more often than the other steps.
    return st.one_of(
        orders,
        orders,
        new_prices,
        new_prices,
        st.tuples(st.just("expire")),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("close"), st.sampled_from(SYMBOLS), maybe_price),
    )


steps = plan_steps(st.integers(5000, 15000).map(lambda cents: D(cents) / 100), st.integers(1, 100))
# Prices a signal may carry to fool the sandbox: from a ten-thousandth to a trillion.
adversarial_prices = st.sampled_from(
    [D("0.0001"), D("0.01"), D(1), D(100), D("1e6"), D("1e9"), D("1e12")]
) | st.decimals(min_value=D("0.0001"), max_value=D("1e12"), places=4)
adversarial_steps = plan_steps(
    adversarial_prices, st.sampled_from([1, 10, 100]) | st.integers(1, 10**6)
)


def drive(config, plan):
    """Run a plan step by step, applying each outcome as soon as it is decided.

    Returns the account and the log of what was recorded: prices and outcomes."""
    account = PaperAccount.open(config)
    log = []
    limits = {}  # order id -> the limit order's request

    def decide(fn, *args):
        before = account.to_dict()
        outcomes = fn(account, *args)
        assert account.to_dict() == before  # deciding changes nothing
        return outcomes

    def record(outcomes, symbol=None, price=None):
        for outcome in outcomes:
            check_buying_power(account, config, outcome)
            apply_outcome(account, outcome)
            log.append(outcome)
        if price is not None:
            apply_price(account, symbol, price)
            log.append((symbol, price))

    for i, step in enumerate(plan):
        now = at(i)
        kind = step[0]
        if kind == "order":
            _, symbol, side, qty, order_type, limit_price, price, expires = step
            req = OrderRequest(
                order_id=f"o{i}",
                symbol=symbol,
                side=side,
                quantity=D(qty),
                order_type=order_type,
                limit_price=limit_price if order_type == "LMT" else None,
                price=price,
                time=now,
                expires_at=None if expires is None else at(i + expires),
            )
            if order_type == "LMT":
                limits[req.order_id] = req
            if price is not None:
                # A signal's price is a new price: resting orders it crosses fill first.
                record(decide(decide_price, config, symbol, price, now))
            record(decide(decide_order, config, req), symbol, price)
        elif kind == "price":
            _, symbol, price = step
            record(decide(decide_price, config, symbol, price, now), symbol, price)
        elif kind == "expire":
            record(decide(decide_expiry, now))
        elif kind == "cancel":
            ids = sorted(account.open_orders)
            if ids:
                record(decide(decide_cancel, ids[step[1] % len(ids)], "user"))
        else:
            _, symbol, price = step
            close = close_order(account, f"c{i}", symbol, now, price)
            if close is not None:
                record(decide(decide_order, config, close), symbol, price)
    return account, log, limits


def replay(config, log):
    account = PaperAccount.open(config)
    for entry in log:
        if isinstance(entry, tuple):
            apply_price(account, *entry)
        else:
            apply_outcome(account, entry)
    return account


def check_accounting(config, account, log, limits):
    with localcontext(PAPER_CONTEXT):  # the engine's precision, whatever the amounts
        check_cash_and_equity(config, account, log)
    fills = [entry.fill for entry in log if isinstance(entry, Filled)]
    for position in account.positions.values():
        assert position.quantity != 0
        assert position.avg_cost > 0
    for order in account.open_orders.values():
        assert order.quantity > 0

    for fill in fills:
        assert fill.fill_id == f"{fill.order_id}-fill-1"
        order = limits.get(fill.order_id)
        if order is not None:
            if fill.side == "buy":
                assert fill.price <= order.limit_price
            else:
                assert fill.price >= order.limit_price


def check_cash_and_equity(config, account, log):
    fills = [entry.fill for entry in log if isinstance(entry, Filled)]
    commissions = sum((f.commission for f in fills), D(0))
    flows = sum((f.quantity * f.price * (-1 if f.side == "buy" else 1) for f in fills), D(0))
    # Cash is exact: the start, the trades' notionals and the commissions.
    assert account.cash == config.starting_cash + flows - commissions
    assert account.commissions_paid == commissions

    # Marked at the last fill prices, equity is the start plus realised and unrealised P&L
    # less commissions. Exact up to the 34-digit rounding of average costs, which grows with
    # the amounts traded.
    marks = {f.symbol: f.price for f in fills}
    equity = account.cash + sum((p.quantity * marks[s] for s, p in account.positions.items()), D(0))
    unrealized = sum(
        (p.quantity * (marks[s] - p.avg_cost) for s, p in account.positions.items()), D(0)
    )
    expected = config.starting_cash + account.realized_pnl + unrealized - commissions
    traded = sum((f.quantity * f.price for f in fills), D(0))
    assert abs(equity - expected) <= max(D("1e-20"), traded * D("1e-30"))


@settings(max_examples=300, deadline=None)
@given(config=st.sampled_from(CONFIGS), plan=st.lists(steps, min_size=10, max_size=60))
def test_replaying_recorded_outcomes_rebuilds_the_account(config, plan):
    account, log, limits = drive(config, plan)
    first = replay(config, log)
    second = replay(config, log)
    assert first == account
    assert second == first
    assert first.to_dict() == account.to_dict() == second.to_dict()
    # Deciding is deterministic: the same plan records the same log.
    again, log_again, _ = drive(config, plan)
    assert log_again == log
    assert again == account
    assert PaperAccount.from_dict(json.loads(json.dumps(account.to_dict()))) == account
    check_accounting(config, account, log, limits)


@settings(max_examples=300, deadline=None)
@given(config=st.sampled_from(CONFIGS), plan=st.lists(adversarial_steps, min_size=1, max_size=30))
@example(  # amounts of 1e10: the equity check's tolerance grows with them
    config=CONFIGS[1],
    plan=[
        ("price", "AAPL", D("0.0001")),
        ("order", "AAPL", "buy", 1, "MKT", D("0.0001"), None, None),
        ("order", "AAPL", "sell", 21, "MKT", D("0.0001"), None, None),
        ("order", "MSFT", "buy", 1, "MKT", D("0.0001"), None, None),
        ("order", "AAPL", "sell", 1, "MKT", D("0.0001"), D("0.01"), None),
        ("price", "AAPL", D("1e9")),
        ("order", "AAPL", "buy", 1, "MKT", D("0.0001"), None, None),
    ],
)
def test_no_price_a_signal_carries_pays_for_its_own_order(config, plan):
    # drive() checks the buying power invariant before every fill it applies.
    account, log, limits = drive(config, plan)
    check_accounting(config, account, log, limits)
