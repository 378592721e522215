"""TradingView alerts through the webhook target, the log and a worker into the paper sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson
import pytest

from baas.core.trading.tradingview import parse_message, to_signal
from gateway.routes.webhooks import TENANT_LIMITED, TRADINGVIEW_IPS
from tests.support.gateway import app_client, free_port
from tests.support.store import make_settings, new_tenant
from tests.support.trading_desk import now_iso

TEXT = {"Content-Type": "text/plain; charset=utf-8"}
INVALID = {"detail": "Invalid webhook URL.", "errors": []}
TOO_MANY = "Too Many Requests: rate limit exceeded. Wait the number of seconds in Retry-After."


async def webhook(trading_desk, alert_id: str) -> str:
    """The path of the alert's WebhookUrl, as GET .../alerts/{alertId} gives it."""
    response = await trading_desk.client.get(
        f"/tenants/{trading_desk.tenant.tenant_id}/api/alerts/{alert_id}",
        headers=trading_desk.headers,
    )
    assert response.status_code == 200, response.text
    return urlsplit(response.json()["WebhookUrl"]).path


async def fire(trading_desk, path: str, message: dict | str, client=None):
    client = client or trading_desk.client
    if isinstance(message, str):
        return await client.post(path, content=message.encode(), headers=TEXT)
    return await client.post(path, json=message)


async def tradingview_entries(trading_desk) -> list[dict]:
    return [e for e in await trading_desk.log() if e["source"] == "tradingview"]


async def position(trading_desk, symbol: str) -> str | None:
    account = await trading_desk.account()
    held = account["positions"].get(symbol)
    return None if held is None else held["quantity"]


def strategy_message(**fields) -> dict:
    return {
        "ticker": "AAPL",
        "action": "buy",
        "contracts": 1,
        "position_size": 1,
        "market_position": "long",
        "price": 100,
        "time": now_iso(),
        "order_id": "Long",
        **fields,
    }


async def test_a_plain_text_buy_for_an_alert_with_a_fixed_symbol(trading_desk):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=5)
    await trading_desk.signal(
        CorrelationId="fixed", Quantity=1, Price=150.0
    )  # the market is at 150
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")

    response = await fire(trading_desk, path, "buy")
    assert response.status_code == 202, response.text
    signal_id = response.json()["id"]
    assert signal_id.startswith("tv-")
    await trading_desk.drain()

    record = await trading_desk.signal_record(signal_id)
    assert (record["Symbol"], record["Action"], record["Status"]) == ("AAPL", "buy", "filled")
    assert record["Quantity"] in ("5", "5.0")
    assert await position(trading_desk, "AAPL") in ("6", "6.0")
    logged = [
        fields
        for _, fields in await trading_desk.store.xrange(
            trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
        )
        if orjson.loads(fields[b"event"])["source"] == "tradingview"
    ]
    [fields] = logged
    event = orjson.loads(fields[b"event"])
    assert event["id"] == signal_id
    assert event["type"] == "SubmitSignal"
    assert event["data"]["CorrelationId"] == "fixed"
    assert fields[b"key_id"] == b"fixed"  # the alert stands where an API key id would


async def test_a_json_message_with_ticker_action_and_price(trading_desk):
    await trading_desk.alert("multi", Quantity=3)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    message = {"ticker": "MSFT", "action": "sell", "price": 410.5, "time": now_iso()}

    response = await fire(trading_desk, path, message)
    assert response.status_code == 202, response.text
    await trading_desk.drain()

    record = await trading_desk.signal_record(response.json()["id"])
    assert record["Status"] == "filled"
    assert record["Fills"][0]["Price"] in ("410.5", "410.50", "410.5000")
    assert await position(trading_desk, "MSFT") in ("-3", "-3.0")


async def test_a_json_message_sent_as_text_plain_is_read_the_same(trading_desk):
    await trading_desk.alert("multi", Quantity=3)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    message = orjson.dumps({"ticker": "MSFT", "action": "buy", "price": 400, "time": now_iso()})
    response = await fire(trading_desk, path, message.decode())
    assert response.status_code == 202, response.text
    await trading_desk.drain()
    assert (await trading_desk.signal_record(response.json()["id"]))["Status"] == "filled"


async def test_wrong_token_unknown_alert_and_unknown_tenant_are_the_same_401(trading_desk):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=5)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    base, token = path.rsplit("/", 1)
    tenant_id = trading_desk.tenant.tenant_id
    last = "y" if token.endswith("x") else "x"  # a token differing in its last character
    for wrong in (
        f"{base}/{token[:-1]}{last}",
        f"{base}/{token}{token}",
        f"/tenants/{tenant_id}/webhooks/tradingview/nope/{token}",
        f"/tenants/someone-else/webhooks/tradingview/fixed/{token}",
    ):
        response = await fire(trading_desk, wrong, "buy")
        assert response.status_code == 401, wrong
        assert response.json() == INVALID
    assert await tradingview_entries(trading_desk) == []


async def test_ten_wrong_tokens_block_the_address_for_the_tenant(trading_desk, settings):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=5)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    wrong = path[:-4] + "abcd"
    strict = dataclasses.replace(settings, auth_failure_limit=10)
    async with app_client(strict, client_ip="10.7.7.7") as client:
        for _ in range(10):
            assert (await fire(trading_desk, wrong, "buy", client)).status_code == 401
        blocked = await fire(trading_desk, path, "buy", client)  # even the right URL
        assert blocked.status_code == 429
        assert blocked.json()["detail"] == TOO_MANY
        assert int(blocked.headers["Retry-After"]) >= 1
    async with app_client(strict, client_ip="10.7.7.8") as client:
        assert (await fire(trading_desk, path, "buy", client)).status_code == 202


def from_tradingview(settings, **limits):
    """Settings under which the test's client (127.0.0.1, a trusted proxy) forwards for
    TradingView's first address, which the allow-list names."""
    return dataclasses.replace(
        settings,
        trusted_proxies="127.0.0.1/32",
        tradingview_allowed_ips=",".join(TRADINGVIEW_IPS),
        **limits,
    )


VIA_TRADINGVIEW = {**TEXT, "X-Forwarded-For": TRADINGVIEW_IPS[0]}


async def test_wrong_urls_from_tradingview_block_only_their_tenant(trading_desk, settings):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=1)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    strict = from_tradingview(settings, auth_failure_limit=10)
    async with app_client(strict) as client:
        for i in range(10):  # someone else's alerts, or guesses, through the same sender
            wrong = f"/tenants/someone-else/webhooks/tradingview/a{i}/nope"
            assert (
                await client.post(wrong, content=b"buy", headers=VIA_TRADINGVIEW)
            ).status_code == 401
        response = await client.post(path, content=b"buy", headers=VIA_TRADINGVIEW)
        assert response.status_code == 202, response.text
        # The tenant whose URLs were guessed is blocked at that address.
        other = "/tenants/someone-else/webhooks/tradingview/a0/nope"
        assert (
            await client.post(other, content=b"buy", headers=VIA_TRADINGVIEW)
        ).status_code == 429


async def test_tradingviews_senders_are_limited_per_tenant_not_per_ip(trading_desk, settings):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=1)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    tight = from_tradingview(settings, ip_limit=3)
    async with app_client(tight) as client:
        for i in range(5):  # other tenants' alerts from the same sender
            other = f"/tenants/tenant-{i}/webhooks/tradingview/a/nope"
            assert (
                await client.post(other, content=b"buy", headers=VIA_TRADINGVIEW)
            ).status_code == 401
        for age in range(3):
            message = f'{{"action": "buy", "time": "{now_iso(-age)}"}}'
            response = await client.post(path, content=message.encode(), headers=VIA_TRADINGVIEW)
            assert response.status_code == 202, response.text
        limited = await client.post(path, content=b"close", headers=VIA_TRADINGVIEW)
        assert limited.status_code == 429
        # The API's per-IP limit is the spec's, for every address.
        for _ in range(3):
            assert (await client.get("/schemas", headers=VIA_TRADINGVIEW)).status_code == 200
        assert (await client.get("/schemas", headers=VIA_TRADINGVIEW)).status_code == 429


async def test_a_valid_webhook_clears_the_failures(trading_desk, settings):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=5)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    strict = dataclasses.replace(settings, auth_failure_limit=3)
    async with app_client(strict, client_ip="10.7.7.9") as client:
        for _ in range(2):
            assert (await fire(trading_desk, path + "x", "buy", client)).status_code == 401
        assert (await fire(trading_desk, path, "buy", client)).status_code == 202
        for _ in range(2):
            assert (await fire(trading_desk, path + "x", "buy", client)).status_code == 401
        assert (await fire(trading_desk, path, "sell", client)).status_code == 202


async def test_a_repeated_alert_is_logged_once_and_answered_the_same(trading_desk):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    message = {"ticker": "AAPL", "action": "buy", "price": 100, "time": now_iso()}

    first = await fire(trading_desk, path, message)
    again = await fire(trading_desk, path, message)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(await tradingview_entries(trading_desk)) == 1
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("2", "2.0")


async def test_the_same_alert_time_with_another_price_is_409(trading_desk):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    message = {"ticker": "AAPL", "action": "buy", "price": 100, "time": now_iso()}
    assert (await fire(trading_desk, path, message)).status_code == 202
    other = await fire(trading_desk, path, {**message, "price": 101})
    assert other.status_code == 409
    assert [e["path"] for e in other.json()["errors"]] == ["id"]
    assert len(await tradingview_entries(trading_desk)) == 1


def test_a_resend_after_a_503_is_the_same_signal_when_the_message_has_its_time():
    """TradingView resends the same body later: with {{timenow}} in it (the messages the
    gateway gives carry it) the signal id is the same, so the resend is a replay. Without a time,
    the arrival stands in (the gateway gives a resend its first arrival: the test below)."""
    alert = {"AlertId": "a", "Kind": "indicator", "Symbol": "AAPL", "Quantity": 1}
    first = datetime(2026, 12, 7, 21, 0, 0, tzinfo=UTC)
    later = first + timedelta(seconds=30)

    def signal_id(body: bytes, received_at: datetime) -> str:
        return to_signal(alert, parse_message(body), "t1", received_at).event["id"]

    timed = b'{"action": "buy", "time": "2026-12-07T20:59:59Z"}'
    assert signal_id(timed, first) == signal_id(timed, later)
    assert signal_id(b"buy", first) != signal_id(b"buy", later)


async def test_a_resend_of_a_message_without_a_time_is_the_same_signal(trading_desk, settings):
    """TradingView resends the same body 5 s after a 503 (which may have appended it): within
    BAAS_TRADINGVIEW_RESEND_SECONDS it takes its first arrival's time, so it is a replay; the
    same words after the window are a new signal."""
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    message = {"ticker": "AAPL", "action": "buy", "price": 100}  # no {{timenow}}
    short = dataclasses.replace(settings, tradingview_resend_seconds=3)
    async with app_client(short) as client:
        first = await fire(trading_desk, path, message, client)
        await asyncio.sleep(1.1)  # another second of arrival: the id no longer rests on the second
        again = await fire(trading_desk, path, message, client)
        assert first.status_code == again.status_code == 202
        assert again.headers["Idempotent-Replayed"] == "true"
        assert len(await tradingview_entries(trading_desk)) == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            later = await fire(trading_desk, path, message, client)
            if "Idempotent-Replayed" not in later.headers:
                break
            await asyncio.sleep(0.2)
        assert later.status_code == 202
    assert len(await tradingview_entries(trading_desk)) == 2
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("4", "4.0")


async def test_unreplaced_placeholders_are_422_and_count_as_writes(trading_desk, settings):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    body = '{"ticker": "{{ticker}}", "action": "buy", "price": {{close}}}'
    response = await fire(trading_desk, path, body)
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["errors"]} == {"ticker", "price"}
    assert await tradingview_entries(trading_desk) == []

    # The tenant's writes so far: the ConfigureIndicatorAlert and the refused alert above.
    tight = dataclasses.replace(settings, tenant_write_limit=3)
    async with app_client(tight, client_ip="10.3.3.3") as client:
        assert (await fire(trading_desk, path, body, client)).status_code == 422
        limited = await fire(trading_desk, path, body, client)
        assert limited.status_code == 503


async def test_past_the_tenants_write_limit_an_alert_is_503_so_tradingview_resends(
    trading_desk, settings
):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    tight = dataclasses.replace(settings, tenant_write_limit=2)  # the configuration is the 1st
    message = {"ticker": "AAPL", "action": "buy", "price": 100, "time": now_iso()}
    async with app_client(tight) as client:
        assert (await fire(trading_desk, path, message, client)).status_code == 202
        refused = await fire(trading_desk, path, {**message, "action": "sell"}, client)
        assert refused.status_code == 503
        assert refused.json() == {"detail": TENANT_LIMITED, "errors": []}
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        metrics = (await client.get("/metrics")).text
        assert 'baas_rate_limited_total{limiter="tenant"} 1.0' in metrics
    assert [e["data"]["Data"] for e in await tradingview_entries(trading_desk)] == ["buy"]


async def test_while_the_store_is_down_an_alert_is_503_with_retry_after(prefix):
    down = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix)
    async with app_client(down) as client:
        refused = await client.post(
            "/tenants/t1/webhooks/tradingview/a1/token", content=b"buy", headers=TEXT
        )
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("body", "status"),
    [("hello", 400), ("", 400), ('{"action": "hold"}', 422), ('{"ticker": "AAPL"}', 422)],
)
async def test_messages_that_are_not_signals(trading_desk, body, status):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    response = await fire(trading_desk, await webhook(trading_desk, "multi"), body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


async def test_a_body_over_the_limit_is_413(trading_desk, settings):
    await trading_desk.alert("multi", Quantity=2)
    await trading_desk.drain()
    path = await webhook(trading_desk, "multi")
    small = dataclasses.replace(settings, max_body_bytes=64)
    async with app_client(small) as client:
        response = await fire(trading_desk, path, "buy" + " " * 100, client)
        assert response.status_code == 413


async def test_a_disabled_alert_is_accepted_and_its_signal_rejected_with_the_reason(trading_desk):
    await trading_desk.alert("off", Quantity=1, Enabled=False)
    await trading_desk.drain()
    path = await webhook(trading_desk, "off")
    response = await fire(trading_desk, path, {"ticker": "AAPL", "action": "buy", "price": 100})
    assert response.status_code == 202
    await trading_desk.drain()
    record = await trading_desk.signal_record(response.json()["id"])
    assert record["Status"] == "rejected"
    assert record["Reason"] == "alert 'off' is disabled"


async def test_a_strategy_going_flat_closes_the_position(trading_desk):
    await trading_desk.alert("strat", kind="ConfigureStrategyAlert")  # Mode orders
    await trading_desk.drain()
    path = await webhook(trading_desk, "strat")

    opened = await fire(trading_desk, path, strategy_message(contracts=5, position_size=5))
    assert opened.status_code == 202, opened.text
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("5", "5.0")

    flat = strategy_message(
        action="sell", contracts=5, position_size=0, market_position="flat", price=101
    )
    closed = await fire(trading_desk, path, flat)
    assert closed.status_code == 202, closed.text
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") is None
    record = await trading_desk.signal_record(closed.json()["id"])
    assert (record["Action"], record["Status"]) == ("close", "filled")


async def test_position_mode_trades_the_difference(trading_desk):
    await trading_desk.alert("target", kind="ConfigureStrategyAlert", Mode="position")
    await trading_desk.drain()
    path = await webhook(trading_desk, "target")

    to_ten = await fire(trading_desk, path, strategy_message(contracts=10, position_size=10))
    assert to_ten.status_code == 202, to_ten.text
    [event] = await tradingview_entries(trading_desk)
    assert event["targetposition"] == "10"
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("10", "10.0")
    bought = await trading_desk.signal_record(to_ten.json()["id"])
    assert (bought["Side"], bought["Quantity"]) == ("buy", "10")

    to_four = await fire(
        trading_desk, path, strategy_message(action="sell", contracts=6, position_size=4, price=101)
    )
    assert to_four.status_code == 202, to_four.text
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("4", "4.0")
    sold = await trading_desk.signal_record(to_four.json()["id"])
    assert (sold["Side"], sold["Quantity"]) == ("sell", "6")


async def test_the_answer_comes_once_the_signal_is_logged_not_once_it_is_traded(trading_desk):
    """TradingView waits 3 s at most: the 202 means "in the log", and the worker trades after.
    (How fast the answer comes is measured by `make bench`, not asserted here.)"""
    await trading_desk.alert("fast", Symbol="AAPL", Quantity=1)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fast")
    base = datetime.now(UTC).replace(microsecond=0)
    answered = []
    for i in range(7):
        # Each its own signal: another time (the same time and action would be the same id).
        when = (base - timedelta(seconds=1 + i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = await fire(trading_desk, path, {"action": "buy", "price": 100 + i, "time": when})
        assert response.status_code == 202, response.text
        answered.append(response.json()["id"])
    assert len(await tradingview_entries(trading_desk)) == 7
    for signal_id in answered:  # no worker has run yet: answered before any decision
        assert (
            await trading_desk.trading.record_of(
                trading_desk.tenant.tenant_id, "signals", signal_id
            )
            is None
        )
    await trading_desk.drain()
    assert await position(trading_desk, "AAPL") in ("7", "7.0")


async def test_the_allow_list_admits_only_tradingviews_addresses(trading_desk, settings):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=1)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    listed = dataclasses.replace(settings, tradingview_allowed_ips=",".join(TRADINGVIEW_IPS))
    async with app_client(listed, client_ip="10.0.0.1") as client:
        refused = await fire(trading_desk, path, "buy", client)
        assert refused.status_code == 403
        assert "BAAS_TRADINGVIEW_ALLOWED_IPS" in refused.json()["detail"]
    async with app_client(listed, client_ip=TRADINGVIEW_IPS[0]) as client:
        assert (await fire(trading_desk, path, "buy", client)).status_code == 202
    assert [e["data"]["CorrelationId"] for e in await tradingview_entries(trading_desk)] == [
        "fixed"
    ]


async def test_a_webhook_needs_no_api_key_and_ignores_one(trading_desk, store, prefix):
    await trading_desk.alert("fixed", Symbol="AAPL", Quantity=1)
    await trading_desk.drain()
    path = await webhook(trading_desk, "fixed")
    other = await new_tenant(store, prefix, "other")
    response = await trading_desk.client.post(
        path, content=b"buy", headers={**TEXT, "X-Api-Key": other.api_key}
    )
    assert response.status_code == 202
