"""Strategies of a tenant, the default strategy, the log's events, and rebuilding the ledger's
projections from the log (rebuilt == live)."""

from __future__ import annotations

import asyncio
import uuid

import orjson

from baas.core.keyspace import Keyspace
from baas.store.ledger import LedgerStore, default_strategy_id
from baas.store.ledger_rebuild import rebuild_ledger
from tests.support.store import new_tenant

from .support import Desk, create_strategy, open_strategy


async def ledger_keys(store, keyspace: Keyspace, tenant_id: str, strategy_ids) -> dict:
    """Every ledger projection of the tenant, as stored."""
    snapshot = {
        "strategies": await store.hgetall(keyspace.strategies(tenant_id)),
        "default": await store.get(keyspace.default_strategy(tenant_id)),
        "index": {
            sid: await store.hget(keyspace.strategy_index, sid) for sid in sorted(strategy_ids)
        },
    }
    for sid in sorted(strategy_ids):
        snapshot[sid] = {
            "state": await store.hgetall(keyspace.ledger_state(tenant_id, sid)),
            "history": await store.lrange(keyspace.ledger_history(tenant_id, sid), 0, -1),
            "order_ids": await store.hgetall(keyspace.ledger_order_ids(tenant_id, sid)),
            "cash_ids": await store.hgetall(keyspace.ledger_cash_ids(tenant_id, sid)),
            "reconciliation": await store.lrange(
                keyspace.ledger_reconciliation(tenant_id, sid), 0, -1
            ),
        }
    return snapshot


async def test_strategies_over_http(lclient, tenant, store, prefix):
    created = await create_strategy(lclient, tenant, "momentum", base_currency="eur")
    assert uuid.UUID(created["id"]).version == 4
    assert {k: created[k] for k in ("tenant_id", "name", "base_currency", "is_default")} == {
        "tenant_id": tenant.tenant_id,
        "name": "momentum",
        "base_currency": "EUR",
        "is_default": False,
    }
    listed = await lclient.get(
        f"/tenants/{tenant.tenant_id}/api/strategies", headers={"X-Api-Key": tenant.api_key}
    )
    assert listed.json() == {"strategies": [created]}
    url = f"/tenants/{tenant.tenant_id}/api/strategies"
    headers = {"X-Api-Key": tenant.api_key}
    bad = await lclient.post(url, json={"base_currency": "dollars"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"path": "name", "message": "is required: a non-empty string"},
        {"path": "base_currency", "message": "must be a 3-letter ISO 4217 code, e.g. USD"},
    ]
    assert (await lclient.post(url, content=b"{", headers=headers)).status_code == 400
    assert (await lclient.post(url, json={"name": "x"})).status_code == 401
    stranger = await new_tenant(store, prefix, "stranger")
    other = await lclient.post(url, json={"name": "x"}, headers={"X-Api-Key": stranger.api_key})
    assert other.status_code == 403 and set(other.json()) == {"detail", "errors"}
    entries = await store.xrange(Keyspace(prefix).tenant_log(tenant.tenant_id))
    (event,) = [orjson.loads(f[b"event"]) for _, f in entries]
    assert (event["type"], event["source"], event["subject"]) == (
        "StrategyCreated",
        "ledger",
        created["id"],
    )


async def test_the_default_strategy_is_made_once(tenant, store, prefix):
    keyspace = Keyspace(prefix)
    ids = await asyncio.gather(
        *(default_strategy_id(store, keyspace, tenant.tenant_id) for _ in range(10))
    )
    assert len(set(ids)) == 1
    ledger = LedgerStore(store, keyspace)
    (strategy,) = await ledger.list_strategies(tenant.tenant_id)
    assert (strategy.strategy_id, strategy.name, strategy.is_default) == (ids[0], "default", True)
    assert await ledger.strategy_tenant(ids[0]) == tenant.tenant_id
    assert await default_strategy_id(store, keyspace, tenant.tenant_id) == ids[0]


async def test_rebuild_equals_live(desk: Desk, store, prefix):
    keyspace = Keyspace(prefix)
    tenant_id = desk.tenant.tenant_id
    await desk.import_prices([{"symbol": "AAPL", "date": "2024-01-02", "close": 185.64}])
    other_id, other_key = await desk.new_strategy("second")
    default_id = await default_strategy_id(store, keyspace, tenant_id)
    await desk.cash(event_type="deposit", amount=50000, occurred_at="2024-01-01T00:00:00Z")
    await desk.orders(
        {
            "symbol": "AAPL",
            "side": "buy",
            "quantity": 10,
            "executed_at": "2024-01-02T15:00:00Z",
            "external_order_id": "a",
        },
        {
            "symbol": "MSFT",
            "side": "sell",
            "quantity": 5,
            "price": 370.1,
            "fees": 1,
            "executed_at": "2024-01-03T15:00:00Z",
            "external_order_id": "b",
        },
        {
            "symbol": "MSFT",
            "side": "buy",
            "quantity": 7,
            "price": 371.3,
            "executed_at": "2024-01-04T15:00:00Z",
            "details": {"why": "crossing"},
        },
    )
    await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1, "external_order_id": "a"}
    )  # duplicate
    await desk.orders(
        {
            "symbol": "AAPL",
            "side": "sell",
            "quantity": 4,
            "price": 190,
            "executed_at": "2024-01-02T16:00:00Z",
        }
    )  # backfill
    await desk.cash(event_type="dividend", amount=2.4, related_symbol="AAPL", external_id="div")
    await desk.cash(event_type="dividend", amount=2.4, external_id="div")  # duplicate
    await desk.post(
        "positions/snapshot",
        {
            "positions": [
                {"symbol": "AAPL", "quantity": 6, "cost_basis": 185.64},
                {"symbol": "IBM", "quantity": 3, "cost_basis": 160},
            ],
            "log_deltas": True,
        },
    )
    await desk.orders(
        {"symbol": "IBM", "side": "sell", "quantity": 3, "price": 161, "status": "partial"}
    )
    await desk.client.post(
        desk.url("orders", other_id),
        json={"orders": [{"symbol": "IBM", "side": "buy", "quantity": 2, "price": 150.25}]},
        headers=desk.bearer(other_key),
    )
    ids = [desk.strategy_id, other_id, default_id]
    live = await ledger_keys(store, keyspace, tenant_id, ids)
    live_state = await desk.state()
    assert live[desk.strategy_id]["reconciliation"]

    read = await rebuild_ledger(store, keyspace, tenant_id)
    assert read == len(live[desk.strategy_id]["history"]) + len(live[other_id]["history"])
    assert await ledger_keys(store, keyspace, tenant_id, ids) == live

    # From nothing: the projections gone, the log folds them again.
    for sid in ids:
        await store.delete(
            keyspace.ledger_state(tenant_id, sid),
            keyspace.ledger_history(tenant_id, sid),
            keyspace.ledger_order_ids(tenant_id, sid),
            keyspace.ledger_cash_ids(tenant_id, sid),
            keyspace.ledger_reconciliation(tenant_id, sid),
        )
    await store.delete(keyspace.strategies(tenant_id), keyspace.default_strategy(tenant_id))
    await store.hdel(keyspace.strategy_index, *ids)
    await rebuild_ledger(store, keyspace, tenant_id)
    assert await ledger_keys(store, keyspace, tenant_id, ids) == live
    rebuilt_state = await desk.state()
    assert {k: v for k, v in rebuilt_state.items() if k != "nav"} == {
        k: v for k, v in live_state.items() if k != "nav"
    }
    # Writes go on after a rebuild, idempotency records included.
    again = await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1, "external_order_id": "b"}
    )
    assert again.json()["counts"] == {"accepted": 0, "duplicates": 1}


async def test_the_log_holds_every_write_with_its_key(desk: Desk, store, prefix):
    await desk.orders({"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 10})
    await desk.cash(event_type="deposit", amount=5)
    await desk.post("positions/snapshot", {"positions": []})
    entries = await store.xrange(Keyspace(prefix).tenant_log(desk.tenant.tenant_id))
    documents = [(orjson.loads(f[b"event"]), f) for _, f in entries]
    assert [d["type"] for d, _ in documents] == [
        "StrategyCreated",
        "LedgerOrderRecorded",
        "CashRecorded",
        "PositionsSnapshotted",
    ]
    keys = await LedgerStore(store, Keyspace(prefix)).list_keys(
        desk.tenant.tenant_id, desk.strategy_id
    )
    for document, fields in documents[1:]:
        assert document["source"] == "ledger" and document["subject"] == desk.strategy_id
        assert document["tenantid"] == desk.tenant.tenant_id
        assert fields[b"key_id"].decode() == keys[0].key_id
        assert fields[b"ip"] == b"127.0.0.1"


async def test_a_strategy_of_another_tenant_is_not_listed(lclient, tenant, store, prefix):
    stranger = await new_tenant(store, prefix, "stranger")
    await open_strategy(lclient, stranger, "theirs")
    listed = await lclient.get(
        f"/tenants/{tenant.tenant_id}/api/strategies", headers={"X-Api-Key": tenant.api_key}
    )
    assert listed.json() == {"strategies": []}
