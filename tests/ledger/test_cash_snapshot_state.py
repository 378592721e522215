"""POST …/cash, POST …/positions/snapshot and GET …/state."""

from __future__ import annotations

import orjson
import pytest

from baas.core.keyspace import Keyspace
from baas.store.ledger import LedgerStore


@pytest.mark.parametrize(
    ("event_type", "amount"),
    [
        ("deposit", 1000),
        ("withdraw", -250.5),
        ("dividend", 12.34),
        ("interest", -3.2),
        ("fee", -1.5),
        ("adjustment", 0.01),
        ("adjustment", -0.01),
    ],
)
async def test_the_six_cash_event_types(desk, event_type, amount):
    answer = await desk.cash(event_type=event_type, amount=amount, related_symbol="aapl", note="n")
    assert answer.status_code == 201
    event = answer.json()["event"]
    assert (event["event_type"], event["amount"]) == (event_type, amount)
    assert event["related_symbol"] == "AAPL" and event["note"] == "n"
    assert event["external_id"] is None
    assert (await desk.state())["nav"]["cash_balance"] == amount


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"event_type": "bonus", "amount": 1},
            "Validation failed: event_type: must be one of adjustment, deposit, dividend, fee, interest, withdraw",
        ),
        ({"amount": 1}, "Validation failed: event_type: must be one of"),
        ({"event_type": "deposit"}, "Validation failed: amount: is required"),
        (
            {"event_type": "deposit", "amount": -5},
            "Validation failed: amount: a deposit must be positive (signed: positive = cash in)",
        ),
        (
            {"event_type": "deposit", "amount": 0},
            "Validation failed: amount: a deposit must be positive",
        ),
        (
            {"event_type": "withdraw", "amount": 5},
            "Validation failed: amount: a withdraw must be negative (signed: negative = cash out)",
        ),
        ({"event_type": "fee", "amount": "x"}, "Validation failed: amount: must be a number"),
        (
            {"event_type": "fee", "amount": 1, "occurred_at": 5},
            "Validation failed: occurred_at: must be an ISO-8601 date-time",
        ),
        (
            {"event_type": "fee", "amount": 1, "external_id": ""},
            "Validation failed: external_id: must not be empty",
        ),
        (
            {"event_type": "fee", "amount": 1, "note": ["x"]},
            "Validation failed: note: must be a string",
        ),
        ([], "Validation failed: the body must be a JSON object"),
    ],
)
async def test_invalid_cash_events_are_422(desk, body, detail):
    answer = await desk.post("cash", body)
    assert answer.status_code == 422
    assert list(answer.json()) == ["detail", "errors"]
    assert answer.json()["detail"].startswith(detail)
    assert (await desk.state())["nav"]["cash_balance"] == 0


async def test_cash_is_idempotent_on_external_id(desk):
    first = await desk.cash(event_type="dividend", amount=5, external_id="div-1")
    again = await desk.cash(event_type="dividend", amount=500, external_id="div-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["status"] == "created"
    assert again.json() == {"status": "duplicate", "event": first.json()["event"]}
    assert (await desk.state())["nav"]["cash_balance"] == 5


async def test_snapshot_upserts_deletes_and_logs_deltas(desk, store, prefix):
    await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 100, "price": 189.42},
        {"symbol": "IBM", "side": "buy", "quantity": 10, "price": 150},
        {"symbol": "TSLA", "side": "sell", "quantity": 5, "price": 200},
    )
    answer = await desk.post(
        "positions/snapshot",
        {
            "positions": [
                {"symbol": "AAPL", "quantity": 100, "cost_basis": 189.42},  # unchanged
                {"symbol": "IBM", "quantity": 12, "cost_basis": 149},  # changed
                {"symbol": "MSFT", "quantity": -30, "cost_basis": 420.10},  # new, short
            ],
            "log_deltas": True,
        },
    )
    assert answer.status_code == 200
    assert answer.json() == {"upserted": 3, "removed": 1, "reconciliation_entries": 3}
    state = await desk.state()
    assert [(p["symbol"], p["quantity"], p["cost_basis"]) for p in state["positions"]] == [
        ("AAPL", 100, 189.42),
        ("IBM", 12, 149),
        ("MSFT", -30, 420.1),
    ]
    assert state["nav"]["cash_balance"] == -18942 - 1500 + 1000  # a snapshot leaves cash alone
    log = await LedgerStore(store, Keyspace(prefix)).reconciliation_log(
        desk.tenant.tenant_id, desk.strategy_id
    )
    assert [(e["symbol"], e["old_quantity"], e["new_quantity"]) for e in log] == [
        ("TSLA", "-5", "0"),
        ("IBM", "10", "12"),
        ("MSFT", "0", "-30"),
    ]
    # Without log_deltas: counts, no entries; an empty snapshot removes everything.
    answer = await desk.post("positions/snapshot", {"positions": []})
    assert answer.json() == {"upserted": 0, "removed": 3, "reconciliation_entries": 0}
    assert (await desk.state())["positions"] == []
    entries = await store.xrange(Keyspace(prefix).tenant_log(desk.tenant.tenant_id))
    snapshots = [
        orjson.loads(f[b"event"]) for _, f in entries if b"PositionsSnapshotted" in f[b"event"]
    ]
    assert len(snapshots) == 2
    assert snapshots[0]["source"] == "ledger" and snapshots[0]["subject"] == desk.strategy_id


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "Validation failed: positions: is required"),
        (
            {"positions": [{"symbol": "AAPL", "quantity": 1}]},
            "Validation failed: positions[0].cost_basis: is required",
        ),
        (
            {"positions": [{"symbol": "AAPL", "quantity": 1, "cost_basis": -1}]},
            "Validation failed: positions[0].cost_basis: must not be negative",
        ),
        (
            {
                "positions": [
                    {"symbol": "AAPL", "quantity": 1, "cost_basis": 1},
                    {"symbol": "aapl", "quantity": 2, "cost_basis": 1},
                ]
            },
            "Validation failed: positions[1].symbol: AAPL appears twice in the snapshot",
        ),
        (
            {"positions": [], "log_deltas": "yes"},
            "Validation failed: log_deltas: must be true or false",
        ),
    ],
)
async def test_invalid_snapshots_are_422(desk, body, detail):
    answer = await desk.post("positions/snapshot", body)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)


async def test_state_marks_positions_at_their_latest_close(desk):
    await desk.import_prices(
        [
            {"symbol": "AAPL", "date": "2024-01-02", "close": 185.64},
            {"symbol": "AAPL", "date": "2024-01-03", "close": 184.25},
        ]
    )
    await desk.cash(event_type="deposit", amount=100000, occurred_at="2024-01-01T00:00:00Z")
    await desk.orders(
        {"symbol": "AAPL", "side": "buy", "quantity": 100, "executed_at": "2024-01-02T15:00:00Z"},
        {"symbol": "ZZZ", "side": "buy", "quantity": 10, "price": 7, "fees": 1},
    )
    state = await desk.state()
    assert state["strategy_id"] == desk.strategy_id
    cash = 100000 - 18564 - 70 - 1
    # AAPL at its latest close (184.25), ZZZ without any close at its cost basis.
    assert state["nav"]["cash_balance"] == cash
    assert state["nav"]["market_value"] == 18425 + 70
    assert state["nav"]["total_equity"] == cash + 18425 + 70
    assert [p["updated_at"] is not None for p in state["positions"]] == [True, True]


async def test_an_empty_strategy_has_an_empty_state(desk):
    state = await desk.state()
    assert state["positions"] == [] and state["last_order_at"] is None
    assert {k: v for k, v in state["nav"].items() if k != "captured_at"} == {
        "total_equity": 0,
        "cash_balance": 0,
        "market_value": 0,
    }
