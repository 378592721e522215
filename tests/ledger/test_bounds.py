"""The ledger's bounds: dates and amounts outside them are refused at the door, and an event or a
close stored before they were checked is left out of every read, which still answers 200."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from baas.core.keyspace import Keyspace
from baas.core.ledger import CashEvent, Order
from baas.core.ledger.writes import OrderInput
from baas.store.ledger import LedgerStore
from baas.store.ledger_prices import PriceStore

from .support import Desk

BUY = {"symbol": "SPY", "side": "buy", "quantity": 1, "price": 100}
READS = ("state", "nav", "performance")


def paths(answer: Any) -> list[str]:
    return [e["path"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+00:10",  # year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
    ],
)
async def test_a_date_out_of_the_ledger_s_range_is_422_naming_it(desk: Desk, moment: str):
    order = await desk.orders({**BUY, "executed_at": moment})
    cash = await desk.cash(event_type="deposit", amount=1, occurred_at=moment)
    assert (order.status_code, paths(order)) == (422, ["orders[0].executed_at"])
    assert (cash.status_code, paths(cash)) == (422, ["occurred_at"])
    assert "1970-01-01 to 2200-12-31" in cash.json()["detail"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e-13", "must be 0 or at least 1e-12 in size"),
        ("1e-999999", "must be 0 or at least 1e-12 in size"),
        ("1e15", "must be smaller than 1e15 in size"),
        ("1." + "0" * 33 + "1", "must have at most 34 significant digits"),
    ],
)
async def test_an_amount_out_of_the_ledger_s_range_is_422_naming_it(desk: Desk, amount, message):
    for field in ("quantity", "price", "fees"):
        answer = await desk.orders({**BUY, field: amount})
        assert answer.json()["errors"] == [{"path": f"orders[0].{field}", "message": message}]
    answer = await desk.cash(event_type="dividend", amount=amount)
    assert answer.json()["errors"] == [{"path": "amount", "message": message}]
    snapshot = {"positions": [{"symbol": "SPY", "quantity": amount, "cost_basis": amount}]}
    answer = await desk.post("positions/snapshot", snapshot)
    assert paths(answer) == ["positions[0].quantity", "positions[0].cost_basis"]
    answer = await desk.client.post(
        f"/tenants/{desk.tenant.tenant_id}/api/prices",
        json={"prices": [{"symbol": "SPY", "date": "2024-01-02", "close": amount}]},
        headers=desk.tenant_headers,
    )
    assert answer.status_code == 422
    assert (await desk.state())["positions"] == []


async def test_a_close_dated_out_of_the_ledger_s_range_is_422(desk: Desk):
    for day in ("1969-12-31", "2201-01-01"):
        answer = await desk.client.post(
            f"/tenants/{desk.tenant.tenant_id}/api/prices",
            json={"prices": [{"symbol": "SPY", "date": day, "close": 1}]},
            headers=desk.tenant_headers,
        )
        assert answer.status_code == 422, answer.text
        assert "1970-01-01 to 2200-12-31" in answer.json()["errors"][0]["message"]


async def test_what_was_stored_out_of_range_is_left_out_of_every_read(desk: Desk, store, prefix):
    """Events and closes written before the bounds (here past the door, through the store)."""
    await desk.import_prices(
        [{"symbol": "SPY", "date": f"2024-01-0{d}", "close": 100 + d} for d in (2, 3, 4)]
    )
    assert (await desk.cash(event_type="deposit", amount=1000)).status_code == 201
    assert (await desk.orders({**BUY, "executed_at": "2024-01-02T15:00:00Z"})).status_code == 201
    before = {tail: (await desk.get(tail)).json() for tail in ("nav", "performance")}

    ledger = LedgerStore(store, Keyspace(prefix))
    tenant, strategy = desk.tenant.tenant_id, desk.strategy_id
    await ledger.record_cash(
        tenant, strategy, CashEvent("deposit", Decimal(5), datetime(1, 1, 1, tzinfo=UTC))
    )
    await ledger.record_cash(
        tenant, strategy, CashEvent("dividend", Decimal("1e-999999"), datetime.now(UTC))
    )
    tiny = Order("SPY", "buy", Decimal("1e-999999"), Decimal(100), datetime.now(UTC))

    async def no_prices(_: Any) -> dict:
        return {}

    await ledger.record_orders(tenant, strategy, [OrderInput(tiny)], no_prices)
    await PriceStore(store, Keyspace(prefix)).put("SPY", {date(2024, 1, 5): Decimal("1e-30")})

    for tail in READS:
        answer = await desk.get(tail)
        assert answer.status_code == 200, (tail, answer.text)
    assert {tail: (await desk.get(tail)).json() for tail in ("nav", "performance")} == before
