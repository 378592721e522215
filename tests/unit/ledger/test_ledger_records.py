"""The ledger's records without a store: a write's log entry reads back as the event it records,
a projection survives its JSON, and advancing one refuses what needs a replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from baas.core.ledger import CashEvent, Order, PositionSnapshot, SnapshotPosition, replay
from baas.core.ledger.log_entries import (
    CASH_RECORDED,
    ORDER_RECORDED,
    SOURCE,
    ledger_event,
    log_entry,
)
from baas.core.ledger.projection import Projection
from baas.core.ledger.rows import cash_row, decimal_text, iso, order_row

D = Decimal
T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_a_log_entry_reads_back_as_its_event():
    order = Order("AAPL", "buy", D("2.5"), D("181.07"), T0, D("0.99"), external_order_id="x-1")
    row = order_row(order, "o-1", "s-1", iso(T0), {"why": "test"})
    entry = orjson.loads(log_entry(ORDER_RECORDED, "o-1", "t-1", "s-1", iso(T0), row))
    assert (entry["source"], entry["type"], entry["subject"], entry["tenantid"]) == (
        SOURCE,
        ORDER_RECORDED,
        "s-1",
        "t-1",
    )
    assert ledger_event(entry) == order
    cash = CashEvent("deposit", D(1000), T0 + timedelta(seconds=1), "c-1", None, "seed")
    row = cash_row(cash, "e-1", "s-1", iso(T0))
    assert ledger_event(orjson.loads(log_entry(CASH_RECORDED, "e-1", "t-1", "s-1", "", row))) == (
        cash
    )
    assert ledger_event({"type": "StrategyCreated", "data": {}}) is None
    assert (decimal_text(None), decimal_text(D("1.50"))) == (None, "1.50")


def test_an_order_outside_the_bounds_is_left_out_of_the_reads():
    order = Order("AAPL", "buy", D(1), D(10), T0)
    row = {**order_row(order, "o-1", "s-1", iso(T0), None), "quantity": "1e20"}
    assert ledger_event(orjson.loads(log_entry(ORDER_RECORDED, "o-1", "t", "s-1", "", row))) is None


def test_a_projection_survives_its_json_and_refuses_a_backfill():
    history = [
        CashEvent("deposit", D(10_000), T0),
        Order("AAPL", "buy", D(10), D(180), T0 + timedelta(hours=1), D(1)),
        PositionSnapshot.of(T0 + timedelta(hours=2), [SnapshotPosition("IBM", D(5), D(120))]),
        Order("IBM", "sell", D(2), D(125), T0 + timedelta(hours=3)),
    ]
    projection = Projection(version=len(history))
    projection.rebuild(history)
    again = Projection.from_json(projection.to_json(), len(history))
    assert again == projection and not again.stale
    assert again.symbols == {"AAPL", "IBM"}
    assert again.last_position_at == T0 + timedelta(hours=3)
    # A later order is applied as it is; an older one (a backfill) is refused, the state kept.
    later = Order("IBM", "sell", D(1), D(126), T0 + timedelta(hours=4))
    assert again.advance([later])
    assert again.state == replay([*history, later])
    before = again.to_json()
    assert not again.advance([Order("IBM", "buy", D(1), D(119), T0 + timedelta(minutes=5))])
    assert again.to_json() == before
    # Cash events commute with everything: an older one never needs a replay.
    assert again.advance([CashEvent("dividend", D(3), T0 + timedelta(minutes=1))])


def test_a_projection_stored_without_fills_is_stale():
    projection = Projection(version=1)
    projection.rebuild([Order("AAPL", "buy", D(1), D(10), T0)])
    document = orjson.loads(projection.to_json())
    del document["last_fills"]
    assert Projection.from_json(orjson.dumps(document), 1).stale
    assert Projection.from_json(None, 3) == Projection(version=3)
