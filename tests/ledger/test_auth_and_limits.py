"""Who may call the ledger: Bearer keys of a strategy for /api/v1, the tenant's X-Api-Key for
strategies and keys; errors as {"detail"} only; the per-key rate limit."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from baas.core import apikeys
from baas.core.keyspace import Keyspace
from baas.core.ledger import Order
from baas.core.ledger.errors import LedgerKeyRevoked
from baas.core.ledger.writes import OrderInput
from baas.store.ledger import LedgerStore
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

from .support import Desk, create_key, open_strategy

V1_CALLS = [
    ("post", "orders", {"orders": [{"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1}]}),
    ("post", "cash", {"event_type": "deposit", "amount": 10}),
    ("post", "positions/snapshot", {"positions": []}),
    ("get", "state", None),
    ("get", "performance", None),
    ("get", "nav", None),
]


async def call(desk: Desk, method: str, tail: str, body, headers, strategy_id=None):
    url = desk.url(tail, strategy_id)
    if method == "get":
        return await desk.client.get(url, headers=headers)
    return await desk.client.post(url, json=body, headers=headers)


@pytest.mark.parametrize(("method", "tail", "body"), V1_CALLS)
async def test_the_auth_matrix(desk, method, tail, body):
    other_id, other_key = await desk.new_strategy()
    cases = [
        ({}, 401, "Missing Authorization header: send Authorization: Bearer fq_live_…"),
        ({"Authorization": "Basic abc"}, 401, "Invalid Authorization header"),
        ({"Authorization": "Bearer "}, 401, "Invalid Authorization header"),
        ({"Authorization": "Bearer fq_live_" + "x" * 43}, 401, "Invalid or revoked API key."),
        ({"X-Api-Key": desk.tenant.api_key}, 401, "Missing Authorization header"),
        (desk.bearer(other_key), 403, "This API key does not grant access to strategy"),
    ]
    for headers, status, detail in cases:
        answer = await call(desk, method, tail, body, headers)
        assert answer.status_code == status, (headers, answer.text)
        assert answer.headers["content-type"].startswith("application/json")
        assert list(answer.json()) == ["detail"]
        assert answer.json()["detail"].startswith(detail)
    # Unknown strategy: 404 (with a valid key of some strategy).
    answer = await call(
        desk, method, tail, body, desk.bearer(), "00000000-0000-4000-8000-000000000000"
    )
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": "Strategy 00000000-0000-4000-8000-000000000000 not found."},
    )
    # Lower-case scheme and the right key: passes.
    answer = await call(desk, method, tail, body, {"authorization": f"bearer {desk.key}"})
    assert answer.status_code in (200, 201), answer.text
    answer = await call(desk, method, tail, body, desk.bearer(other_key), other_id)
    assert answer.status_code in (200, 201), answer.text


async def test_a_revoked_key_gets_401_at_once_and_revoke_is_idempotent(desk):
    second = await create_key(desk.client, desk.tenant, desk.strategy_id, "second")
    assert (await desk.get("state", key=second["plaintext"])).status_code == 200
    url = f"/strategies/{desk.strategy_id}/api-keys/{second['id']}/revoke"
    first = await desk.client.post(url, headers=desk.tenant_headers)
    again = await desk.client.post(url, headers=desk.tenant_headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["revoked_at"] is not None
    for method, tail, body in V1_CALLS:
        answer = await call(desk, method, tail, body, desk.bearer(second["plaintext"]))
        assert (answer.status_code, answer.json()) == (
            401,
            {"detail": "Invalid or revoked API key."},
        )
    # The other key of the strategy is untouched.
    assert (await desk.get("state")).status_code == 200
    listed = (
        await desk.client.get(
            f"/strategies/{desk.strategy_id}/api-keys", headers=desk.tenant_headers
        )
    ).json()
    by_id = {k["id"]: k for k in listed}
    assert by_id[second["id"]]["revoked_at"] == first.json()["revoked_at"]
    assert all(k["revoked_at"] is None for k in listed if k["id"] != second["id"])
    missing = await desk.client.post(
        f"/strategies/{desk.strategy_id}/api-keys/nope/revoke", headers=desk.tenant_headers
    )
    assert missing.status_code == 404 and list(missing.json()) == ["detail"]


async def test_revoked_between_check_and_write_is_refused_atomically(desk, store, prefix):
    """The commit re-checks the key: a key revoked after the gate is refused, nothing written."""
    ledger = LedgerStore(store, Keyspace(prefix))
    keys = await ledger.list_keys(desk.tenant.tenant_id, desk.strategy_id)
    await ledger.revoke_key(desk.tenant.tenant_id, desk.strategy_id, keys[0].key_id)
    order = Order("AAPL", "buy", Decimal(1), Decimal(10), datetime.now(UTC))

    async def no_prices(_):
        return {}

    with pytest.raises(LedgerKeyRevoked):
        await ledger.record_orders(
            desk.tenant.tenant_id,
            desk.strategy_id,
            [OrderInput(order)],
            no_prices,
            key_id=keys[0].key_id,
        )
    assert await ledger.history(desk.tenant.tenant_id, desk.strategy_id) == []


async def test_key_endpoints_take_the_tenant_s_x_api_key(desk, store, prefix):
    stranger = await new_tenant(store, prefix, "stranger")
    base = f"/strategies/{desk.strategy_id}/api-keys"
    cases = [
        ({}, 401, "Missing X-Api-Key header"),
        ({"X-Api-Key": "baas_nope"}, 401, "Invalid or revoked API key."),
        ({"Authorization": f"Bearer {desk.key}"}, 401, "Missing X-Api-Key header"),
        ({"X-Api-Key": stranger.api_key}, 403, "This API key does not grant access"),
    ]
    for headers, status, detail in cases:
        for answer in (
            await desk.client.post(base, json={"name": "x"}, headers=headers),
            await desk.client.get(base, headers=headers),
            await desk.client.post(f"{base}/k/revoke", headers=headers),
        ):
            assert answer.status_code == status, answer.text
            assert list(answer.json()) == ["detail"]
            assert answer.json()["detail"].startswith(detail)
    unknown = await desk.client.get(
        "/strategies/00000000-0000-4000-8000-000000000000/api-keys", headers=desk.tenant_headers
    )
    assert unknown.status_code == 404 and list(unknown.json()) == ["detail"]
    # No body at all is fine (a key without a name); a bad name is a 422.
    bare = await desk.client.post(base, headers=desk.tenant_headers)
    assert bare.status_code == 201 and bare.json()["name"] == ""
    bad = await desk.client.post(base, json={"name": 5}, headers=desk.tenant_headers)
    assert (bad.status_code, bad.json()) == (
        422,
        {
            "detail": "Validation failed: name: must be a string",
            "errors": [{"path": "name", "message": "must be a string"}],
        },
    )
    broken = await desk.client.post(base, content=b"{", headers=desk.tenant_headers)
    assert broken.status_code == 400 and broken.json()["errors"][0]["path"] == "body"


async def test_keys_are_stored_only_as_digests(desk, store, prefix):
    key = await create_key(desk.client, desk.tenant, desk.strategy_id, "secret")
    plaintext = key["plaintext"]
    assert plaintext.startswith("fq_live_") and len(plaintext) == len("fq_live_") + 43
    assert key["key_prefix"] == plaintext[:10]
    found = []
    async for name in store.scan_iter(match=f"{prefix}:*"):
        kind = (await store.type(name)).decode()
        if kind == "hash":
            values = [*(await store.hgetall(name)).items()]
            blob = b"".join(k + v for k, v in values)
        elif kind == "string":
            blob = await store.get(name)
        elif kind == "list":
            blob = b"".join(await store.lrange(name, 0, -1))
        elif kind == "stream":
            blob = b"".join(
                b"".join(k + v for k, v in f.items()) for _, f in await store.xrange(name)
            )
        else:
            continue
        if plaintext.encode() in blob:
            found.append(name)
    assert found == []
    index = await store.hget(Keyspace(prefix).ledger_key_index, apikeys.digest(plaintext))
    assert index is not None
    listed = await desk.client.get(
        f"/strategies/{desk.strategy_id}/api-keys", headers=desk.tenant_headers
    )
    assert plaintext not in listed.text and apikeys.digest(plaintext) not in listed.text
    assert set(listed.json()[0]) == {"id", "name", "key_prefix", "created_at", "revoked_at"}


async def test_401s_count_towards_the_ip_block(store_url, prefix, store):
    settings = make_settings(store_url, prefix, auth_failure_limit=3)
    tenant = await new_tenant(store, prefix)
    async with app_client(settings, client_ip="10.9.8.7") as client:
        strategy_id, key = await open_strategy(client, tenant)
        url = f"/api/v1/strategies/{strategy_id}/state"
        for _ in range(3):
            bad = await client.get(url, headers={"Authorization": "Bearer fq_live_wrong"})
            assert bad.status_code == 401
        blocked = await client.get(url, headers={"Authorization": f"Bearer {key}"})
    assert blocked.status_code == 429
    assert list(blocked.json()) == ["detail"]
    assert blocked.json()["detail"].startswith("Too many failed authentications")
    assert int(blocked.headers["retry-after"]) >= 1


async def test_rate_limit_60_per_60s_per_key_and_keys_are_independent(settings, tenant):
    assert (settings.ledger_key_limit, settings.ledger_key_window_seconds) == (60, 60.0)
    async with app_client(settings) as client:
        strategy_id, key = await open_strategy(client, tenant)
        second = (await create_key(client, tenant, strategy_id, "second"))["plaintext"]
        url = f"/api/v1/strategies/{strategy_id}/state"
        answers = await asyncio.gather(
            *(client.get(url, headers={"Authorization": f"Bearer {key}"}) for _ in range(60))
        )
        assert {a.status_code for a in answers} == {200}
        over = await client.get(url, headers={"Authorization": f"Bearer {key}"})
        other = await client.get(url, headers={"Authorization": f"Bearer {second}"})
    assert over.status_code == 429
    assert over.json() == {"detail": "Rate limit exceeded: 60 requests per 60s"}
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert other.status_code == 200


async def test_rate_limit_at_a_lowered_window_slides(store_url, prefix, tenant):
    # A window long enough that a loaded machine still sends the six requests inside it.
    settings = make_settings(store_url, prefix, ledger_key_limit=5, ledger_key_window_seconds=4.5)
    async with app_client(settings) as client:
        strategy_id, key = await open_strategy(client, tenant)
        headers = {"Authorization": f"Bearer {key}"}
        url = f"/api/v1/strategies/{strategy_id}/orders"
        body = {"orders": [{"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 10}]}
        started = time.monotonic()
        statuses = [
            (await client.post(url, json=body, headers=headers)).status_code for _ in range(5)
        ]
        over = await client.post(url, json=body, headers=headers)
        assert statuses == [201] * 5
        assert over.status_code == 429
        assert over.json() == {"detail": "Rate limit exceeded: 5 requests per 4.5s"}
        assert 1 <= int(over.headers["retry-after"]) <= 5
        # A refused request does not use up the window; once it slides, requests pass again.
        await asyncio.sleep(max(0.0, started + 4.6 - time.monotonic()))
        again = await client.post(url, json=body, headers=headers)
        assert again.status_code == 201
        state = await client.get(f"/api/v1/strategies/{strategy_id}/state", headers=headers)
    # The 429 wrote nothing: 6 orders of 1 share.
    assert state.json()["positions"][0]["quantity"] == 6


async def test_a_credential_header_sent_twice_is_400(desk):
    """A reader of the first and a writer of the last would disagree on which key is meant."""
    _, other_key = await desk.new_strategy()
    twice = [("Authorization", f"Bearer {other_key}"), ("Authorization", f"Bearer {desk.key}")]
    keys = [("X-Api-Key", "baas_wrong"), ("X-Api-Key", desk.tenant.api_key)]
    for answer, header in (
        (await desk.client.get(desk.url("state"), headers=twice), "Authorization"),
        (await desk.client.post(desk.url("cash"), json={}, headers=twice), "Authorization"),
        (
            await desk.client.get(f"/strategies/{desk.strategy_id}/api-keys", headers=keys),
            "X-Api-Key",
        ),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.json()["errors"] == [
            {"path": f"headers.{header}", "message": "sent more than once"}
        ]
