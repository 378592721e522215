"""The console's Ledger page over plain HTTP on a real store: strategies and their keys made
through the ledger API's own functions (the key shown once), CSRF, scoping, and a strategy's page
showing /performance's own figures."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.console.support import signed_in
from tests.ledger.support import open_strategy
from tests.support.gateway import app_client
from tests.support.store import new_tenant

KEY = re.compile(r'<code id="new-key">([^<]+)</code>')
CELL = re.compile(r'data-month="([0-9-]+)" data-value="([^"]+)"')


async def strategies_of(client: httpx.AsyncClient, tenant) -> list[dict]:
    answer = await client.get(
        f"/tenants/{tenant.tenant_id}/api/strategies", headers={"X-Api-Key": tenant.api_key}
    )
    assert answer.status_code == 200
    return answer.json()["strategies"]


async def test_a_strategy_made_in_the_console_has_a_working_key_shown_once(settings, tenant):
    async with app_client(settings) as c:
        csrf = await signed_in(c, tenant.api_key)
        made = await c.post(
            "/console/ledger", data={"csrf": csrf, "name": "swing bot", "key_name": "prod"}
        )
        assert made.status_code == 201, made.text
        [key] = KEY.findall(made.text)
        [strategy] = [s for s in await strategies_of(c, tenant) if s["name"] == "swing bot"]
        assert strategy["base_currency"] == "USD"
        state = await c.get(
            f"/api/v1/strategies/{strategy['id']}/state",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert state.status_code == 200, state.text
        keys = await c.get(
            f"/strategies/{strategy['id']}/api-keys", headers={"X-Api-Key": tenant.api_key}
        )
        assert [k["name"] for k in keys.json()] == ["prod"]
        listed = await c.get("/console/ledger")
        assert listed.status_code == 200
        assert "swing bot" in listed.text and key not in listed.text
        page = await c.get(f"/console/ledger/{strategy['id']}")
        assert page.status_code == 200 and key not in page.text

        another = await c.post(f"/console/ledger/{strategy['id']}/keys", data={"csrf": csrf})
        assert another.status_code == 201
        [second] = KEY.findall(another.text)
        assert second != key
        keys = await c.get(
            f"/strategies/{strategy['id']}/api-keys", headers={"X-Api-Key": tenant.api_key}
        )
        assert len(keys.json()) == 2


async def test_a_bad_strategy_is_shown_next_to_its_field_and_writes_nothing(settings, tenant):
    async with app_client(settings) as c:
        csrf = await signed_in(c, tenant.api_key)
        before = await strategies_of(c, tenant)
        for form, field in (
            ({"name": " "}, "name"),
            ({"name": "x", "base_currency": "EU"}, "base_currency"),
        ):
            answer = await c.post("/console/ledger", data={"csrf": csrf, **form})
            assert answer.status_code == 422
            assert f'id="strategy-{field.split("_")[-1]}-error"' in answer.text
            assert not KEY.findall(answer.text)
        too_long = await c.post(
            "/console/ledger", data={"csrf": csrf, "name": "ok", "key_name": "k" * 5000}
        )
        assert too_long.status_code == 422
        assert 'id="strategy-key-name-error"' in too_long.text
        assert await strategies_of(c, tenant) == before


@pytest.mark.parametrize(
    "form", [{"name": "sneaky"}, {"name": "sneaky", "csrf": "wrong"}, {"csrf": ""}]
)
async def test_the_ledger_forms_without_their_csrf_token_are_403_and_write_nothing(
    settings, tenant, form
):
    async with app_client(settings) as c:
        await signed_in(c, tenant.api_key)
        strategy_id, _ = await open_strategy(c, tenant)
        before = await strategies_of(c, tenant)
        assert (await c.post("/console/ledger", data=form)).status_code == 403
        assert (await c.post(f"/console/ledger/{strategy_id}/keys", data=form)).status_code == 403
        assert await strategies_of(c, tenant) == before
        keys = await c.get(
            f"/strategies/{strategy_id}/api-keys", headers={"X-Api-Key": tenant.api_key}
        )
        assert len(keys.json()) == 1


async def test_another_tenants_strategy_is_404_and_never_shown(settings, store, prefix, tenant):
    other = await new_tenant(store, prefix, "other")
    async with app_client(settings) as c:
        theirs, _ = await open_strategy(c, other, "their secret bot")
        csrf = await signed_in(c, tenant.api_key)
        assert (await c.get(f"/console/ledger/{theirs}")).status_code == 404
        assert (await c.get(f"/console/ledger/{theirs}/nav.json")).status_code == 404
        key = await c.post(f"/console/ledger/{theirs}/keys", data={"csrf": csrf})
        assert key.status_code == 404 and not KEY.findall(key.text)
        assert "their secret bot" not in (await c.get("/console/ledger")).text
        keys = await c.get(f"/strategies/{theirs}/api-keys", headers={"X-Api-Key": other.api_key})
        assert len(keys.json()) == 1


async def test_a_strategys_page_shows_performances_monthly_returns_orders_and_cash(
    settings, tenant
):
    async with app_client(settings) as c:
        strategy_id, key = await open_strategy(c, tenant)
        bearer = {"Authorization": f"Bearer {key}"}
        v1 = f"/api/v1/strategies/{strategy_id}"
        deposit = {"event_type": "deposit", "amount": 10_000, "occurred_at": "2024-01-02T15:00:00Z"}
        assert (await c.post(f"{v1}/cash", json=deposit, headers=bearer)).status_code == 201
        for day, price in (("2024-01-03", 100), ("2024-02-05", 110), ("2024-03-04", 99)):
            order = {
                "symbol": "AAPL",
                "side": "buy",
                "quantity": 1,
                "price": price,
                "executed_at": f"{day}T15:00:00Z",
            }
            answer = await c.post(f"{v1}/orders", json={"orders": [order]}, headers=bearer)
            assert answer.status_code == 201, answer.text
        performance = (await c.get(f"{v1}/performance", headers=bearer)).json()
        assert len(performance["monthly_returns"]) == 3

        await signed_in(c, tenant.api_key)
        page = await c.get(f"/console/ledger/{strategy_id}")
        assert page.status_code == 200, page.text
        shown = {month: float(value) for month, value in CELL.findall(page.text)}
        expected = {m: v for m, v in performance["monthly_returns"].items() if v is not None}
        assert shown == expected
        assert page.text.count("<td>AAPL</td>") == 3 and "deposit" in page.text
        bad = await c.get(f"/console/ledger/{strategy_id}", params={"benchmark": "not a symbol!"})
        assert bad.status_code == 422


async def test_the_chart_library_is_served_from_its_installed_package(settings, tenant):
    async with app_client(settings) as c:
        script = await c.get("/console/vendor/lightweight-charts.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "Lightweight Charts" in script.text[:300]
        assert "script-src 'self'" in script.headers["content-security-policy"]
        assert (await c.get("/console/vendor/index.html")).status_code == 404
