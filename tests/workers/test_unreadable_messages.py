"""Messages nested too deeply to read, or holding lone surrogates (text that is not Unicode), on
the TradingView webhook and the trading API: a 4xx in the error shape naming the path at fault,
and nothing written (#12.7, #12.8)."""

from __future__ import annotations

import orjson
import pytest

from tests.support.events import signal_event
from tests.workers.test_tradingview_webhook import fire, webhook

SURROGATE = "holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not Unicode text"


async def configured(trading_desk, alert_id: str, **config) -> int:
    """Configure an alert and let the worker handle it; the length of the log then."""
    await trading_desk.alert(alert_id, **config)
    await trading_desk.drain()
    return len(await trading_desk.log())


async def refused(trading_desk, response, status: int, logged: int) -> list[dict]:
    """The answer is the error shape with ``status``; the log still holds ``logged`` entries."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["detail"]
    assert len(await trading_desk.log()) == logged
    return body["errors"]


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '{"a": ' * 1000 + "1" + "}" * 1000,
        '{"a": ' * 990 + '"{{close}}"' + "}" * 990,
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["arrays", "objects", "objects-with-a-placeholder", "arrays-100k"],
)
async def test_a_message_nested_too_deeply_is_400(trading_desk, body):
    logged = await configured(trading_desk, "deep", Quantity=1)
    errors = await refused(
        trading_desk,
        await fire(trading_desk, await webhook(trading_desk, "deep"), body),
        400,
        logged,
    )
    assert [e["path"] for e in errors] == [""]


@pytest.mark.parametrize(
    ("body", "status", "paths"),
    [
        ('{"ticker": "\\ud800", "action": "buy"}', 400, ["ticker"]),
        ('{"ticker": "AAPL", "action": "buy", "time": "\\udfff"}', 400, ["time"]),
        ('{"action": "buy", "order_id": "a\\ud83d"}', 400, ["order_id"]),
        ('{"action": "buy", "note": ["ok", "\\ud800"]}', 400, ["note[1]"]),
        ('{"action": "buy", "n\\ud800": 1}', 400, ["n\\ud800"]),
        ('"\\ud800"', 400, [""]),
        ('{"ticker": "\\ud800", "price": {{close}}}', 422, ["price"]),
        ('{"t\\ud800": {{close}}', 422, ["t\\ud800"]),
        ('{"t\\q": {{close}}', 422, ["t\\q"]),  # an invalid escape before a placeholder
    ],
)
async def test_lone_surrogates_in_a_tradingview_message(trading_desk, body, status, paths):
    logged = await configured(trading_desk, "text", Quantity=1, Symbol="AAPL")
    errors = await refused(
        trading_desk,
        await fire(trading_desk, await webhook(trading_desk, "text"), body),
        status,
        logged,
    )
    assert [e["path"] for e in errors] == paths
    if status == 400:
        assert {e["message"].removeprefix("(the name) ") for e in errors} == {SURROGATE}


@pytest.mark.parametrize(
    ("content_type", "paths"),
    [
        ("application/json", ["data.Symbol"]),
        ("application/cloudevents+json", ["data.Symbol"]),
        ("application/cloudevents-batch+json", ["[0].data.Symbol"]),
    ],
)
async def test_lone_surrogates_in_a_trading_command(trading_desk, content_type, paths):
    logged = await configured(trading_desk, "text")
    event = signal_event(trading_desk.tenant.tenant_id, Symbol="@")
    if content_type != "application/json":
        event = {"specversion": "1.0", **{k.lower(): v for k, v in event.items()}}
    document = [event] if content_type.endswith("batch+json") else event
    body = orjson.dumps(document).replace(b'"@"', b'"\\ud800"')
    response = await trading_desk.client.post(
        trading_desk.url,
        content=body,
        headers={**trading_desk.headers, "Content-Type": content_type},
    )
    errors = await refused(trading_desk, response, 400, logged)
    assert errors == [{"path": path, "message": SURROGATE} for path in paths]


async def test_lone_surrogates_in_attributes_and_names_of_a_trading_command(trading_desk):
    logged = await configured(trading_desk, "text")
    event = {**signal_event(trading_desk.tenant.tenant_id), "source": "@", "x@": 1}
    body = orjson.dumps(event).replace(b"@", b"\\udc00")
    response = await trading_desk.client.post(
        trading_desk.url,
        content=body,
        headers={**trading_desk.headers, "Content-Type": "application/json"},
    )
    errors = await refused(trading_desk, response, 400, logged)
    assert [e["path"] for e in errors] == ["source", "x\\udc00"]


async def test_a_binary_mode_header_never_carries_a_lone_surrogate(trading_desk):
    # Header values are percent-decoded as UTF-8: the bytes of a surrogate are not UTF-8, so
    # they read as U+FFFD and the command is an ordinary one.
    logged = await configured(trading_desk, "text")
    event = signal_event(trading_desk.tenant.tenant_id)
    headers = {
        **trading_desk.headers,
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "%ED%A0%80",
        "ce-type": "SubmitSignal",
        "ce-source": "trading",
    }
    response = await trading_desk.client.post(
        trading_desk.url, content=orjson.dumps(event["data"]), headers=headers
    )
    assert response.status_code == 202, response.text
    assert (await trading_desk.log())[logged]["id"] == "\ufffd\ufffd\ufffd"
