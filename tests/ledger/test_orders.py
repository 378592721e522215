"""POST …/orders: validation before anything is written, defaults, idempotency, prices, batches,
concurrency; and what the log and the projection hold afterwards."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from baas.core.keyspace import Keyspace
from baas.core.ledger import replay
from baas.store.ledger import LedgerStore

from .support import Desk

BUY = {"symbol": "AAPL", "side": "buy", "quantity": 10, "price": 100.5}


async def log_types(desk: Desk, store, prefix: str) -> list[str]:
    entries = await store.xrange(Keyspace(prefix).tenant_log(desk.tenant.tenant_id))
    return [orjson.loads(f[b"event"])["type"] for _, f in entries]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"orders": []}, "Validation failed: orders: must hold 1 to 500 orders, not 0"),
        ({"orders": [BUY] * 501}, "Validation failed: orders: must hold 1 to 500 orders, not 501"),
        ({}, 'Validation failed: orders: is required: {"orders": [Order, ...]}'),
        (
            {"orders": {"symbol": "AAPL"}},
            'Validation failed: orders: is required: {"orders": [Order, ...]}',
        ),
        ([BUY], 'Validation failed: the body must be a JSON object {"orders": [...]}'),
        (
            {"orders": [{**BUY, "side": "hold"}]},
            "Validation failed: orders[0].side: must be buy or sell",
        ),
        (
            {"orders": [{**BUY, "quantity": -5}]},
            "Validation failed: orders[0].quantity: must be positive",
        ),
        (
            {"orders": [{**BUY, "quantity": 0}]},
            "Validation failed: orders[0].quantity: must be positive",
        ),
        (
            {"orders": [{**BUY, "quantity": "many"}]},
            "Validation failed: orders[0].quantity: must be a number",
        ),
        (
            {"orders": [{**BUY, "quantity": True}]},
            "Validation failed: orders[0].quantity: must be a number",
        ),
        (
            {"orders": [{**BUY, "quantity": 1e300}]},
            "Validation failed: orders[0].quantity: must be smaller than 1e15 in size",
        ),
        (
            {"orders": [{"side": "buy", "quantity": 1}]},
            "Validation failed: orders[0].symbol: is required",
        ),
        (
            {"orders": [{**BUY, "symbol": "A{B}"}]},
            "Validation failed: orders[0].symbol: 'A{B}' is not a ticker",
        ),
        ({"orders": [{**BUY, "price": 0}]}, "Validation failed: orders[0].price: must be positive"),
        (
            {"orders": [{**BUY, "fees": -1}]},
            "Validation failed: orders[0].fees: must not be negative",
        ),
        (
            {"orders": [{**BUY, "order_type": "iceberg"}]},
            "Validation failed: orders[0].order_type: must be one of market, limit, stop, stop_limit",
        ),
        (
            {"orders": [{**BUY, "status": "done"}]},
            "Validation failed: orders[0].status: must be one of pending, filled, partial, cancelled",
        ),
        (
            {"orders": [{**BUY, "executed_at": "yesterday"}]},
            "Validation failed: orders[0].executed_at: must be an ISO-8601 date-time",
        ),
        (
            {"orders": [{**BUY, "external_order_id": ""}]},
            "Validation failed: orders[0].external_order_id: must not be empty",
        ),
        (
            {"orders": [{**BUY, "external_order_id": 7}]},
            "Validation failed: orders[0].external_order_id: must be a string",
        ),
        (
            {"orders": [{**BUY, "details": [1]}]},
            "Validation failed: orders[0].details: must be a JSON object or null",
        ),
        ({"orders": [BUY, "x"]}, "Validation failed: orders[1]: must be an object"),
    ],
)
async def test_invalid_batches_are_422_and_write_nothing(desk, store, prefix, body, detail):
    answer = await desk.post("orders", body)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)
    (error,) = answer.json()["errors"]
    assert error["message"] in answer.json()["detail"]
    assert await log_types(desk, store, prefix) == ["StrategyCreated"]


async def test_every_error_of_a_batch_is_named(desk):
    answer = await desk.orders(BUY, {**BUY, "side": "x", "quantity": -1}, {"quantity": 1})
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "Validation failed: orders[1].side: must be buy or sell; orders[1].quantity: must be "
        "positive; orders[2].symbol: is required; orders[2].side: must be buy or sell"
    )


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "Malformed request: the body is empty; send a JSON object."),
        (b"{", "Malformed request: the body is not valid JSON"),
        (b'{"orders": [{"quantity": NaN}]}', "Malformed request: the body is not valid JSON"),
        (b"\xff\xfe", "Malformed request: the body is not valid JSON"),
    ],
)
async def test_a_body_that_is_not_json_is_400(desk, content, detail):
    answer = await desk.client.post(desk.url("orders"), content=content, headers=desk.bearer())
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)


async def test_too_large_a_body_is_413(store_url, prefix, tenant):
    from tests.support.gateway import app_client
    from tests.support.store import make_settings

    from .support import open_strategy

    settings = make_settings(store_url, prefix, ledger_max_body_bytes=1000)
    async with app_client(settings) as client:
        strategy_id, key = await open_strategy(client, tenant)
        answer = await client.post(
            f"/api/v1/strategies/{strategy_id}/orders",
            json={"orders": [BUY] * 50},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 413
    assert answer.json() == {"detail": "The request body is larger than 1000 bytes."}


async def test_defaults_and_the_order_row(desk):
    before = datetime.now(UTC)
    answer = await desk.orders(
        {"symbol": "aapl", "side": "buy", "quantity": "2.5", "price": 189.42}
    )
    after = datetime.now(UTC)
    assert answer.status_code == 201
    (order,) = answer.json()["accepted"]
    assert order["symbol"] == "AAPL"  # tickers are upper-cased
    assert order["quantity"] == 2.5 and order["price"] == 189.42
    assert (order["fees"], order["order_type"], order["status"]) == (0, "market", "filled")
    assert order["external_order_id"] is None and order["details"] is None
    executed = datetime.fromisoformat(order["executed_at"])
    assert before <= executed <= after  # executed_at defaults to now
    assert order["executed_at"] == order["created_at"]


async def test_amounts_are_exact(desk):
    answer = await desk.orders(
        {**BUY, "quantity": 3, "price": 0.1, "fees": 0.2, "details": {"k": 0.1, "n": [1, 2.5]}},
        {**BUY, "side": "sell", "quantity": 1, "price": 0.3},
    )
    assert answer.status_code == 201
    assert answer.json()["accepted"][0]["details"] == {"k": 0.1, "n": [1, 2.5]}
    state = await desk.state()
    # -3 * 0.1 - 0.2 + 0.3: exactly -0.2 (binary floats would not give it)
    assert state["nav"]["cash_balance"] == -0.2
    assert state["positions"][0]["quantity"] == 2
    assert state["positions"][0]["cost_basis"] == 0.1


async def test_only_filled_and_partial_orders_move_positions(desk):
    answer = await desk.orders(
        {**BUY, "status": "pending"},
        {**BUY, "status": "cancelled", "price": None, "executed_at": "2001-01-01T00:00:00Z"},
        {**BUY, "status": "partial", "quantity": 4},
        {**BUY, "status": "filled", "quantity": 1, "order_type": "limit"},
    )
    assert answer.status_code == 201
    accepted = answer.json()["accepted"]
    assert accepted[1]["price"] is None  # not filled, no close that day: no price, no error
    state = await desk.state()
    assert [(p["symbol"], p["quantity"]) for p in state["positions"]] == [("AAPL", 5)]
    assert state["nav"]["cash_balance"] == -502.5


async def test_idempotency_within_and_across_batches(desk, store, prefix):
    first = await desk.orders(
        {**BUY, "external_order_id": "a"},
        {**BUY, "external_order_id": "b", "quantity": 1},
        {**BUY, "external_order_id": "a", "quantity": 999},  # a repeat within the batch
    )
    body = first.json()
    assert body["counts"] == {"accepted": 2, "duplicates": 1}
    assert body["duplicates"] == [body["accepted"][0]]
    second = await desk.orders(
        {**BUY, "external_order_id": "b"}, {**BUY, "external_order_id": "c", "quantity": 2}
    )
    assert second.status_code == 201
    body2 = second.json()
    assert body2["counts"] == {"accepted": 1, "duplicates": 1}
    assert body2["duplicates"] == [body["accepted"][1]]
    assert (await desk.state())["positions"][0]["quantity"] == 13
    assert (await log_types(desk, store, prefix)).count("LedgerOrderRecorded") == 3
    # Idempotency is per strategy: another strategy may use the same ids.
    other_id, other_key = await desk.new_strategy()
    again = await desk.client.post(
        desk.url("orders", other_id),
        json={"orders": [{**BUY, "external_order_id": "a"}]},
        headers=desk.bearer(other_key),
    )
    assert again.json()["counts"] == {"accepted": 1, "duplicates": 0}


async def test_missing_prices_come_from_the_closes_and_the_batch_is_all_or_nothing(
    desk, store, prefix
):
    await desk.import_prices(
        [
            {"symbol": "MSFT", "date": "2024-01-02", "close": 370.87},
            {"symbol": "MSFT", "date": "2024-01-03", "close": 370.6},
        ]
    )
    ok = {
        "symbol": "msft",
        "side": "buy",
        "quantity": 1,
        "executed_at": "2024-01-03T15:00:00-05:00",
    }
    # 2024-01-03T20:00Z: the UTC date's close
    missing = {**ok, "executed_at": "2024-01-06T15:00:00Z"}  # a Saturday: no close that day
    answer = await desk.orders(ok, missing)
    assert (answer.status_code, answer.json()) == (
        422,
        {"detail": "No market data available for MSFT at 2024-01-06T15:00:00Z"},
    )
    assert await log_types(desk, store, prefix) == ["StrategyCreated"]
    answer = await desk.orders(ok, {**missing, "price": 371})
    assert answer.status_code == 201
    assert [o["price"] for o in answer.json()["accepted"]] == [370.6, 371]


async def test_a_batch_of_500(desk, store, prefix):
    orders = [
        {
            "symbol": ("AAPL", "MSFT", "IBM", "GOOG", "AMZN")[i % 5],
            "side": "buy" if i % 3 else "sell",
            "quantity": i % 7 + 1,
            "price": 100 + i % 13,
            "fees": 0.5,
            "executed_at": f"2024-01-02T{10 + i // 60:02d}:{i % 60:02d}:00Z",
            "external_order_id": f"o-{i}",
        }
        for i in range(500)
    ]
    started = time.perf_counter()
    answer = await desk.post("orders", {"orders": orders})
    elapsed = time.perf_counter() - started
    assert answer.status_code == 201
    assert answer.json()["counts"] == {"accepted": 500, "duplicates": 0}
    print(f"\n500-order batch POST (in-process): {elapsed * 1000:.0f} ms")
    replayed = await desk.post("orders", {"orders": orders})
    assert replayed.json()["counts"] == {"accepted": 0, "duplicates": 500}
    assert (await log_types(desk, store, prefix)).count("LedgerOrderRecorded") == 500
    ledger = LedgerStore(store, Keyspace(prefix))
    live = await ledger.projection(desk.tenant.tenant_id, desk.strategy_id)
    expected = replay(await ledger.history(desk.tenant.tenant_id, desk.strategy_id))
    assert live.state == expected
    assert live.version == 500


async def test_concurrent_writes_lose_nothing(desk):
    async def batch(n: int):
        return await desk.orders(
            *({**BUY, "quantity": 1, "external_order_id": f"{n}-{i}"} for i in range(5))
        )

    async def deposit(n: int):
        return await desk.cash(event_type="deposit", amount=100, external_id=f"d-{n}")

    answers = await asyncio.gather(*(batch(n) for n in range(20)), *(deposit(n) for n in range(20)))
    assert {a.status_code for a in answers} == {201}
    state = await desk.state()
    assert state["positions"][0]["quantity"] == 100
    assert state["nav"]["cash_balance"] == 2000 - 100 * 100.5


async def test_a_backfilled_order_replays_the_history(desk, store, prefix):
    day = datetime(2024, 3, 1, 15, tzinfo=UTC)

    def at(hours: int) -> str:
        return (day + timedelta(hours=hours)).isoformat()

    await desk.orders({**BUY, "quantity": 10, "price": 100, "executed_at": at(0)})
    await desk.orders({**BUY, "side": "sell", "quantity": 15, "price": 110, "executed_at": at(2)})
    # Short 5 @ 110. Now an order from between the two arrives late: long 20 before the sell.
    await desk.cash(event_type="deposit", amount=1000, occurred_at=at(-100))
    answer = await desk.orders({**BUY, "quantity": 10, "price": 90, "executed_at": at(1)})
    assert answer.status_code == 201
    state = await desk.state()
    # In time order: buy 10 @100, buy 10 @90 (avg 95), sell 15 @110 → long 5 @ 95.
    assert [(p["quantity"], p["cost_basis"]) for p in state["positions"]] == [(5, 95)]
    assert state["last_order_at"] == "2024-03-01T17:00:00Z"
    ledger = LedgerStore(store, Keyspace(prefix))
    live = await ledger.projection(desk.tenant.tenant_id, desk.strategy_id)
    assert live.state == replay(await ledger.history(desk.tenant.tenant_id, desk.strategy_id))
    assert live.state.realized_pnl == Decimal(15 * 15)


async def test_orders_for_an_unknown_future_date_need_a_price(desk):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    answer = await desk.orders({**BUY, "price": None, "executed_at": f"{tomorrow}T10:00:00Z"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == f"No market data available for AAPL at {tomorrow}T10:00:00Z"
