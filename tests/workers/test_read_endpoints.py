"""The read endpoints on a real store, after a worker has handled the commands."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baas.core.trading.tradingview import indicator_message_template, strategy_message_template
from tests.support.gateway import app_client
from tests.support.store import new_tenant
from tests.support.trading_desk import now_iso

READ_ROUTES = [
    "/api/signals",
    "/api/signals/some-signal",
    "/api/brokers",
    "/api/brokers/paper",
    "/api/alerts",
    "/api/alerts/alert-1",
    "/api/paper/paper",
]


def url(trading_desk, path: str) -> str:
    return f"/tenants/{trading_desk.tenant.tenant_id}{path}"


async def get(trading_desk, path: str, **params):
    return await trading_desk.client.get(
        url(trading_desk, path), headers=trading_desk.headers, params=params
    )


async def ok(trading_desk, path: str, **params):
    response = await get(trading_desk, path, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Signals


async def test_signals_are_listed_newest_first_in_pages_without_gaps_or_repeats(trading_desk):
    await trading_desk.alert()
    sent = [await trading_desk.signal(Quantity=1, Price=100.0 + i) for i in range(7)]
    await trading_desk.drain()

    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await ok(trading_desk, "/api/signals", **params)
        pages += 1
        assert len(page["signals"]) <= 2
        seen += [s["SignalId"] for s in page["signals"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages >= 4
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(sent)
    everything = (await ok(trading_desk, "/api/signals"))["signals"]
    assert [s["SignalId"] for s in everything] == seen
    created = [s["CreatedAt"] for s in everything]
    assert created == sorted(created, reverse=True)
    assert (await ok(trading_desk, "/api/signals", limit=500))["next_cursor"] is None


async def test_signal_filters(trading_desk):
    await trading_desk.alert()
    await trading_desk.alert("alert-2")
    aapl = await trading_desk.signal(Symbol="AAPL", Quantity=2)
    msft = await trading_desk.signal(
        Symbol="MSFT", Quantity=1, Price=400.0, CorrelationId="alert-2"
    )
    rejected = await trading_desk.signal(CorrelationId="nope")
    await trading_desk.drain()
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    later = await trading_desk.signal(Symbol="AAPL", Data="sell", Quantity=1)
    await trading_desk.drain()

    async def ids(**params) -> set[str]:
        return {
            s["SignalId"] for s in (await ok(trading_desk, "/api/signals", **params))["signals"]
        }

    assert await ids() == {aapl, msft, rejected, later}
    assert await ids(status="rejected") == {rejected}
    assert await ids(status="filled") == {aapl, msft, later}
    assert await ids(status="filled,rejected") == {aapl, msft, rejected, later}
    assert await ids(status="cancelled") == set()
    assert await ids(symbol="msft") == {msft}
    assert await ids(alert="alert-2") == {msft}
    assert await ids(alert="alert-1", symbol="AAPL") == {aapl, later}
    assert await ids(since=iso(middle)) == {later}
    assert await ids(until=iso(middle)) == {aapl, msft, rejected}
    assert await ids(since=iso(middle), status="rejected") == set()
    # An offset's "+" left unencoded (curl) arrives as a space and still reads as intended.
    plus_two = middle.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert await ids(since=plus_two.replace("+", " ")) == {later}
    # Filtered pages page through every match.
    first = await ok(trading_desk, "/api/signals", status="filled", limit=2)
    assert len(first["signals"]) == 2
    rest = await ok(
        trading_desk, "/api/signals", status="filled", limit=2, cursor=first["next_cursor"]
    )
    paged = {s["SignalId"] for s in first["signals"] + rest["signals"]}
    assert paged == {aapl, msft, later}


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("since", "yesterday"),
        ("until", "2026-04-27T11:20:00"),  # no zone
        ("status", "done"),
        ("status", "filled,nope"),
        ("limit", "0"),
        ("limit", "501"),
        ("limit", "ten"),
        ("cursor", "not-a-cursor"),
    ],
)
async def test_bad_signal_filters_are_400_naming_the_parameter(trading_desk, param, value):
    response = await get(trading_desk, "/api/signals", **{param: value})
    assert response.status_code == 400
    body = response.json()
    assert [e["path"] for e in body["errors"]] == [f"query.{param}"]


async def test_until_before_since_is_400(trading_desk):
    response = await get(
        trading_desk, "/api/signals", since="2026-04-27T12:00:00Z", until="2026-04-27T11:00:00Z"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "query.until"


async def test_one_signal_with_its_whole_lifecycle(trading_desk):
    await trading_desk.alert()
    filled = await trading_desk.signal(Data="buy", Quantity=10, Price=200.0)
    resting = await trading_desk.signal(Data="buy", Quantity=3, Price=150.25, OrderType="LMT")
    stale = await trading_desk.signal(Date=now_iso(-3600))
    await trading_desk.drain()

    record = await ok(trading_desk, f"/api/signals/{filled}")
    assert record["SignalId"] == filled
    assert record["Status"] == "filled"
    assert [h["Status"] for h in record["History"]] == ["accepted", "submitted", "filled"]
    assert all(h["Time"] for h in record["History"])
    assert record["RequestedQuantity"] == 10
    assert record["Quantity"] == 10
    assert record["FilledQuantity"] == 10
    assert record["Price"] == 200
    [fill] = record["Fills"]
    assert fill["Quantity"] == 10 and fill["Price"] == 200 and fill["Commission"] == 0
    assert isinstance(fill["Price"], int)
    assert record["CreatedAt"] and record["UpdatedAt"]

    record = await ok(trading_desk, f"/api/signals/{resting}")
    assert record["Status"] == "submitted"
    assert record["Price"] == 150.25
    assert record["Fills"] == []

    record = await ok(trading_desk, f"/api/signals/{stale}")
    assert record["Status"] == "rejected"
    assert record["Reason"].startswith("stale")
    assert record["History"][-1]["Reason"] == record["Reason"]

    missing = await get(trading_desk, "/api/signals/no-such-signal")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("No signal no-such-signal")


# Brokers


async def test_brokers_list_the_default_paper_broker_and_configured_ones(trading_desk):
    brokers = (await ok(trading_desk, "/api/brokers"))["brokers"]
    assert [b["BrokerId"] for b in brokers] == ["paper"]
    assert brokers[0]["Kind"] == "paper"
    assert brokers[0]["Status"] == {"Connected": True}

    await trading_desk.send(
        "ConfigureBroker",
        {"BrokerId": "ibkr-main", "Kind": "ibkr", "Host": "127.0.0.1", "Port": 4002},
    )
    await trading_desk.send(
        "ConfigureBroker", {"BrokerId": "sandbox", "Kind": "paper", "StartingCash": 5000}
    )
    await trading_desk.drain()
    brokers = {b["BrokerId"]: b for b in (await ok(trading_desk, "/api/brokers"))["brokers"]}
    assert set(brokers) == {"paper", "ibkr-main", "sandbox"}
    assert brokers["ibkr-main"]["Port"] == 4002
    assert brokers["ibkr-main"]["Status"] == {
        "Connected": None,
        "Connections": [],
    }  # no worker reported yet
    assert brokers["sandbox"]["StartingCash"] == 5000
    assert (await ok(trading_desk, "/api/brokers/ibkr-main"))["Host"] == "127.0.0.1"
    assert (await ok(trading_desk, "/api/brokers/paper"))["Status"] == {"Connected": True}


async def test_a_removed_broker_disappears(trading_desk):
    await trading_desk.send("ConfigureBroker", {"BrokerId": "sandbox", "Kind": "paper"})
    await trading_desk.drain()
    await trading_desk.send("RemoveBroker", {"BrokerId": "sandbox"})
    await trading_desk.send("RemoveBroker", {"BrokerId": "paper"})
    await trading_desk.drain()
    assert (await ok(trading_desk, "/api/brokers"))["brokers"] == []
    for broker_id in ("sandbox", "paper", "never-configured"):
        response = await get(trading_desk, f"/api/brokers/{broker_id}")
        assert response.status_code == 404, broker_id
        assert (await get(trading_desk, f"/api/paper/{broker_id}")).status_code == 404


async def test_broker_secrets_are_never_shown(trading_desk):
    # No schema accepts a secret today: put one in the read model as a future broker kind would.
    key = trading_desk.keyspace.readmodel(trading_desk.tenant.tenant_id, "brokers")
    record = {
        "BrokerId": "vault",
        "Kind": "ibkr",
        "Host": "10.0.0.2",
        "Password": "hunter2",
        "ApiToken": "t0k",
        "client_secret": "s3",
        "Nested": {"api_key": "k", "Region": "eu"},
    }
    await trading_desk.store.hset(key, "vault", orjson.dumps(record))
    shown = await ok(trading_desk, "/api/brokers/vault")
    listed = next(
        b for b in (await ok(trading_desk, "/api/brokers"))["brokers"] if b["BrokerId"] == "vault"
    )
    for view in (shown, listed):
        text = orjson.dumps(view).decode()
        for secret in ("hunter2", "t0k", "s3", '"k"'):
            assert secret not in text
        assert view["Host"] == "10.0.0.2"
        assert view["Nested"] == {"Region": "eu"}


# Alerts


async def test_alerts_show_the_webhook_url_and_the_message_to_paste(trading_desk, settings):
    await trading_desk.alert("rsi", Symbol="MSFT", Quantity=5, Action="buy")
    await trading_desk.alert("my strategy", kind="ConfigureStrategyAlert", Mode="position")
    await trading_desk.drain()
    tenant_id = trading_desk.tenant.tenant_id

    alerts = {a["AlertId"]: a for a in (await ok(trading_desk, "/api/alerts"))["alerts"]}
    assert set(alerts) == {"rsi", "my strategy"}
    for alert_id, alert in alerts.items():
        token = alert["WebhookToken"]
        assert token
        assert alert["WebhookUrl"] == (
            f"{settings.base_url}/tenants/{tenant_id}/webhooks/tradingview/"
            f"{quote(alert_id, safe='')}/{token}"
        )
        assert await ok(trading_desk, f"/api/alerts/{quote(alert_id, safe='')}") == alert

    rsi = alerts["rsi"]
    assert rsi["Kind"] == "indicator"
    assert rsi["TradingViewMessage"] == indicator_message_template(rsi)
    assert rsi["TradingViewMessage"] == (
        '{"ticker": "{{ticker}}", "action": "buy", "price": {{close}}, "time": "{{timenow}}"}'
    )
    strategy = alerts["my strategy"]
    assert strategy["Kind"] == "strategy"
    assert strategy["TradingViewMessage"] == strategy_message_template(strategy)
    assert "{{strategy.position_size}}" in strategy["TradingViewMessage"]

    assert (await get(trading_desk, "/api/alerts/unknown")).status_code == 404


# Paper accounts


async def test_a_paper_broker_that_never_traded_shows_its_starting_state(trading_desk):
    await trading_desk.send(
        "ConfigureBroker", {"BrokerId": "small", "Kind": "paper", "StartingCash": 5000}
    )
    await trading_desk.drain()
    for broker_id, cash in (("paper", 100_000), ("small", 5000)):
        account = await ok(trading_desk, f"/api/paper/{broker_id}")
        assert account["broker_id"] == broker_id
        assert account["cash"] == account["equity"] == account["starting_cash"] == cash
        assert account["positions"] == [] and account["open_orders"] == []
        assert account["realized_pnl"] == account["unrealized_pnl"] == 0


async def test_the_paper_account_after_a_buy(trading_desk):
    await trading_desk.alert()
    await trading_desk.signal(Data="buy", Quantity=10, Price=200.0)
    await trading_desk.signal(Symbol="MSFT", Data="buy", Quantity=2, Price=400.5)
    await trading_desk.signal(Data="buy", Quantity=1, Price=210.0)  # AAPL now at 210
    limit = await trading_desk.signal(
        Symbol="TSLA", Data="buy", Quantity=4, Price=99.5, OrderType="LMT"
    )
    await trading_desk.drain()

    account = await ok(trading_desk, "/api/paper/paper")
    cash = 100_000 - 10 * 200 - 2 * 400.5 - 210
    assert account["cash"] == pytest.approx(cash)
    positions = {p["symbol"]: p for p in account["positions"]}
    assert list(positions) == ["AAPL", "MSFT"]
    aapl = positions["AAPL"]
    assert aapl["quantity"] == 11
    assert isinstance(aapl["quantity"], int)
    assert aapl["avg_cost"] == pytest.approx((2000 + 210) / 11)
    assert aapl["last_price"] == 210
    assert aapl["market_value"] == 11 * 210
    assert positions["MSFT"] == {
        "symbol": "MSFT",
        "quantity": 2,
        "avg_cost": 400.5,
        "last_price": 400.5,
        "market_value": 801,
        "unrealized_pnl": 0,
    }
    assert account["equity"] == pytest.approx(cash + 11 * 210 + 801)
    assert account["unrealized_pnl"] == pytest.approx(11 * 210 - 2210)
    [order] = account["open_orders"]
    assert order["order_id"] == limit
    assert (order["symbol"], order["side"], order["quantity"], order["limit_price"]) == (
        "TSLA",
        "buy",
        4,
        99.5,
    )
    assert order["expires_at"] > order["placed_at"]


async def test_only_paper_brokers_have_paper_accounts(trading_desk):
    await trading_desk.send(
        "ConfigureBroker",
        {"BrokerId": "ibkr-main", "Kind": "ibkr", "Host": "127.0.0.1", "Port": 4002},
    )
    await trading_desk.drain()
    for broker_id in ("ibkr-main", "ghost"):
        response = await get(trading_desk, f"/api/paper/{broker_id}")
        assert response.status_code == 404
        assert response.json()["detail"].startswith(f"No paper broker {broker_id}")


# The door


@pytest.mark.parametrize("path", READ_ROUTES)
async def test_every_read_needs_the_tenants_key(trading_desk, store, prefix, path):
    assert (await trading_desk.client.get(url(trading_desk, path))).status_code == 401
    wrong = await trading_desk.client.get(
        url(trading_desk, path), headers={"X-Api-Key": "baas_" + "x" * 43}
    )
    assert wrong.status_code == 401
    other = await new_tenant(store, prefix, "other")
    response = await trading_desk.client.get(
        url(trading_desk, path), headers={"X-Api-Key": other.api_key}
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("This API key is not valid for tenant")


async def test_reads_count_against_the_ip_limit_not_the_tenants_writes(trading_desk, settings):
    limited = dataclasses.replace(settings, ip_limit=len(READ_ROUTES), tenant_write_limit=1)
    async with app_client(limited, client_ip="10.1.2.3") as client:
        for path in READ_ROUTES:
            response = await client.get(url(trading_desk, path), headers=trading_desk.headers)
            assert response.status_code in (200, 404), response.text
        response = await client.get(url(trading_desk, "/api/signals"), headers=trading_desk.headers)
        assert response.status_code == 429
    # None of the reads used the tenant's single write.
    async with app_client(limited, client_ip="10.1.2.4") as client:
        response = await client.post(
            url(trading_desk, "/api/trading"),
            json={
                "id": "after-reads",
                "type": "ConfigureBroker",
                "source": "tests",
                "data": {"BrokerId": "after-reads", "Kind": "paper"},
            },
            headers=trading_desk.headers,
        )
        assert response.status_code == 202, response.text


# Totality: whatever the log holds, the reads answer


async def append_raw(trading_desk, command_type: str, data: dict) -> None:
    """Append a command as it stands, past the door's checks: what an older gateway let in."""
    event = {
        "specversion": "1.0",
        "id": f"raw-{data.get('Id') or data.get('BrokerId')}",
        "source": "tests",
        "type": command_type,
        "time": now_iso(),
        "datacontenttype": "application/json",
        "tenantid": trading_desk.tenant.tenant_id,
        "data": {"TenantId": trading_desk.tenant.tenant_id, **data},
    }
    log = trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
    await trading_desk.store.xadd(log, {"event": orjson.dumps(event), "received_at": now_iso()})


async def answers_every_read(trading_desk, signal_ids, broker_ids=("paper",)) -> None:
    paths = ["/api/signals", "/api/brokers", "/api/alerts"]
    paths += [f"/api/signals/{quote(s, safe='')}" for s in signal_ids]
    paths += [f"/api/brokers/{quote(b, safe='')}" for b in broker_ids]
    paths += [f"/api/paper/{quote(b, safe='')}" for b in broker_ids]
    for path in paths:
        response = await get(trading_desk, path)
        assert response.status_code in (200, 404), (path, response.status_code, response.text)
        assert response.status_code == 200 or "/signals/" not in path, (path, response.text)


async def test_absurd_amounts_already_in_the_log_do_not_break_the_reads(trading_desk):
    # Issue #12.3: a Quantity of 1e20 made every signals read a 500 ("Integer exceeds 64-bit
    # range"), and the paper account too once such a fill existed.
    await trading_desk.alert()
    rich = {"BrokerId": "rich", "Kind": "paper", "StartingCash": 1e300}
    await append_raw(trading_desk, "ConfigureBroker", rich)
    await append_raw(
        trading_desk, "ConfigureBroker", {"BrokerId": "odd", "Kind": "paper", "SlippageBps": 1e4}
    )
    signal = {"CorrelationId": "alert-1", "Symbol": "AAPL", "Data": "buy", "OrderType": "MKT",
              "InstrumentType": "STK"}  # fmt: skip
    await append_raw(
        trading_desk, "SubmitSignal", {**signal, "Id": "huge", "Quantity": 1e20, "Price": 1}
    )
    await append_raw(
        trading_desk,
        "SubmitSignal",
        {**signal, "Id": "vast", "BrokerId": "rich", "Quantity": 1e9, "Price": 1e9},
    )
    await append_raw(
        trading_desk, "SubmitSignal", {**signal, "Id": "odd", "BrokerId": "odd", "Quantity": 1}
    )
    await trading_desk.drain()
    # A paper account as a fill of an older worker could leave it.
    account = {"cash": "-1E+400", "positions": {"AAPL": {"quantity": "1E+20", "avg_cost": "1E+100"}},
               "last_prices": {"AAPL": "1E+100"}}  # fmt: skip
    paper_accounts = trading_desk.keyspace.readmodel(trading_desk.tenant.tenant_id, "paper")
    await trading_desk.store.hset(paper_accounts, "paper", orjson.dumps(account))

    await answers_every_read(trading_desk, ["huge", "vast", "odd"], ["paper", "rich", "odd"])
    huge = await ok(trading_desk, "/api/signals/huge")
    assert (huge["RequestedQuantity"], huge["Status"]) == (1e20, "rejected")
    signals = await ok(trading_desk, "/api/signals")
    assert {s["SignalId"] for s in signals["signals"]} == {"huge", "vast", "odd"}
    assert (await ok(trading_desk, "/api/signals/vast"))["FilledQuantity"] == 10**9
    paper = await ok(trading_desk, "/api/paper/paper")
    assert (paper["cash"], paper["positions"][0]["quantity"]) == ("-1E+400", 1e20)
    odd = await ok(trading_desk, "/api/signals/odd")
    assert odd["Reason"] == "broker 'odd' is misconfigured: slippage_bps must be below 10000"


def bounded(low: float, high: float, *edges: float) -> st.SearchStrategy[float]:
    """A number in a schema's range [low, high], its bounds and ``edges`` drawn often."""
    return st.sampled_from([low, high, *edges]) | st.floats(low, high)


TINY = 5e-324  # the smallest positive double
broker_configs = st.fixed_dictionaries(
    {},
    optional={
        "StartingCash": bounded(TINY, 1e12, 1e-9, 1),
        "CommissionPerShare": bounded(0, 1000, TINY),
        "MinCommission": bounded(0, 1e6, TINY),
        "SlippageBps": bounded(0, 1000, 999.9999),
    },
)
alert_configs = st.fixed_dictionaries(
    {},
    optional={
        "Quantity": bounded(TINY, 1e9, 1e-9, 1),
        "QuantityMultiplier": bounded(0, 1000, TINY),
        "RiskPercentage": bounded(0, 100, TINY),
        "MaxSignalAgeSeconds": st.sampled_from([1, 60, 31536000]),
        "OrderType": st.sampled_from(["MKT", "LMT"]),
        "InstrumentType": st.sampled_from(["STK", "Forex", "Crypto", "Options"]),
    },
)
signal_values = st.fixed_dictionaries(
    {
        "Data": st.sampled_from(["buy", "sell", "close"]),
        "Quantity": bounded(TINY, 1e9, 1e-9, 1, 999999999.9999),
        "OrderType": st.sampled_from(["MKT", "LMT"]),
        "InstrumentType": st.sampled_from(["STK", "Forex", "Crypto", "Options"]),
        "BrokerId": st.sampled_from(["paper", "edge"]),
        "Symbol": st.sampled_from(["AAPL", "BTC"]),
    },
    optional={
        "Price": bounded(TINY, 1e9, 1e-4, 1),
        "AccountRiskPercentage": bounded(0, 100, TINY),
        "AccountQuantityMultiplier": bounded(0, 1000, TINY),
        "Date": st.sampled_from(["1970-01-01T00:00:00Z", "2200-12-31T23:59:59Z", "now"]),
    },
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    broker=broker_configs,
    alert=alert_configs,
    kind=st.sampled_from(["ConfigureIndicatorAlert", "ConfigureStrategyAlert"]),
    client_id=st.sampled_from([0, 2**31 - 1]),
    signals=st.lists(signal_values, max_size=6),
)
async def test_every_read_answers_whatever_the_gateway_accepted(
    trading_desk, broker, alert, kind, client_id, signals
):
    await trading_desk.send("ConfigureBroker", {"BrokerId": "edge", "Kind": "paper", **broker})
    ibkr = {"BrokerId": "ib", "Kind": "ibkr", "Host": "127.0.0.1", "Port": 65535}
    await trading_desk.send("ConfigureBroker", {**ibkr, "ClientId": client_id})
    await trading_desk.alert("edge-alert", kind, **alert)
    ids = []
    for values in signals:
        values = {"Price": None, **values, "CorrelationId": "edge-alert"}
        if values.get("Date") == "now":
            values["Date"] = now_iso()
        if values["OrderType"] == "LMT" and not values["Price"]:
            values["Price"] = 1
        ids.append(await trading_desk.signal(**values))
    await trading_desk.drain()
    await answers_every_read(trading_desk, ids, ["paper", "edge"])
    assert (await get(trading_desk, "/api/brokers/ib")).status_code == 200
