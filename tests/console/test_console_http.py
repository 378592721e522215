"""The console over plain HTTP on a real store: sessions, CSRF, headers, scoping, lockout."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from baas.core import apikeys
from baas.core.keyspace import Keyspace
from baas.store.tenants import TenantRegistry
from tests.console.support import SIGN_IN, csrf_of, sign_in, signed_in, worker
from tests.support.events import signal_event
from tests.support.gateway import app_client, free_port
from tests.support.store import make_settings, new_tenant

PAGES = ("/console/", "/console/signals", "/console/keys", "/console/signals.json")


async def session_keys(store, prefix: str) -> list[bytes]:
    return [k async for k in store.scan_iter(match=f"{prefix}:{{g}}:console-session:*")]


async def test_sign_in_opens_a_session_cookie_that_is_not_the_key(settings, store, tenant, prefix):
    async with app_client(settings) as c:
        answer = await sign_in(c, tenant.api_key)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/"
        cookie = next(
            v for v in answer.headers.get_list("set-cookie") if v.startswith("baas_console=")
        )
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/console"} <= attributes
        assert "secure" not in attributes  # plain http, no trusted proxy
        assert f"max-age={settings.console_session_seconds}" in attributes
        assert tenant.api_key not in str(answer.headers)
        session_id = cookie.split(";")[0].split("=", 1)[1]
        assert session_id not in tenant.api_key
        overview = await c.get("/console/")
        assert overview.status_code == 200
        assert "Overview" in overview.text and tenant.api_key not in overview.text
    [key] = await session_keys(store, prefix)
    assert 0 < await store.ttl(key) <= settings.console_session_seconds
    assert session_id.encode() not in key and tenant.api_key.encode() not in await store.get(key)


async def test_the_cookie_is_secure_behind_a_trusted_proxy_that_says_https(
    store_url, prefix, store
):
    tenant = await new_tenant(store, prefix)
    https = {"X-Forwarded-Proto": "https"}
    trusting = make_settings(store_url, prefix, trusted_proxies="127.0.0.1")
    async with app_client(trusting) as c:
        form = await c.get(SIGN_IN, headers=https)
        assert "secure" in form.headers["set-cookie"].lower()
        # httpx keeps a Secure cookie from plain http: the browser behind the proxy sends it.
        token = csrf_of(form.text)
        answer = await c.post(
            SIGN_IN,
            data={"csrf": token, "api_key": tenant.api_key},
            headers={**https, "Cookie": f"baas_console_sign_in={token}"},
        )
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()
    # The same header from a peer that is not a trusted proxy is not believed.
    async with app_client(make_settings(store_url, prefix)) as c:
        form = await c.get(SIGN_IN, headers=https)
        assert "secure" not in form.headers["set-cookie"].lower()


async def test_every_console_response_carries_the_security_headers(settings, tenant):
    async with app_client(settings) as c:
        answers = [await c.get(SIGN_IN), await c.get("/console/"), await c.get(PAGES[1])]
        csrf = await signed_in(c, tenant.api_key)
        answers += [await c.get(p) for p in PAGES]
        answers += [
            await c.get("/console/signals/nope"),
            await c.get("/console/static/console.css"),
            await c.get("/console/static/console.js"),
            await c.post("/console/keys", data={"name": "x"}),
            await c.post("/console/keys/key_nope/revoke", data={"csrf": csrf}),
        ]
    assert [a.status_code for a in answers] == [200, 303, 303, *[200] * 4, 404, 200, 200, 403, 404]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"


async def test_without_a_session_every_page_goes_to_sign_in(settings, tenant):
    async with app_client(settings) as c:
        root = await c.get("/")
        assert (root.status_code, root.headers["location"]) == (307, "/console/")
        for path in PAGES:
            answer = await c.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, SIGN_IN), path
        c.cookies.set("baas_console", "made-up", domain="gateway.test", path="/console")
        assert (await c.get("/console/")).status_code == 303
        assert (await c.post("/console/keys", data={"csrf": "x"})).status_code == 303


async def test_sign_out_deletes_the_session(settings, store, tenant, prefix):
    async with app_client(settings) as c:
        csrf = await signed_in(c, tenant.api_key)
        session_id = c.cookies["baas_console"]
        answer = await c.post("/console/sign-out", data={"csrf": csrf})
        assert (answer.status_code, answer.headers["location"]) == (303, SIGN_IN)
        assert "baas_console=" in answer.headers["set-cookie"]
        assert await session_keys(store, prefix) == []
        # The old cookie, replayed, opens nothing.
        c.cookies.set("baas_console", session_id, domain="gateway.test", path="/console")
        for path in PAGES:
            assert (await c.get(path)).status_code == 303


async def test_revoking_the_key_that_opened_a_session_ends_it(settings, store, tenant, prefix):
    async with app_client(settings) as c:
        await signed_in(c, tenant.api_key)
        await TenantRegistry(store, Keyspace(prefix)).revoke_key(tenant.tenant_id, tenant.key_id)
        answer = await c.get("/console/")
        assert (answer.status_code, answer.headers["location"]) == (303, SIGN_IN)
        assert await session_keys(store, prefix) == []


async def test_a_form_without_its_csrf_token_is_403_and_writes_nothing(
    settings, store, tenant, prefix
):
    registry = TenantRegistry(store, Keyspace(prefix))
    async with app_client(settings) as c:
        csrf = await signed_in(c, tenant.api_key)
        before = await registry.list_keys(tenant.tenant_id)
        for form in ({"name": "sneaky"}, {"name": "sneaky", "csrf": "wrong"}, {"csrf": ""}):
            answer = await c.post("/console/keys", data=form)
            assert answer.status_code == 403
            assert "security token" in answer.text
        revoke = await c.post(f"/console/keys/{tenant.key_id}/revoke", data={})
        assert revoke.status_code == 403
        assert (await c.post("/console/sign-out", data={"csrf": "wrong"})).status_code == 403
        assert await registry.list_keys(tenant.tenant_id) == before
        assert (await c.get("/console/")).status_code == 200  # still signed in
        # The sign-in form has its own token (a cookie of its own, no session yet).
        c.cookies.clear()
        answer = await c.post(SIGN_IN, data={"api_key": tenant.api_key})
        assert answer.status_code == 403
        assert "baas_console=" not in answer.headers.get("set-cookie", "")
        assert (await c.post("/console/keys", data={"csrf": csrf})).status_code == 303


async def test_a_wrong_key_counts_as_the_apis_401s_and_locks_the_ip(store_url, prefix, store):
    tenant = await new_tenant(store, prefix)
    settings = make_settings(
        store_url, prefix, auth_failure_limit=10, auth_failure_window_seconds=60
    )
    async with app_client(settings) as c:
        # API 401s and console sign-in failures count together, per IP.
        for _ in range(4):
            answer = await c.get(
                f"/tenants/{tenant.tenant_id}/api/signals", headers={"X-Api-Key": "baas_wrong"}
            )
            assert answer.status_code == 401
        for _ in range(6):
            answer = await sign_in(c, "baas_wrong")
            assert answer.status_code == 401
            assert "Invalid or revoked API key." in answer.text
            assert "baas_console=" not in answer.headers.get("set-cookie", "")
        locked = await sign_in(c, tenant.api_key)  # even the right key, from this IP
        assert locked.status_code == 429
        wait = int(locked.headers["retry-after"])
        assert 1 <= wait <= 60
        assert f"wait {wait} s" in locked.text
        api = await c.get(
            f"/tenants/{tenant.tenant_id}/api/signals", headers={"X-Api-Key": tenant.api_key}
        )
        assert api.status_code == 429
    async with app_client(settings, client_ip="10.1.2.3") as other:
        assert (await sign_in(other, tenant.api_key)).status_code == 303


async def test_a_successful_sign_in_clears_the_ips_failures(store_url, prefix, store):
    tenant = await new_tenant(store, prefix)
    settings = make_settings(store_url, prefix, auth_failure_limit=3)
    async with app_client(settings) as c:
        for _ in range(2):
            assert (await sign_in(c, "baas_wrong")).status_code == 401
        assert (await sign_in(c, tenant.api_key)).status_code == 303
        c.cookies.clear()
        for _ in range(2):
            assert (await sign_in(c, "")).status_code == 401
        assert (await sign_in(c, tenant.api_key)).status_code == 303


async def test_pages_are_scoped_to_the_signed_in_tenant(settings, store, prefix):
    keyspace = Keyspace(prefix)
    first = await new_tenant(store, prefix, "first")
    second = await new_tenant(store, prefix, "second")
    fast = dataclasses.replace(settings, worker_block_ms=50)
    async with app_client(fast) as c:
        sent = signal_event(first.tenant_id, Symbol="ZZTOP")
        answer = await c.post(
            f"/tenants/{first.tenant_id}/api/trading",
            json=sent,
            headers={"X-Api-Key": first.api_key},
        )
        assert answer.status_code == 202
        consumer = worker(store, keyspace, fast)
        while await consumer.step():
            pass
        signal_id = sent["data"]["Id"]
        mine = await signed_in(c, first.api_key)
        own = await c.get(f"/console/signals/{signal_id}")
        assert own.status_code == 200 and "ZZTOP" in own.text
        assert "ZZTOP" in (await c.get("/console/signals")).text
        await c.post("/console/sign-out", data={"csrf": mine})

        theirs = await signed_in(c, second.api_key)
        assert (await c.get(f"/console/signals/{signal_id}")).status_code == 404
        for path in ("/console/", "/console/signals", "/console/signals.json", "/console/keys"):
            page = await c.get(path)
            assert page.status_code == 200
            assert "ZZTOP" not in page.text and signal_id not in page.text
            assert first.key_id not in page.text
        revoke = await c.post(f"/console/keys/{first.key_id}/revoke", data={"csrf": theirs})
        assert revoke.status_code == 404
    active = await TenantRegistry(store, keyspace).list_keys(first.tenant_id)
    assert [k.revoked_at for k in active] == [None]


async def test_keys_page_creates_a_key_shown_once_and_revokes_it(settings, store, tenant, prefix):
    registry = TenantRegistry(store, Keyspace(prefix))
    async with app_client(settings) as c:
        csrf = await signed_in(c, tenant.api_key)
        created = await c.post("/console/keys", data={"csrf": csrf, "name": "desk"})
        assert created.status_code == 201
        [new] = [k for k in await registry.list_keys(tenant.tenant_id) if k.name == "desk"]
        shown = created.text.split('id="new-key">', 1)[1].split("<", 1)[0]
        assert apikeys.display_prefix(shown) == new.prefix
        # The new key works on the API, and is never shown again.
        api = await c.get(f"/tenants/{tenant.tenant_id}/api/signals", headers={"X-Api-Key": shown})
        assert api.status_code == 200
        listing = await c.get("/console/keys")
        assert shown not in listing.text and new.prefix in listing.text
        revoked = await c.post(f"/console/keys/{new.key_id}/revoke", data={"csrf": csrf})
        assert (revoked.status_code, revoked.headers["location"]) == (303, "/console/keys")
        api = await c.get(f"/tenants/{tenant.tenant_id}/api/signals", headers={"X-Api-Key": shown})
        assert api.status_code == 401


@pytest.mark.parametrize(
    ("query", "message"),
    [("status=bogus", "must be one or more of"), ("limit=0", "must be a whole number")],
)
async def test_a_bad_filter_is_shown_next_to_its_field(settings, tenant, query, message):
    async with app_client(settings) as c:
        await signed_in(c, tenant.api_key)
        answer = await c.get(f"/console/signals?{query}")
        assert answer.status_code == 400
        assert message in answer.text


async def test_the_live_updates_keep_the_pages_filters(settings, store, tenant, prefix):
    keyspace = Keyspace(prefix)
    fast = dataclasses.replace(settings, worker_block_ms=50)
    async with app_client(fast) as c:
        for symbol in ("AAA", "BBB"):
            answer = await c.post(
                f"/tenants/{tenant.tenant_id}/api/trading",
                json=signal_event(tenant.tenant_id, Symbol=symbol),
                headers={"X-Api-Key": tenant.api_key},
            )
            assert answer.status_code == 202
        consumer = worker(store, keyspace, fast)
        while await consumer.step():
            pass
        await signed_in(c, tenant.api_key)
        page = await c.get("/console/signals?symbol=BBB")
        assert 'data-live="/console/signals.json?symbol=BBB"' in page.text
        live = (await c.get("/console/signals.json?symbol=BBB")).json()["signals"]
        assert [s["symbol"] for s in live] == ["BBB"]
        assert [s["symbol"] for s in (await c.get("/console/signals.json")).json()["signals"]] == [
            "BBB",
            "AAA",
        ]
        bad = await c.get("/console/signals.json?status=bogus")
        assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "query.status"
        # An older page (a cursor) is not live: new signals belong on the first page.
        paged = await c.get("/console/signals?limit=1")
        next_link = re.search(r'href="([^"]+)" rel="next"', paged.text).group(1)
        older = await c.get(next_link.replace("&amp;", "&"))
        assert "AAA" in older.text and 'data-live=""' in older.text


async def test_without_a_store_the_console_answers_503_pages(tenant, prefix):
    nowhere = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix)
    async with app_client(nowhere) as c:
        c.cookies.set("baas_console", "some-session", domain="gateway.test", path="/console")
        answers = [
            await c.get(SIGN_IN),
            await c.post(SIGN_IN, data={"api_key": tenant.api_key}),
            await c.get("/console/"),
            await c.get("/console/signals.json"),
        ]
    for answer in answers:
        assert answer.status_code == 503
        assert "The store does not answer" in answer.text
        assert answer.headers["x-frame-options"] == "DENY"


async def test_the_paper_account_page_shows_what_the_api_answers(settings, store, prefix):
    keyspace = Keyspace(prefix)
    first = await new_tenant(store, prefix, "first")
    second = await new_tenant(store, prefix, "second")
    fast = dataclasses.replace(settings, worker_block_ms=50)
    async with app_client(fast) as c:
        headers = {"X-Api-Key": first.api_key}
        alert = {
            "id": "alert-config",
            "type": "ConfigureIndicatorAlert",
            "source": "tests",
            "data": {"AlertId": "alert-1", "BrokerId": "paper"},
        }
        trading = f"/tenants/{first.tenant_id}/api/trading"
        assert (await c.post(trading, json=alert, headers=headers)).status_code == 202
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sent = signal_event(first.tenant_id, Symbol="QQQ", Quantity=3, Price=400, Date=now)
        assert (await c.post(trading, json=sent, headers=headers)).status_code == 202
        consumer = worker(store, keyspace, fast)
        while await consumer.step():
            pass
        api = (await c.get(f"/tenants/{first.tenant_id}/api/paper/paper", headers=headers)).json()
        [position] = api["positions"]
        assert position["symbol"] == "QQQ" and position["quantity"] == 3
        mine = await signed_in(c, first.api_key)
        page = await c.get("/console/paper/paper")
        assert page.status_code == 200
        for figure in (api["cash"], api["equity"], api["commissions_paid"], position["avg_cost"]):
            assert f">{figure}<" in page.text
        assert (await c.get("/console/paper/nope")).status_code == 404
        await c.post("/console/sign-out", data={"csrf": mine})
        await signed_in(c, second.api_key)
        theirs = await c.get("/console/paper/paper")  # their own implicit paper broker
        assert theirs.status_code == 200 and "QQQ" not in theirs.text
