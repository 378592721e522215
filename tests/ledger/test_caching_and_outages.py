"""What GET …/performance and …/nav answer follows every write and every price import at once
(the per-process NAV cache is checked against the store on each read); a store outage is a 503
in the ledger's shape."""

from __future__ import annotations

from baas.core.keyspace import Keyspace
from baas.store.ledger_rebuild import rebuild_ledger
from tests.support.gateway import app_client, free_port
from tests.support.store import make_settings


async def test_nav_follows_writes_and_price_imports(desk, store, prefix):
    await desk.import_prices(
        [
            {"symbol": "AAPL", "date": "2024-01-02", "close": 100},
            {"symbol": "AAPL", "date": "2024-01-03", "close": 110},
        ]
    )
    await desk.cash(event_type="deposit", amount=1000, occurred_at="2024-01-02T10:00:00Z")
    await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 5, "executed_at": "2024-01-02T15:00:00Z"}
    )

    async def equities():
        nav = (await desk.get("nav", benchmark="")).json()["nav"]
        return [(p["date"], p["total_equity"]) for p in nav]

    assert await equities() == [("2024-01-02", 1000), ("2024-01-03", 1050)]
    assert await equities() == [("2024-01-02", 1000), ("2024-01-03", 1050)]  # cached
    await desk.import_prices([{"symbol": "AAPL", "date": "2024-01-04", "close": 90}])
    assert await equities() == [("2024-01-02", 1000), ("2024-01-03", 1050), ("2024-01-04", 950)]
    await desk.cash(event_type="dividend", amount=4, occurred_at="2024-01-04T12:00:00Z")
    assert (await equities())[-1] == ("2024-01-04", 954)
    before = (await desk.get("performance", benchmark="")).json()["total_return"]
    await desk.import_prices([{"symbol": "AAPL", "date": "2024-01-03", "close": 120}])  # a fix
    assert (await equities())[1] == ("2024-01-03", 1100)
    assert (await desk.get("performance", benchmark="")).json()["total_return"] == before
    # A backfilled order rewrites the past; a rebuild rewrites the history list.
    await desk.orders(
        {"symbol": "AAPL", "side": "sell", "quantity": 5, "executed_at": "2024-01-03T15:00:00Z"}
    )
    # Sold at 120 on the 3rd: flat from then on, so no later session (the core's session rule).
    assert await equities() == [("2024-01-02", 1000), ("2024-01-03", 1100)]
    await rebuild_ledger(store, Keyspace(prefix), desk.tenant.tenant_id)
    assert await equities() == [("2024-01-02", 1000), ("2024-01-03", 1100)]
    with_bench = (await desk.get("nav", benchmark="AAPL")).json()["nav"]
    assert [(p["date"], p["total_equity"]) for p in with_bench][-1] == ("2024-01-04", 1104)


async def test_a_store_outage_is_a_503_with_retry_after(store_url, prefix):
    dead = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix, store_timeout_seconds=0.5)
    async with app_client(dead) as client:
        for method, url in (
            ("GET", "/api/v1/strategies/s/state"),
            ("POST", "/api/v1/strategies/s/orders"),
            ("GET", "/strategies/s/api-keys"),
        ):
            answer = await client.request(
                method, url, headers={"Authorization": "Bearer fq_live_x", "X-Api-Key": "k"}
            )
            assert answer.status_code == 503
            assert list(answer.json()) == ["detail"]
            assert answer.headers["retry-after"] == str(dead.unavailable_retry_after_seconds)
