"""Closes a tenant imports through its API are its own; the operator's (the CLI's) are shared; a
tenant's own close wins, for that tenant, over the shared close of the same date (#12.15)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from baas.core.keyspace import Keyspace
from baas.store.ledger_prices import PriceStore
from tests.support.store import new_tenant

from .support import Desk, open_strategy

BUY = {"symbol": "AAPL", "side": "buy", "quantity": 10, "executed_at": "2024-01-02T15:00:00Z"}


async def test_a_tenant_s_closes_move_only_its_own_values(desk: Desk, store, prefix):
    await PriceStore(store, Keyspace(prefix)).put("AAPL", {date(2024, 1, 2): Decimal(100)})
    other = await new_tenant(store, prefix, "other")
    other_id, other_key = await open_strategy(desk.client, other)
    other_desk = Desk(desk.client, other, other_id, other_key)
    for d in (desk, other_desk):  # priced from the shared close
        assert (await d.orders(BUY)).status_code == 201
        assert (await d.state())["nav"]["market_value"] == 1000

    await desk.import_prices([{"symbol": "AAPL", "date": "2024-01-03", "close": 0.001}])
    assert (await desk.state())["nav"]["market_value"] == 0.01
    assert (await other_desk.state())["nav"]["market_value"] == 1000
    nav = (await other_desk.get("nav", benchmark="")).json()["nav"]
    assert [(p["date"], p["market_value"]) for p in nav] == [("2024-01-02", 1000)]

    # The tenant's own close of a date the shared store has wins for it, and only for it.
    await desk.import_prices([{"symbol": "AAPL", "date": "2024-01-02", "close": 50}])
    for d, expected in ((desk, {"2024-01-02": 50, "2024-01-03": 0.001}), (other_desk, None)):
        answer = await d.client.get(
            f"/tenants/{d.tenant.tenant_id}/api/prices/AAPL", headers=d.tenant_headers
        )
        assert answer.json()["closes"] == (expected or {"2024-01-02": 100})
    price_less = {k: v for k, v in BUY.items()}
    assert (await desk.orders(price_less)).json()["accepted"][0]["price"] == 50
    assert (await other_desk.orders(price_less)).json()["accepted"][0]["price"] == 100

    # Every key the tenant's imports wrote is under its hash tag.
    written = [k.decode() async for k in store.scan_iter(match=f"{prefix}:*px*")]
    assert sorted(written) == sorted(
        [
            f"{prefix}:{{px:AAPL}}:closes",
            f"{prefix}:{{px:AAPL}}:latest",
            f"{prefix}:{{t:{desk.tenant.tenant_id}}}:px:AAPL:closes",
            f"{prefix}:{{t:{desk.tenant.tenant_id}}}:px:AAPL:latest",
            f"{prefix}:{{t:{desk.tenant.tenant_id}}}:px-symbols",
        ]
    )
