"""Signals through the sandbox's decision, with prices chosen to fool its buying power check."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from baas.core.trading import events as ev
from baas.core.trading.paper import Fill, Filled, PaperSettings
from baas.core.trading.readmodel import DEFAULT_PAPER_BROKER, ReadModel, evolve
from baas.core.trading.signals import SignalPolicy, decide_signal
from tests.support.buying_power import check_buying_power

T0 = datetime(2026, 4, 27, 11, 20, tzinfo=UTC)
PAPER_SETTINGS = PaperSettings.from_config(DEFAULT_PAPER_BROKER)


def new_model() -> ReadModel:
    model = ReadModel()
    model.alerts["a"] = {"AlertId": "a", "BrokerId": "paper"}
    return model


def signal(number: int, action: str, quantity: int, price: Decimal | None, order_type: str):
    data = {
        "Id": f"s{number}",
        "CorrelationId": "a",
        "Symbol": "MSFT",
        "Data": action,
        "Quantity": quantity,
        "OrderType": order_type,
        "InstrumentType": "STK",
    }
    if price is not None:
        data["Price"] = price
    return data


def trade(model: ReadModel, shadow: ReadModel, number: int, data: dict) -> list[ev.DomainEvent]:
    """Decide one signal on ``model``; fold its outcomes into ``shadow``, checking every fill
    against the account as it was just before it, at the prices known before the signal."""
    now = T0 + timedelta(seconds=number)
    events = decide_signal(data, now, None, model, now, SignalPolicy())
    prices = [e for e in events if e.type == ev.PRICE_OBSERVED]
    for event in [e for e in events if e.type != ev.PRICE_OBSERVED] + prices:
        if event.type == ev.ORDER_FILLED:
            d = event.data
            fill = Fill(
                d["FillId"],
                d["OrderId"],
                d["Symbol"],
                d["Side"],
                Decimal(d["Quantity"]),
                Decimal(d["Price"]),
                Decimal(d["Commission"]),
                event.time,
            )
            check_buying_power(shadow.account("paper"), PAPER_SETTINGS, Filled(fill))
        evolve(shadow, event)
    return events


def test_the_signal_price_is_recorded_after_its_order_is_decided():
    # Issue #12.2 through the signal path: the 1e9 price must not value the 10 held.
    model, shadow = new_model(), new_model()
    trade(model, shadow, 1, signal(1, "buy", 10, Decimal(100), "MKT"))
    events = trade(model, shadow, 2, signal(2, "buy", 1, Decimal("1e9"), "MKT"))
    assert [e.type for e in events] == [
        ev.SIGNAL_ACCEPTED,
        ev.ORDER_REJECTED,
        ev.PRICE_OBSERVED,
    ]
    assert events[1].data["Reason"].startswith("insufficient buying power")
    trade(model, shadow, 3, signal(3, "sell", 11, Decimal(100), "MKT"))
    assert model.account("paper").cash == Decimal(100100)


# Up to the schema's bound on Price.
prices = st.sampled_from(
    [Decimal("0.0001"), Decimal(1), Decimal(100), Decimal("1e9")]
) | st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e9"), places=4)
signals = st.tuples(
    st.sampled_from(("buy", "sell", "close")),
    st.sampled_from([1, 10, 100]) | st.integers(1, 10**6),
    st.none() | prices,
    st.sampled_from(("MKT", "LMT")),
)


@settings(max_examples=200, deadline=None)
@given(plan=st.lists(signals, min_size=1, max_size=20))
def test_no_signal_price_pays_for_its_own_order(plan):
    model, shadow = new_model(), new_model()
    for number, (action, quantity, price, order_type) in enumerate(plan):
        if order_type == "LMT" and price is None:
            price = Decimal(100)
        trade(model, shadow, number, signal(number, action, quantity, price, order_type))
    assert shadow.account("paper") == model.account("paper")
