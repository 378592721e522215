"""Signal decisions at the edges of what the door accepts (and of what older doors let in)."""

import json
from decimal import Decimal
from pathlib import Path

from baas.core.trading import events as ev
from baas.core.trading.signals import MAX_PRICE, MAX_QUANTITY
from tests.unit.trading.test_signal_buying_power import new_model, signal, trade

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def rejection(events: list[ev.DomainEvent]) -> str:
    [rejected] = [e for e in events if e.type == ev.SIGNAL_REJECTED]
    return rejected.data["Reason"]


def test_risk_sizing_at_a_tiny_price_is_rejected_above_the_most_a_signal_trades():
    model, shadow = new_model(), new_model()
    data = {**signal(1, "buy", 1, Decimal("5e-324"), "MKT"), "AccountRiskPercentage": 100}
    events = trade(model, shadow, 1, data)
    assert rejection(events) == ("the sized quantity is above 1000000000, the most a signal trades")


def test_the_bounds_are_the_schemas():
    for name in ("submit-signal", "configure-indicator-alert", "configure-strategy-alert"):
        schema = json.loads((SCHEMAS / name / "1.0.json").read_text())
        assert Decimal(schema["properties"]["Quantity"]["maximum"]) == MAX_QUANTITY
    schema = json.loads((SCHEMAS / "submit-signal" / "1.0.json").read_text())
    assert Decimal(schema["properties"]["Price"]["maximum"]) == MAX_PRICE


def test_a_signal_beyond_the_bounds_an_older_gateway_let_in_is_rejected():
    # A price of 1e100 made the sandbox's rounding fail in the worker.
    model, shadow = new_model(), new_model()
    events = trade(model, shadow, 1, signal(1, "buy", 1, Decimal("1e100"), "MKT"))
    assert rejection(events) == "Price 1E+100 is above 1000000000, the most a signal may carry"
    events = trade(model, shadow, 2, signal(2, "buy", 10**20, Decimal(1), "MKT"))
    assert rejection(events) == (
        "Quantity 100000000000000000000 is above 1000000000, the most a signal may carry"
    )


def test_a_signal_for_a_broker_the_engine_cannot_run_is_rejected():
    # An older door let SlippageBps 10000 in: the engine refuses it, so the signal is rejected
    # with the reason instead of failing in the worker.
    model, shadow = new_model(), new_model()
    model.brokers["odd"] = {"BrokerId": "odd", "Kind": "paper", "SlippageBps": 10000}
    data = {**signal(1, "buy", 1, Decimal(100), "MKT"), "BrokerId": "odd"}
    assert rejection(trade(model, shadow, 1, data)) == (
        "broker 'odd' is misconfigured: slippage_bps must be below 10000"
    )


def test_risk_sizing_on_an_account_whose_equity_is_not_positive_is_rejected():
    # A short that the market moved against leaves a negative equity: sizing by it gave a
    # negative quantity that the rounding could not hold (the worker failed the command).
    model, shadow = new_model(), new_model()
    trade(model, shadow, 1, signal(1, "sell", 1000, Decimal(100), "MKT"))
    trade(model, shadow, 2, signal(2, "buy", 10**6, Decimal(1000), "MKT"))
    assert model.accounts["paper"].equity() < 0
    data = {**signal(3, "buy", 1, Decimal("5e-324"), "MKT"), "AccountRiskPercentage": 1}
    assert rejection(trade(model, shadow, 3, data)).startswith(
        "risk sizing needs a positive equity; the account's is -"
    )
