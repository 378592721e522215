"""Alerts in the console over plain HTTP: every change is a Configure…Alert appended through
the API's admission and log, and the test alert goes through the TradingView webhook path."""

from __future__ import annotations

import dataclasses
import re

import pytest

from baas.core.keyspace import Keyspace
from tests.console.support import csrf_of, signed_in, worker
from tests.support.gateway import app_client
from tests.support.store import new_tenant


@pytest.fixture
def fast(settings):
    return dataclasses.replace(settings, worker_block_ms=50)


async def drain(consumer) -> None:
    while await consumer.step():
        pass


async def log_length(store, prefix: str, tenant_id: str) -> int:
    return await store.xlen(Keyspace(prefix).tenant_log(tenant_id))


async def create(c, csrf: str, **fields: str):
    form = await c.get(f"/console/alerts/new?kind={fields.pop('kind', 'indicator')}")
    event_id = re.search(r'name="event_id" value="([^"]+)"', form.text).group(1)
    kind = re.search(r'name="kind" value="([^"]+)"', form.text).group(1)
    return await c.post(
        "/console/alerts", data={"csrf": csrf, "event_id": event_id, "kind": kind, **fields}
    )


async def test_an_alert_created_in_the_console_reads_back_through_the_api(
    fast, store, tenant, prefix
):
    consumer = worker(store, Keyspace(prefix), fast)
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        empty = await c.get("/console/alerts")
        assert "No alert yet" in empty.text and "ConfigureIndicatorAlert" in empty.text
        answer = await create(
            c, csrf, AlertId="rsi-1", Name="RSI", BrokerId="paper", Symbol="MSFT", Quantity="5"
        )
        assert (answer.status_code, answer.headers["location"]) == (
            303,
            "/console/alerts?sent=rsi-1",
        )
        await drain(consumer)
        api = await c.get(
            f"/tenants/{tenant.tenant_id}/api/alerts/rsi-1", headers={"X-Api-Key": tenant.api_key}
        )
        assert api.status_code == 200
        alert = api.json()
        assert (alert["Name"], alert["Symbol"], alert["Quantity"], alert["Kind"]) == (
            "RSI",
            "MSFT",
            5,
            "indicator",
        )
        [entry] = [
            e for e in await _log(store, prefix, tenant.tenant_id) if e["source"] == "console"
        ]
        assert entry["type"] == "ConfigureIndicatorAlert"
        page = await c.get("/console/alerts/rsi-1")
        assert page.status_code == 200
        assert alert["WebhookUrl"] in page.text
        assert 'data-copy="webhook-url"' in page.text and 'data-copy="message"' in page.text
        # Disable from the list: a ConfigureIndicatorAlert with Enabled false.
        off = await c.post("/console/alerts/rsi-1", data={"csrf": csrf, "Enabled": "false"})
        assert off.status_code == 303
        await drain(consumer)
        api = await c.get(
            f"/tenants/{tenant.tenant_id}/api/alerts/rsi-1", headers={"X-Api-Key": tenant.api_key}
        )
        assert api.json()["Enabled"] is False and api.json()["Quantity"] == 5


async def _log(store, prefix: str, tenant_id: str) -> list[dict]:
    import orjson

    entries = await store.xrange(Keyspace(prefix).tenant_log(tenant_id))
    return [orjson.loads(fields[b"event"]) for _, fields in entries]


async def test_a_form_sent_twice_appends_once(fast, store, tenant, prefix):
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        form = await c.get("/console/alerts/new?kind=strategy")
        fields = {
            "csrf": csrf,
            "event_id": re.search(r'name="event_id" value="([^"]+)"', form.text).group(1),
            "kind": "strategy",
            "AlertId": "trend",
        }
        for _ in range(2):
            assert (await c.post("/console/alerts", data=fields)).status_code == 303
        assert await log_length(store, prefix, tenant.tenant_id) == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"AlertId": "a", "Quantity": "many"}, "Quantity", "is not of type"),
        ({"AlertId": "a", "Quantity": "-3"}, "Quantity", "less than or equal to the minimum"),
        ({"AlertId": "", "Name": "x"}, "AlertId", ""),
        ({"AlertId": "a", "MaxSignalAgeSeconds": "1.5"}, "MaxSignalAgeSeconds", "integer"),
    ],
)
async def test_a_form_the_schema_refuses_shows_each_error_next_to_its_field(
    fast, store, tenant, prefix, fields, field, message
):
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        answer = await create(c, csrf, **fields)
        assert answer.status_code in (400, 422)
        error = re.search(rf'<p class="error" id="f-{field}-error">([^<]+)</p>', answer.text)
        assert error, answer.text
        assert message in error.group(1)
        assert f'id="f-{field}"' in answer.text and 'aria-invalid="true"' in answer.text
        assert await log_length(store, prefix, tenant.tenant_id) == 0


async def test_alert_forms_without_csrf_and_other_tenants_alerts_write_nothing(
    fast, store, tenant, prefix
):
    consumer = worker(store, Keyspace(prefix), fast)
    other = await new_tenant(store, prefix, "other")
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        await create(c, csrf, AlertId="mine", BrokerId="paper", Quantity="1")
        await drain(consumer)
        before = await log_length(store, prefix, tenant.tenant_id)
        for path, data in [
            ("/console/alerts", {"kind": "indicator", "AlertId": "x"}),
            ("/console/alerts/mine", {"Enabled": "false"}),
            ("/console/alerts/mine/test", {"ticker": "MSFT", "price": "1"}),
        ]:
            assert (await c.post(path, data=data)).status_code == 403
            assert (await c.post(path, data={**data, "csrf": "nope"})).status_code == 403
        assert await log_length(store, prefix, tenant.tenant_id) == before
        await c.post("/console/sign-out", data={"csrf": csrf})

        theirs = await signed_in(c, other.api_key)
        assert (await c.get("/console/alerts/mine")).status_code == 404
        assert "mine" not in (await c.get("/console/alerts")).text
        for path, data in [
            ("/console/alerts/mine", {"Enabled": "false"}),
            ("/console/alerts/mine/test", {"ticker": "MSFT", "price": "1"}),
        ]:
            assert (await c.post(path, data={**data, "csrf": theirs})).status_code == 404
        assert await log_length(store, prefix, tenant.tenant_id) == before
        assert await log_length(store, prefix, other.tenant_id) == 0


async def test_the_test_alert_goes_through_the_webhook_and_fills(fast, store, tenant, prefix):
    consumer = worker(store, Keyspace(prefix), fast)
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        await create(c, csrf, AlertId="tv", BrokerId="paper", Symbol="AAPL", Action="buy")
        await drain(consumer)
        page = await c.get("/console/alerts/tv")
        tested = await c.post(
            "/console/alerts/tv/test",
            data={"csrf": csrf_of(page.text), "ticker": "AAPL", "price": "200"},
        )
        assert tested.status_code == 200
        assert "The webhook answered <strong>202</strong>" in tested.text
        await drain(consumer)
        [signal] = [
            e for e in await _log(store, prefix, tenant.tenant_id) if e["type"] == "SubmitSignal"
        ]
        assert signal["source"].startswith("tradingview")
        listed = await c.get(
            f"/tenants/{tenant.tenant_id}/api/signals?alert=tv",
            headers={"X-Api-Key": tenant.api_key},
        )
        [record] = listed.json()["signals"]
        assert (record["Symbol"], record["Status"]) == ("AAPL", "filled")
        assert "filled" in (await c.get("/console/signals?alert=tv")).text


async def test_brokers_are_configured_and_removed_through_commands(fast, store, tenant, prefix):
    consumer = worker(store, Keyspace(prefix), fast)
    other = await new_tenant(store, prefix, "other")
    async with app_client(fast) as c:
        csrf = await signed_in(c, tenant.api_key)
        page = await c.get("/console/brokers")
        assert page.status_code == 200 and "paper" in page.text
        event_id = re.search(r'name="event_id" value="([^"]+)"', page.text).group(1)
        refused = await c.post(
            "/console/brokers",
            data={"csrf": csrf, "event_id": event_id, "BrokerId": "ib", "Kind": "ibkr"},
        )
        assert refused.status_code in (400, 422)
        assert re.search(r'id="f-Host-error">[^<]+<', refused.text), refused.text
        added = await c.post(
            "/console/brokers",
            data={
                "csrf": csrf,
                "event_id": event_id,
                "BrokerId": "paper-2",
                "Kind": "paper",
                "StartingCash": "50000",
            },
        )
        assert (added.status_code, added.headers["location"]) == (
            303,
            "/console/brokers?sent=paper-2",
        )
        await drain(consumer)
        api = await c.get(
            f"/tenants/{tenant.tenant_id}/api/brokers/paper-2",
            headers={"X-Api-Key": tenant.api_key},
        )
        assert api.status_code == 200 and api.json()["StartingCash"] == 50000
        assert "50000" in (await c.get("/console/brokers")).text
        await c.post("/console/sign-out", data={"csrf": csrf})

        theirs = await signed_in(c, other.api_key)
        before = await log_length(store, prefix, tenant.tenant_id)
        gone = await c.post("/console/brokers/paper-2/remove", data={"csrf": theirs})
        assert gone.status_code == 404
        assert "paper-2" not in (await c.get("/console/brokers")).text
        assert await log_length(store, prefix, tenant.tenant_id) == before
        await c.post("/console/sign-out", data={"csrf": theirs})

        csrf = await signed_in(c, tenant.api_key)
        removed = await c.post("/console/brokers/paper-2/remove", data={"csrf": csrf})
        assert removed.status_code == 303
        await drain(consumer)
        api = await c.get(
            f"/tenants/{tenant.tenant_id}/api/brokers/paper-2",
            headers={"X-Api-Key": tenant.api_key},
        )
        assert api.status_code == 404
