"""The spec's three limits at their edges, sliding, and shared between gateway instances.

Windows are shortened by settings (the limits keep their default counts) so that sliding can be
seen within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from baas.store.ratelimits import unique_member
from tests.support.events import signal_event
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

TOO_MANY = "Too Many Requests: rate limit exceeded. Wait the number of seconds in Retry-After."


def trading(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/api/trading"


async def write_signal(client, creds, api_key: str | None = None):
    """POST a fresh SubmitSignal for ``creds``' tenant, with its key unless another is given."""
    return await client.post(
        trading(creds.tenant_id),
        json=signal_event(creds.tenant_id),
        headers={"X-Api-Key": api_key or creds.api_key},
    )


def assert_limited(response, max_retry_after: int) -> int:
    assert response.status_code == 429
    assert response.json() == {"detail": TOO_MANY, "errors": []}
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= max_retry_after
    return retry_after


async def test_per_ip_limit_120th_passes_121st_is_429(store_url, prefix):
    settings = make_settings(store_url, prefix, ip_limit=120, ip_window_seconds=60)
    async with app_client(settings) as c:
        answers = await asyncio.gather(*(c.get("/schemas") for _ in range(120)))
        assert [r.status_code for r in answers] == [200] * 120
        assert_limited(await c.get("/schemas"), 60)
    # Another IP is not affected.
    async with app_client(settings, client_ip="10.9.8.7") as other:
        assert (await other.get("/schemas")).status_code == 200


async def test_per_ip_window_slides(store_url, prefix):
    window = 4.0
    settings = make_settings(store_url, prefix, ip_limit=4, ip_window_seconds=window)
    async with app_client(settings) as c:
        started = time.monotonic()
        assert (await c.get("/schemas")).status_code == 200  # t=0
        await asyncio.sleep(window / 2)
        for _ in range(3):  # t≈2
            assert (await c.get("/schemas")).status_code == 200
        assert_limited(await c.get("/schemas"), 4)
        # A fixed window would reset everything at t=4; a sliding one frees exactly the first slot.
        await asyncio.sleep(max(0.0, started + window + 0.2 - time.monotonic()))  # t≈4.2
        assert (await c.get("/schemas")).status_code == 200
        assert_limited(await c.get("/schemas"), 2)


async def test_per_tenant_write_limit(store_url, prefix, store):
    settings = make_settings(
        store_url, prefix, tenant_write_limit=120, tenant_write_window_seconds=60
    )
    creds = await new_tenant(store, prefix)
    headers = {"X-Api-Key": creds.api_key}
    async with app_client(settings) as c:
        answers = await asyncio.gather(
            *(
                c.post(
                    trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
                )
                for _ in range(120)
            )
        )
        assert [r.status_code for r in answers] == [202] * 120
        assert_limited(
            await c.post(
                trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
            ),
            60,
        )
        # Reads are not writes.
        assert (
            await c.get(f"/tenants/{creds.tenant_id}/api/trading/schemas", headers=headers)
        ).status_code == 200
    # Another tenant, from the same IP, still writes.
    other = await new_tenant(store, prefix, "other")
    async with app_client(settings) as c:
        r = await c.post(
            trading(other.tenant_id),
            json=signal_event(other.tenant_id),
            headers={"X-Api-Key": other.api_key},
        )
        assert r.status_code == 202


async def test_invalid_writes_count_against_the_tenant(store_url, prefix, store):
    settings = make_settings(store_url, prefix, tenant_write_limit=3)
    creds = await new_tenant(store, prefix)
    headers = {"X-Api-Key": creds.api_key}
    async with app_client(settings) as c:
        for _ in range(3):
            bad = await c.post(trading(creds.tenant_id), json={"id": "x"}, headers=headers)
            assert bad.status_code == 400
        assert_limited(
            await c.post(
                trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
            ),
            60,
        )


async def test_ten_auth_failures_block_even_a_valid_key(store_url, prefix, store):
    window = 3.0
    settings = make_settings(
        store_url, prefix, auth_failure_limit=10, auth_failure_window_seconds=window
    )
    creds = await new_tenant(store, prefix)
    url = f"/tenants/{creds.tenant_id}/api/trading/schemas"
    async with app_client(settings) as c:
        started = time.monotonic()
        for _ in range(10):
            assert (await c.get(url, headers={"X-Api-Key": "baas_wrong"})).status_code == 401
        blocked = await c.get(url, headers={"X-Api-Key": creds.api_key})
        retry_after = assert_limited(blocked, 3)
        # Blocked for the rest of the window that began with the first failure, not longer.
        await asyncio.sleep(max(0.0, window - (time.monotonic() - started)) + 0.2)
        assert retry_after <= window
        assert (await c.get(url, headers={"X-Api-Key": creds.api_key})).status_code == 200


async def test_a_success_resets_the_failure_count(store_url, prefix, store):
    settings = make_settings(
        store_url, prefix, auth_failure_limit=10, auth_failure_window_seconds=60
    )
    creds = await new_tenant(store, prefix)
    url = f"/tenants/{creds.tenant_id}/api/trading/schemas"
    async with app_client(settings) as c:
        for _ in range(9):
            assert (await c.get(url, headers={"X-Api-Key": "baas_wrong"})).status_code == 401
        assert (await c.get(url, headers={"X-Api-Key": creds.api_key})).status_code == 200
        for _ in range(9):
            assert (await c.get(url, headers={"X-Api-Key": "baas_wrong"})).status_code == 401
        assert (await c.get(url, headers={"X-Api-Key": creds.api_key})).status_code == 200


async def test_two_gateways_share_the_limits(store_url, prefix, store):
    settings = make_settings(
        store_url, prefix, ip_limit=10, tenant_write_limit=6, auth_failure_limit=4
    )
    creds = await new_tenant(store, prefix)
    headers = {"X-Api-Key": creds.api_key}
    async with app_client(settings) as a, app_client(settings) as b:
        for i in range(6):
            gateway = a if i % 2 else b
            r = await gateway.post(
                trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
            )
            assert r.status_code == 202
        assert_limited(
            await a.post(
                trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
            ),
            60,
        )
        assert_limited(
            await b.post(
                trading(creds.tenant_id), json=signal_event(creds.tenant_id), headers=headers
            ),
            60,
        )
        # 8 requests from this IP so far (the two 429s did not count): two more pass, across both.
        assert (await a.get("/schemas")).status_code == 200
        assert (await b.get("/schemas")).status_code == 200
        assert_limited(await a.get("/schemas"), 60)
        assert_limited(await b.get("/schemas"), 60)


async def test_auth_failures_are_shared_between_gateways(store_url, prefix, store):
    settings = make_settings(store_url, prefix, auth_failure_limit=4)
    creds = await new_tenant(store, prefix)
    url = f"/tenants/{creds.tenant_id}/api/trading/schemas"
    async with app_client(settings) as a, app_client(settings) as b:
        for i in range(4):
            assert (
                await (a if i % 2 else b).get(url, headers={"X-Api-Key": "nope"})
            ).status_code == 401
        assert_limited(await a.get(url, headers={"X-Api-Key": creds.api_key}), 60)
        assert_limited(await b.get(url, headers={"X-Api-Key": creds.api_key}), 60)


@pytest.mark.parametrize("forwarded", ["203.0.113.9", "198.51.100.1, 203.0.113.9"])
async def test_forwarded_for_is_believed_only_from_trusted_proxies(store_url, prefix, forwarded):
    settings = make_settings(store_url, prefix, ip_limit=1, trusted_proxies="127.0.0.1/32")
    async with app_client(settings) as c:
        assert (await c.get("/schemas", headers={"X-Forwarded-For": forwarded})).status_code == 200
        assert_limited(await c.get("/schemas", headers={"X-Forwarded-For": forwarded}), 60)
        # A different client behind the same proxy has its own budget.
        assert (
            await c.get("/schemas", headers={"X-Forwarded-For": "192.0.2.77"})
        ).status_code == 200
    untrusting = make_settings(store_url, prefix + "-u", ip_limit=1)
    async with app_client(untrusting) as c:
        assert (
            await c.get("/schemas", headers={"X-Forwarded-For": "192.0.2.1"})
        ).status_code == 200
        # The header is ignored: both requests are the peer's.
        assert_limited(await c.get("/schemas", headers={"X-Forwarded-For": "192.0.2.2"}), 60)


async def test_a_forwarded_for_that_is_not_an_ip_is_not_an_identity(store_url, prefix):
    """Behind a trusted proxy, a made-up X-Forwarded-For would be a fresh budget per request:
    only an IP address counts, anything else is the proxy's (the peer's) own request."""
    settings = make_settings(store_url, prefix, ip_limit=2, trusted_proxies="127.0.0.1/32")
    async with app_client(settings) as c:
        for forwarded in ("not-an-ip", "203.0.113.9:4444"):
            response = await c.get("/schemas", headers={"X-Forwarded-For": forwarded})
            assert response.status_code == 200
        assert_limited(await c.get("/schemas", headers={"X-Forwarded-For": "x, 127.0.0.1"}), 60)
        assert_limited(await c.get("/schemas"), 60)  # the peer's budget is spent
        assert (
            await c.get("/schemas", headers={"X-Forwarded-For": "2001:DB8::1"})
        ).status_code == 200


# The write path checks the IP's limits, the key and the tenant's limit in its one store call
# (baas_submit): the same limits at the same edges as the other routes.


async def test_writes_count_against_the_ip_limit(store_url, prefix, store):
    settings = make_settings(store_url, prefix, ip_limit=3, ip_window_seconds=60)
    creds = await new_tenant(store, prefix)
    async with app_client(settings) as c:
        for _ in range(3):
            assert (await write_signal(c, creds)).status_code == 202
        assert_limited(await write_signal(c, creds), 60)
        assert 'baas_rate_limited_total{limiter="ip"} 1.0' in (await c.get("/metrics")).text


@contextlib.asynccontextmanager
async def failure_limited(store_url, prefix, store):
    """A client of a gateway that blocks an IP after 10 auth failures in 60 s, and a tenant."""
    settings = make_settings(
        store_url, prefix, auth_failure_limit=10, auth_failure_window_seconds=60
    )
    creds = await new_tenant(store, prefix)
    async with app_client(settings) as client:
        yield client, creds


async def test_ten_bad_keys_on_the_write_path_block_even_a_valid_key(store_url, prefix, store):
    async with failure_limited(store_url, prefix, store) as (c, creds):
        for _ in range(10):
            assert (await write_signal(c, creds, "baas_x")).status_code == 401
        assert_limited(await write_signal(c, creds), 60)
        metrics = (await c.get("/metrics")).text
        assert 'baas_rate_limited_total{limiter="auth_failure"} 1.0' in metrics


async def test_a_write_resets_the_failure_count(store_url, prefix, store):
    async with failure_limited(store_url, prefix, store) as (c, creds):
        for _ in range(2):
            for _ in range(9):
                assert (await write_signal(c, creds, "baas_x")).status_code == 401
            assert (await write_signal(c, creds)).status_code == 202


async def test_a_bad_key_with_a_bad_body_is_401_not_422(store_url, prefix, store):
    settings = make_settings(store_url, prefix)
    creds = await new_tenant(store, prefix)
    async with app_client(settings) as c:
        r = await c.post(
            trading(creds.tenant_id), json={"nonsense": 1}, headers={"X-Api-Key": "baas_x"}
        )
        assert r.status_code == 401
        r = await c.post(trading(creds.tenant_id), content=b"{", headers={})
        assert r.status_code == 401
        assert r.json()["detail"] == "Missing X-Api-Key header."


async def test_windows_stay_small_whatever_the_limit(store_url, prefix, store):
    """Far from its limit a window skips the trim, but trims whenever its count reaches a
    multiple of 64: a lifted limit does not let it grow without bound."""
    key = f"{prefix}:{{t:x}}:rl:test"

    async def write(times: int) -> None:
        for _ in range(times):
            member = unique_member()
            assert await store.fcall("baas_tenant_write", 1, key, 1_000_000, 2000, member) == 0

    await write(50)  # these leave the 2 s window before the end
    await asyncio.sleep(1.0)
    for _ in range(8):  # writes keep the key alive meanwhile
        await write(1)
        await asyncio.sleep(0.15)
    await write(6)
    assert await store.zcard(key) == 64  # far from the limit: not trimmed yet
    await write(1)  # at 64 the window is trimmed before it counts
    assert await store.zcard(key) == 15
