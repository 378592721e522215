"""The console's pure helpers."""

from __future__ import annotations

import json

from gateway.console import views
from tests.support.repo import REPO

INDICATOR = json.loads((REPO / "schemas/configure-indicator-alert/1.0.json").read_text())


def test_the_timeline_gives_the_milliseconds_between_steps() -> None:
    steps = views.timeline(
        [
            {"Status": "accepted", "Time": "2026-04-27T11:20:00.000000Z"},
            {"Status": "submitted", "Time": "2026-04-27T11:20:00.012500Z"},
            {"Status": "filled", "Time": "2026-04-27T11:20:01.012500Z"},
        ]
    )
    assert [s["GapMs"] for s in steps] == [None, 12, 1000]


def test_a_form_becomes_the_commands_data_typed_as_the_schema_says() -> None:
    form = {
        "Quantity": "10",
        "RiskPercentage": "2.5",
        "MaxSignalAgeSeconds": "1.5",
        "Enabled": "false",
        "Symbol": " MSFT ",
        "Name": "",
        "SymbolMap": "{}",
        "csrf": "x",
    }
    assert views.form_data(INDICATOR, form) == {
        "Quantity": 10,
        "RiskPercentage": 2.5,
        "MaxSignalAgeSeconds": "1.5",  # not an integer: left for the schema to name
        "Enabled": False,
        "Symbol": "MSFT",
    }


def test_the_forms_inputs_come_from_the_schema() -> None:
    fields = {f["name"]: f for f in views.schema_fields(INDICATOR)}
    assert "AlertId" not in fields and "TenantId" not in fields and "SymbolMap" not in fields
    assert fields["Action"]["options"] == ["buy", "sell", "close", "from_message"]
    assert fields["Enabled"]["options"] == ["true", "false"]
    assert fields["Quantity"]["input"] == "number"
    assert fields["Symbol"]["hint"].endswith('e.g. "MSFT"')


def test_the_test_message_is_the_template_filled_in_as_tradingview_does() -> None:
    template = (
        '{"ticker": "{{ticker}}", "action": "buy", "price": {{close}}, "time": "{{timenow}}"}'
    )
    message = views.test_message(template, "NVDA", "120.5", "2026-04-27T11:20:00Z")
    assert json.loads(message) == {
        "ticker": "NVDA",
        "action": "buy",
        "price": 120.5,
        "time": "2026-04-27T11:20:00Z",
    }
