"""TradingView webhook messages: parsing, translation to SubmitSignal, dedupe ids, templates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema_rs
import orjson
import pytest

from baas.core.envelope import parse_request
from baas.core.event_time import format_time
from baas.core.intake import admit
from baas.core.problems import Problem
from baas.core.trading.tradingview import (
    TradingViewMessage,
    indicator_message_template,
    parse_message,
    strategy_message_template,
    to_signal,
)
from baas.schema_files import load_catalog

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
CATALOG = load_catalog(SCHEMAS)
SIGNAL_SCHEMA = json.loads((SCHEMAS / "submit-signal" / "1.0.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SIGNAL_SCHEMA, validate_formats=True)
NOW = datetime(2026, 4, 27, 11, 20, 5, 250000, tzinfo=UTC)
TIMENOW = "2026-04-27T11:20:00Z"

INDICATOR = {
    "Kind": "indicator",
    "AlertId": "alert-7f3c2a",
    "BrokerId": "ibkr-main",
    "Action": "from_message",
    "Quantity": 10,
}
STRATEGY = {
    "Kind": "strategy",
    "AlertId": "alert-btc-trend",
    "BrokerId": "paper-1",
    "InstrumentType": "Crypto",
    "SymbolMap": {"BTCUSD": "BTC", "ETHUSD": "ETH"},
    "Mode": "orders",
    "Quantity": 0.1,
}


def message(**fields) -> TradingViewMessage:
    return parse_message(json.dumps(fields).encode())


def signal(alert, msg, received_at=NOW):
    result = to_signal(alert, msg, "tenant-4b1d9e", received_at)
    assert VALIDATOR.is_valid(result.event["data"]), list(
        VALIDATOR.iter_errors(result.event["data"])
    )
    return result


def problem(call, *args) -> Problem:
    with pytest.raises(Problem) as caught:
        call(*args)
    return caught.value


def paths(p: Problem) -> list[str]:
    return [e.path for e in p.errors]


# --- parse_message ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "action"),
    [(b"buy", "buy"), (b"SELL", "sell"), (b"  Close \r\n", "close"), (b'"sell"', "sell")],
)
def test_plain_action_words(body, action):
    parsed = parse_message(body)
    assert parsed.action == action
    assert parsed.ticker is None and parsed.quantity is None and parsed.time is None


def test_json_numbers_as_numbers():
    parsed = parse_message(
        b'{"ticker": "MSFT", "action": "buy", "quantity": 2, "price": 424.6, "time": "'
        + TIMENOW.encode()
        + b'"}'
    )
    assert parsed.ticker == "MSFT"
    assert parsed.action == "buy"
    assert parsed.quantity == Decimal(2)
    assert parsed.price == Decimal("424.6")  # not the binary expansion of the float
    assert parsed.time == TIMENOW
    assert parsed.fields["price"] == 424.6


def test_json_numbers_as_strings():
    parsed = message(
        ticker="BTCUSD",
        action="sell",
        contracts="0.5",
        price=" 64000.25 ",
        position_size="-1.5",
        market_position="short",
        order_id="Short Entry",
    )
    assert parsed.quantity == Decimal("0.5")
    assert parsed.contracts == Decimal("0.5")
    assert parsed.price == Decimal("64000.25")
    assert parsed.position_size == Decimal("-1.5")
    assert parsed.market_position == "short"
    assert parsed.order_id == "Short Entry"


def test_keys_are_case_insensitive_and_aliases_apply():
    parsed = parse_message(
        b'{"SYMBOL": "MSFT", "Side": "BUY", "Qty": "3", "Close": 424.6, "TimeNow": "'
        + TIMENOW.encode()
        + b'", "Market_Position": "Long", "ID": "Long Entry", "Position_Size": 3}'
    )
    assert (parsed.ticker, parsed.action, parsed.quantity, parsed.price) == (
        "MSFT",
        "buy",
        Decimal(3),
        Decimal("424.6"),
    )
    assert (parsed.time, parsed.market_position, parsed.order_id, parsed.position_size) == (
        TIMENOW,
        "long",
        "Long Entry",
        Decimal(3),
    )


def test_first_alias_wins():
    parsed = message(price=10, close=11, quantity=2, contracts=5, order_action="sell", action="buy")
    assert parsed.price == Decimal(10)
    assert parsed.quantity == Decimal(2)
    assert parsed.contracts == Decimal(5)
    assert parsed.action == "buy"


def test_bare_nan_is_no_value():
    # Pine renders na as NaN.
    parsed = parse_message(b'{"ticker": "MSFT", "action": "buy", "price": NaN}')
    assert parsed.price is None


def test_invalid_values_are_422_at_the_key_as_sent():
    p = problem(
        parse_message,
        b'{"Qty": "ten", "PRICE": true, "action": "hold", "market_position": "sideways", '
        b'"position_size": "1,5", "contracts": -1}',
    )
    assert p.status == 422
    assert sorted(paths(p)) == sorted(
        ["Qty", "PRICE", "action", "market_position", "position_size", "contracts"]
    )
    assert all(e.message for e in p.errors)


def test_string_placeholders_are_422_with_their_paths():
    p = problem(
        parse_message,
        b'{"ticker": "{{ticker}}", "action": "buy", "price": 1, "time": "{{timenow}}", '
        b'"extra": {"legs": ["ok", "{{plot_0}}"]}}',
    )
    assert p.status == 422
    assert "did not replace the placeholders" in p.detail
    assert [(e.path, e.message.split()[0]) for e in p.errors] == [
        ("ticker", "{{ticker}}"),
        ("time", "{{timenow}}"),
        ("extra.legs[1]", "{{plot_0}}"),
    ]


def test_bare_placeholder_making_json_invalid_is_422_with_its_path():
    p = problem(
        parse_message,
        b'{"ticker": "MSFT", "action": "buy", "price": {{close}}, "contracts": {{strategy.order.contracts}}}',
    )
    assert p.status == 422
    assert [(e.path, e.message.split()[0]) for e in p.errors] == [
        ("price", "{{close}}"),
        ("contracts", "{{strategy.order.contracts}}"),
    ]


def test_placeholder_in_broken_json_still_names_the_key():
    p = problem(parse_message, b'{"ticker": "{{ticker}}", "price": {{close}}')
    assert p.status == 422
    assert paths(p) == ["ticker", "price"]


@pytest.mark.parametrize("body", [b"{{strategy.order.action}}", b"buy {{ticker}}"])
def test_placeholders_in_plain_text_are_422(body):
    p = problem(parse_message, body)
    assert p.status == 422
    assert paths(p) == [""]
    assert "{{" in p.errors[0].message


@pytest.mark.parametrize(
    "body", [b"hello", b"buy 10 MSFT", b"", b"   ", b"[1, 2]", b"42", b"\xff\xfe", b"{broken"]
)
def test_other_text_is_400_explaining_the_message(body):
    p = problem(parse_message, body)
    assert p.status == 400
    assert "buy, sell or close" in p.detail
    assert '"ticker": "{{ticker}}"' in p.detail


# --- to_signal: indicator alerts -------------------------------------------------------------


def test_indicator_from_message_action():
    result = signal(INDICATOR, message(ticker="MSFT", action="sell", price=424.6, time=TIMENOW))
    data = result.event["data"]
    assert data["Data"] == "sell"
    assert data["Symbol"] == "MSFT"
    assert data["Quantity"] == 10
    assert data["Price"] == 424.6
    assert data["OrderType"] == "MKT"
    assert data["InstrumentType"] == "STK"
    assert data["BrokerId"] == "ibkr-main"
    assert data["CorrelationId"] == "alert-7f3c2a"
    assert data["TenantId"] == "tenant-4b1d9e"
    assert data["Date"] == TIMENOW
    assert data["AccountRiskPercentage"] == 0 and data["AccountQuantityMultiplier"] == 0
    assert result.target_position is None
    event = result.event
    assert event["type"] == "SubmitSignal"
    assert event["source"] == "tradingview"
    assert event["dataSchema"] == "submit-signal/1.0"
    assert event["dataContentType"] == "application/json"
    assert event["time"] == TIMENOW
    assert event["id"] == data["Id"]
    assert event["id"].startswith("tv-") and len(event["id"]) == 35


def test_the_event_is_admitted_like_any_submitted_command():
    result = signal({**STRATEGY, "Mode": "position"}, strategy_message(position_size="-0.5"))
    body = orjson.dumps(result.event)
    [command] = admit(
        parse_request("application/json", {}, body), CATALOG, "tenant-4b1d9e", format_time(NOW)
    )
    assert command.id == result.event["id"]
    assert command.source == "tradingview"
    assert command.reply_id == STRATEGY["AlertId"]


def test_indicator_without_action_setting_takes_the_message_action():
    alert = {k: v for k, v in INDICATOR.items() if k != "Action"}
    assert signal(alert, message(ticker="MSFT", action="buy")).event["data"]["Data"] == "buy"


def test_indicator_fixed_action_wins_over_the_message():
    alert = {**INDICATOR, "Action": "close"}
    data = signal(alert, message(ticker="MSFT", action="buy")).event["data"]
    assert data["Data"] == "close"
    assert (
        signal({**alert, "Symbol": "MSFT"}, parse_message(b"sell")).event["data"]["Data"] == "close"
    )


def test_from_message_without_action_is_422():
    p = problem(to_signal, INDICATOR, message(ticker="MSFT"), "t", NOW)
    assert p.status == 422
    assert paths(p) == ["action"]


def test_message_quantity_wins_and_zero_falls_back():
    assert (
        signal(INDICATOR, message(ticker="MSFT", action="buy", qty="2.5")).event["data"]["Quantity"]
        == 2.5
    )
    assert (
        signal(INDICATOR, message(ticker="MSFT", action="buy", qty=0)).event["data"]["Quantity"]
        == 10
    )


def test_no_quantity_anywhere_is_422_except_for_close():
    alert = {k: v for k, v in INDICATOR.items() if k != "Quantity"}
    p = problem(to_signal, alert, message(ticker="MSFT", action="buy"), "t", NOW)
    assert p.status == 422
    assert paths(p) == ["quantity"]
    assert signal(alert, message(ticker="MSFT", action="close")).event["data"]["Quantity"] == 1


def test_fixed_symbol_ignores_the_ticker():
    alert = {**INDICATOR, "Symbol": "MSFT"}
    assert (
        signal(alert, message(ticker="NASDAQ:MSFT", action="buy")).event["data"]["Symbol"] == "MSFT"
    )
    assert signal(alert, parse_message(b"buy")).event["data"]["Symbol"] == "MSFT"


def test_symbol_map_hit_and_miss():
    alert = {**INDICATOR, "SymbolMap": {"BTCUSD": "BTC"}}
    assert signal(alert, message(ticker="BTCUSD", action="buy")).event["data"]["Symbol"] == "BTC"
    assert signal(alert, message(ticker="ETHUSD", action="buy")).event["data"]["Symbol"] == "ETHUSD"


def test_no_symbol_is_422():
    p = problem(to_signal, INDICATOR, parse_message(b"buy"), "t", NOW)
    assert p.status == 422
    assert paths(p) == ["ticker"]


def test_lmt_needs_a_price():
    alert = {**INDICATOR, "OrderType": "LMT"}
    p = problem(to_signal, alert, message(ticker="MSFT", action="buy"), "t", NOW)
    assert p.status == 422
    assert paths(p) == ["price"]
    p = problem(to_signal, alert, message(ticker="MSFT", action="buy", price=0), "t", NOW)
    assert paths(p) == ["price"]
    data = signal(alert, message(ticker="MSFT", action="buy", price="424.5")).event["data"]
    assert (data["OrderType"], data["Price"]) == ("LMT", 424.5)


def test_errors_are_reported_together():
    alert = {k: v for k, v in INDICATOR.items() if k != "Quantity"} | {"OrderType": "LMT"}
    p = problem(to_signal, alert, message(), "t", NOW)
    assert sorted(paths(p)) == ["action", "price", "ticker"]


def test_date_falls_back_to_received_at_when_time_is_not_a_timestamp():
    for time in (None, "1714216800000", "bar close", "2026-04-27T11:20:00"):
        fields = {"ticker": "MSFT", "action": "buy"} | ({"time": time} if time else {})
        data = signal(INDICATOR, message(**fields)).event["data"]
        assert data["Date"] == "2026-04-27T11:20:05Z"


def test_date_with_an_offset_is_normalised_to_utc():
    data = signal(
        INDICATOR, message(ticker="MSFT", action="buy", time="2026-04-27T13:20:00+02:00")
    ).event["data"]
    assert data["Date"] == TIMENOW


# --- to_signal: strategy alerts --------------------------------------------------------------


def strategy_message(**overrides):
    fields = {
        "ticker": "BTCUSD",
        "action": "buy",
        "contracts": "0.5",
        "position_size": "0.5",
        "market_position": "long",
        "price": "64000.5",
        "time": TIMENOW,
        "order_id": "Long Entry",
    } | overrides
    return message(**fields)


def test_strategy_orders_mode_replays_the_order():
    result = signal(STRATEGY, strategy_message(action="sell", contracts="2", position_size="-2"))
    data = result.event["data"]
    assert (data["Data"], data["Quantity"], data["Symbol"]) == ("sell", 2, "BTC")
    assert data["InstrumentType"] == "Crypto"
    assert data["Price"] == 64000.5
    assert result.target_position is None


def test_strategy_orders_mode_falls_back_to_the_alert_quantity():
    data = signal(STRATEGY, message(ticker="SOLUSD", action="buy")).event["data"]
    assert (data["Symbol"], data["Quantity"]) == ("SOLUSD", 0.1)


def test_strategy_flat_means_close_in_orders_mode():
    data = signal(
        STRATEGY, strategy_message(action="sell", position_size=0, market_position="flat")
    ).event["data"]
    assert (data["Data"], data["Quantity"]) == ("close", 0.5)


def test_strategy_without_action_is_422():
    p = problem(to_signal, STRATEGY, message(ticker="BTCUSD", contracts=1), "t", NOW)
    assert paths(p) == ["action"]


@pytest.mark.parametrize(
    ("overrides", "action", "quantity", "target"),
    [
        ({"position_size": "1.5", "market_position": "long"}, "buy", 1.5, Decimal("1.5")),
        ({"action": "sell", "position_size": -3, "market_position": "short"}, "sell", 3, -3),
        ({"action": "sell", "position_size": 0, "market_position": "flat"}, "close", 1, 0),
        ({"position_size": 2, "market_position": "flat"}, "close", 1, 0),
    ],
)
def test_strategy_position_mode_targets(overrides, action, quantity, target):
    alert = {**STRATEGY, "Mode": "position"}
    result = signal(alert, strategy_message(**overrides))
    data = result.event["data"]
    assert (data["Data"], data["Quantity"]) == (action, quantity)
    assert result.target_position == target
    assert isinstance(result.target_position, Decimal)


def test_strategy_position_mode_needs_the_position_size():
    alert = {**STRATEGY, "Mode": "position"}
    p = problem(to_signal, alert, message(ticker="BTCUSD", action="buy", contracts=1), "t", NOW)
    assert p.status == 422
    assert paths(p) == ["position_size"]
    assert signal(alert, message(ticker="BTCUSD", market_position="flat")).target_position == 0


# --- dedupe ----------------------------------------------------------------------------------


def test_the_same_alert_gives_the_same_id():
    body = json.dumps({"ticker": "MSFT", "action": "buy", "time": TIMENOW}).encode()
    first = signal(INDICATOR, parse_message(body), NOW)
    again = signal(INDICATOR, parse_message(body), datetime(2026, 4, 27, 11, 20, 7, tzinfo=UTC))
    assert first.event["id"] == again.event["id"] == again.event["data"]["Id"]
    assert first.event == again.event


def test_a_different_time_ticker_action_or_alert_gives_another_id():
    base = {"ticker": "MSFT", "action": "buy", "time": TIMENOW}
    ids = {
        signal(INDICATOR, message(**base)).event["id"],
        signal(INDICATOR, message(**base | {"time": "2026-04-27T11:21:00Z"})).event["id"],
        signal(INDICATOR, message(**base | {"ticker": "AAPL"})).event["id"],
        signal(INDICATOR, message(**base | {"action": "sell"})).event["id"],
        signal({**INDICATOR, "AlertId": "other"}, message(**base)).event["id"],
    }
    assert len(ids) == 5


def test_strategy_ids_include_order_id_and_sizes():
    first = signal(STRATEGY, strategy_message()).event["id"]
    assert (
        signal(STRATEGY, strategy_message(contracts=0.5, position_size=0.50)).event["id"] == first
    )
    assert signal(STRATEGY, strategy_message(order_id="Pyramid 2")).event["id"] != first
    assert signal(STRATEGY, strategy_message(position_size="1")).event["id"] != first
    assert signal(STRATEGY, strategy_message(contracts="1")).event["id"] != first


def test_without_time_the_second_of_arrival_deduplicates():
    msg = parse_message(b"buy")
    alert = {**INDICATOR, "Symbol": "MSFT"}
    same_second = signal(alert, msg, NOW.replace(microsecond=900000)).event["id"]
    assert signal(alert, msg, NOW).event["id"] == same_second
    assert signal(alert, msg, NOW.replace(second=6)).event["id"] != same_second


# --- templates -------------------------------------------------------------------------------


def render(template: str, values: dict[str, str]) -> bytes:
    for placeholder, value in values.items():
        template = template.replace("{{" + placeholder + "}}", value)
    return template.encode()


INDICATOR_VALUES = {"ticker": "MSFT", "close": "424.6", "timenow": TIMENOW}
STRATEGY_VALUES = {
    "ticker": "BTCUSD",
    "strategy.order.action": "sell",
    "strategy.order.contracts": "0.25",
    "strategy.position_size": "-0.25",
    "strategy.market_position": "short",
    "strategy.order.price": "64000.5",
    "timenow": TIMENOW,
    "strategy.order.id": "Short Entry",
}


def test_indicator_template_exact_text():
    assert indicator_message_template({**INDICATOR, "Action": "sell"}) == (
        '{"ticker": "{{ticker}}", "action": "sell", "price": {{close}}, "time": "{{timenow}}"}'
    )


@pytest.mark.parametrize("action", ["buy", "sell", "close", "from_message", None])
@pytest.mark.parametrize("quantity", [10, None])
def test_indicator_template_round_trips(action, quantity):
    alert = {k: v for k, v in INDICATOR.items() if k not in ("Action", "Quantity")}
    alert |= {"Action": action} if action else {}
    alert |= {"Quantity": quantity} if quantity else {}
    template = indicator_message_template(alert)
    assert ('"quantity"' in template) == (quantity is None)
    if action in (None, "from_message"):
        assert '"action": "buy"' in template and '"note"' in template

    unrendered = problem(parse_message, template.encode())
    assert unrendered.status == 422
    assert sorted(paths(unrendered)) == ["price", "ticker", "time"]

    parsed = parse_message(render(template, INDICATOR_VALUES))
    assert (parsed.ticker, parsed.price, parsed.time) == ("MSFT", Decimal("424.6"), TIMENOW)
    assert parsed.action == (action if action not in (None, "from_message") else "buy")
    data = signal(alert, parsed).event["data"]
    assert data["Quantity"] == (quantity or 1)


def test_strategy_template_exact_text_and_round_trip():
    template = strategy_message_template(STRATEGY)
    assert template == (
        '{"ticker": "{{ticker}}", "action": "{{strategy.order.action}}", '
        '"contracts": {{strategy.order.contracts}}, "position_size": {{strategy.position_size}}, '
        '"market_position": "{{strategy.market_position}}", "price": {{strategy.order.price}}, '
        '"time": "{{timenow}}", "order_id": "{{strategy.order.id}}"}'
    )
    unrendered = problem(parse_message, template.encode())
    assert len(unrendered.errors) == 8

    parsed = parse_message(render(template, STRATEGY_VALUES))
    assert parsed == TradingViewMessage(
        ticker="BTCUSD",
        action="sell",
        quantity=Decimal("0.25"),
        price=Decimal("64000.5"),
        time=TIMENOW,
        contracts=Decimal("0.25"),
        position_size=Decimal("-0.25"),
        market_position="short",
        order_id="Short Entry",
        fields=parsed.fields,
    )
    orders = signal(STRATEGY, parsed)
    assert (orders.event["data"]["Data"], orders.event["data"]["Quantity"]) == ("sell", 0.25)
    position = signal({**STRATEGY, "Mode": "position"}, parsed)
    assert position.target_position == Decimal("-0.25")


@pytest.mark.parametrize(
    "body", [b"[" * 1000 + b"]" * 1000, b'{"a": ' * 1000 + b"1" + b"}" * 1000], ids=["[", "{"]
)
def test_a_message_nested_too_deeply_is_400(body):
    with pytest.raises(Problem) as caught:
        parse_message(body)
    assert caught.value.status == 400
    assert [e.path for e in caught.value.errors] == [""]


def test_lone_surrogates_are_400_at_their_paths_and_answerable():
    with pytest.raises(Problem) as caught:
        parse_message(b'{"ticker": "\\ud800", "x\\udc00": ["\\udfff"], "ok": "\\ud83d\\ude00"}')
    assert caught.value.status == 400
    assert [e.path for e in caught.value.errors] == ["ticker", "x\\udc00", "x\\udc00[0]"]
    orjson.dumps(caught.value.body())  # nothing in the answer is a lone surrogate
