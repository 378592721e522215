"""Positions, cash and reconciliation rules of baas.core.ledger.accounting."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from baas.core.ledger import (
    CashEvent,
    LedgerState,
    Order,
    PositionSnapshot,
    ReconciliationEntry,
    SnapshotPosition,
    apply_cash_event,
    apply_order,
    apply_orders,
    apply_snapshot,
    parse_timestamp,
    replay,
)

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
D = Decimal


def at(minutes: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def order(side, qty, price, symbol="AAPL", fees=0, status="filled", minutes=0):
    return Order(
        symbol=symbol,
        side=side,
        quantity=D(str(qty)),
        price=None if price is None else D(str(price)),
        executed_at=at(minutes),
        fees=D(str(fees)),
        status=status,
    )


def cash(kind, amount, minutes=0):
    return CashEvent(kind, D(str(amount)), at(minutes))


def run(*events) -> LedgerState:
    return replay(events)


def test_buy_then_partial_sell_books_realised_pnl_and_keeps_cost_basis():
    state = run(order("buy", 100, 10), order("sell", 40, 12.5, minutes=1))
    pos = state.positions["AAPL"]
    assert pos.quantity == 60
    assert pos.cost_basis == 10
    assert state.realized_pnl == D("100.0")  # (12.5 - 10) * 40
    assert state.cash == D("-1000") + D("500.0")


def test_weighted_average_cost_on_additions():
    state = run(order("buy", 100, 10), order("buy", 50, 13, minutes=1))
    assert state.positions["AAPL"].quantity == 150
    assert state.positions["AAPL"].cost_basis == 11  # (1000 + 650) / 150
    assert state.realized_pnl == 0


def test_fees_leave_cash_and_are_not_in_cost_or_pnl():
    state = run(order("buy", 10, 100, fees=1.5), order("sell", 10, 110, fees=2.25, minutes=1))
    assert state.cash == D("-1001.5") + D("1097.75")
    assert state.fees_paid == D("3.75")
    assert state.realized_pnl == 100
    assert "AAPL" not in state.positions


def test_short_open_add_and_cover():
    state = run(
        order("sell", 100, 50),
        order("sell", 100, 40, minutes=1),
        order("buy", 50, 30, minutes=2),
    )
    pos = state.positions["AAPL"]
    assert pos.quantity == -150
    assert pos.cost_basis == 45  # always positive: (5000 + 4000) / 200
    assert state.realized_pnl == 750  # short gains when the price falls: (45 - 30) * 50
    assert state.cash == 5000 + 4000 - 1500


def test_short_cover_at_a_loss():
    state = run(order("sell", 10, 50), order("buy", 10, 60, minutes=1))
    assert state.realized_pnl == -100
    assert state.positions == {}
    assert state.cash == -100


def test_long_crossing_zero_to_short_resets_cost_basis():
    state = run(order("buy", 100, 10), order("sell", 150, 12, minutes=1))
    pos = state.positions["AAPL"]
    assert pos.quantity == -50
    assert pos.cost_basis == 12
    assert state.realized_pnl == 200  # only the 100 closed shares


def test_short_crossing_zero_to_long_resets_cost_basis():
    state = run(order("sell", 100, 50), order("buy", 130, 40, minutes=1))
    pos = state.positions["AAPL"]
    assert pos.quantity == 30
    assert pos.cost_basis == 40
    assert state.realized_pnl == 1000


def test_flat_position_is_removed_and_reopens_at_the_new_price():
    state = run(
        order("buy", 100, 10),
        order("sell", 100, 11, minutes=1),
        order("buy", 5, 20, minutes=2),
    )
    assert state.positions["AAPL"].quantity == 5
    assert state.positions["AAPL"].cost_basis == 20
    assert state.realized_pnl == 100


@pytest.mark.parametrize("status", ["pending", "cancelled"])
def test_pending_and_cancelled_orders_move_nothing(status):
    state = LedgerState()
    assert apply_order(state, order("buy", 100, 10, status=status)) == 0
    # No price is needed for an order that is not applied.
    apply_order(state, order("buy", 100, None, status=status))
    assert state == LedgerState()


def test_partial_fills_move_positions():
    state = run(order("buy", 30, 10, status="partial"), order("buy", 70, 10, minutes=1))
    assert state.positions["AAPL"].quantity == 100
    assert state.last_order_at == at(1)


def test_an_applied_order_without_price_is_refused():
    with pytest.raises(ValueError, match="no price"):
        apply_order(LedgerState(), order("buy", 1, None))


def test_apply_order_returns_the_realised_pnl():
    state = LedgerState()
    apply_order(state, order("buy", 10, 10))
    assert apply_order(state, order("sell", 4, 15, minutes=1)) == 20


def test_cash_events_by_type():
    state = run(
        cash("deposit", 1000),
        cash("withdraw", -300, 1),
        cash("dividend", 12.5, 2),
        cash("interest", 0.75, 3),
        cash("fee", -5, 4),
        cash("adjustment", -1.25, 5),
    )
    assert state.cash == D("707.00")
    assert state.external_flows == 700
    assert state.cash_totals["dividend"] == D("12.5")
    assert state.cash_totals["fee"] == -5


def test_deposit_mid_history_is_not_a_gain():
    before = run(cash("deposit", 10_000), order("buy", 10, 100, minutes=1))
    after = run(
        cash("deposit", 10_000),
        order("buy", 10, 100, minutes=1),
        cash("deposit", 5_000, 2),
        order("sell", 10, 100, minutes=3),
    )
    assert after.realized_pnl == before.realized_pnl == 0
    assert after.external_flows == 15_000
    assert after.cash == 15_000


def test_withdrawal_reduces_cash_not_pnl():
    state = run(cash("deposit", 1000), cash("withdraw", -400, 1))
    assert state.cash == 600
    assert state.external_flows == 600
    assert state.realized_pnl == 0


@pytest.mark.parametrize(
    ("kind", "amount"),
    [("deposit", -1), ("deposit", 0), ("withdraw", 5), ("bonus", 1)],
)
def test_cash_event_validation(kind, amount):
    with pytest.raises(ValueError):
        CashEvent(kind, D(amount), T0)


def test_order_validation():
    with pytest.raises(ValueError):
        order("hold", 1, 1)
    with pytest.raises(ValueError):
        order("buy", 0, 1)
    with pytest.raises(ValueError):
        order("buy", 1, 1, status="done")
    with pytest.raises(ValueError):
        Order("AAPL", "buy", D(1), D(1), datetime(2024, 1, 2))  # naive timestamp
    with pytest.raises(ValueError, match="Decimal"):
        Order("AAPL", "buy", D(1), 189.42, T0)  # a float price would be inexact


def test_from_dict_reads_floats_exactly():
    state = LedgerState()
    for i in range(3):
        apply_cash_event(
            state,
            CashEvent.from_dict(
                {"event_type": "deposit", "amount": 0.1, "occurred_at": "2024-01-02T00:00:00Z"}
            ),
        )
        apply_order(
            state,
            Order.from_dict(
                {
                    "symbol": "BTC-USD",
                    "side": "buy",
                    "quantity": 0.1,
                    "price": 0.7,
                    "fees": 0.01,
                    "executed_at": f"2024-01-02T14:3{i}:22Z",
                }
            ),
        )
    assert state.cash == D("0.3") - 3 * (D("0.07") + D("0.01"))
    assert state.positions["BTC-USD"].quantity == D("0.3")
    assert state.positions["BTC-USD"].cost_basis == D("0.7")


def test_from_dict_defaults():
    now = datetime(2026, 4, 18, 8, tzinfo=UTC)
    parsed = Order.from_dict({"symbol": "AAPL", "side": "buy", "quantity": 100}, now=now)
    assert parsed.status == "filled"
    assert parsed.order_type == "market"
    assert parsed.fees == 0
    assert parsed.price is None
    assert parsed.executed_at == now


def test_replay_orders_events_by_time():
    events = [order("sell", 5, 12, minutes=5), cash("deposit", 100), order("buy", 5, 10, minutes=1)]
    state = replay(events)
    assert state.realized_pnl == 10
    assert state.cash == 110


def test_sums_stay_exact_over_many_orders():
    orders = [order("buy", "0.001", "0.1", symbol="X", minutes=i) for i in range(10_000)]
    state = apply_orders(LedgerState(), orders)
    assert state.cash == D("-1.0000")
    assert state.positions["X"].quantity == D("10.000")
    assert state.positions["X"].cost_basis == D("0.1")


# -- reconciliation snapshots --------------------------------------------------------


def snap(*lines):
    return [SnapshotPosition(s, D(str(q)), D(str(c))) for s, q, c in lines]


def seeded() -> LedgerState:
    return run(
        order("buy", 100, 189.42, symbol="AAPL"),
        order("buy", 30, 420.10, symbol="MSFT", minutes=1),
        order("sell", 10, 150, symbol="IBM", minutes=2),
    )


def test_snapshot_upserts_and_deletes():
    state = seeded()
    cash_before = state.cash
    result = apply_snapshot(state, snap(("AAPL", 100, 189.42), ("MSFT", 35, 421)), log_deltas=True)
    assert (result.upserted, result.removed) == (2, 1)
    assert set(state.positions) == {"AAPL", "MSFT"}
    assert state.positions["MSFT"].quantity == 35
    assert state.positions["MSFT"].cost_basis == 421
    assert state.cash == cash_before  # a snapshot never moves cash
    assert set(result.entries) == {
        ReconciliationEntry("IBM", D(-10), D(0), D(150), None),
        ReconciliationEntry("MSFT", D(30), D(35), D("420.10"), D(421)),
    }


def test_snapshot_without_log_deltas_reports_counts_only():
    state = seeded()
    result = apply_snapshot(state, snap(("GOOG", 3, 100)))
    assert (result.upserted, result.removed, result.entries) == (1, 3, ())
    assert list(state.positions) == ["GOOG"]


def test_snapshot_entry_for_a_new_symbol_and_a_cost_only_change():
    state = seeded()
    result = apply_snapshot(
        state,
        snap(("AAPL", 100, 190), ("MSFT", 30, 420.10), ("IBM", -10, 150), ("GOOG", 1, 99)),
        log_deltas=True,
    )
    assert (result.upserted, result.removed) == (4, 0)
    assert set(result.entries) == {
        ReconciliationEntry("AAPL", D(100), D(100), D("189.42"), D(190)),
        ReconciliationEntry("GOOG", D(0), D(1), None, D(99)),
    }


def test_snapshot_zero_quantity_removes_the_position():
    state = seeded()
    result = apply_snapshot(
        state, snap(("AAPL", 0, 0), ("MSFT", 30, 420.10), ("IBM", -10, 150)), log_deltas=True
    )
    assert result.upserted == 3
    assert "AAPL" not in state.positions
    assert result.entries == (ReconciliationEntry("AAPL", D(100), D(0), D("189.42"), None),)


def test_snapshot_rejects_duplicates_and_negative_cost():
    with pytest.raises(ValueError):
        apply_snapshot(LedgerState(), snap(("AAPL", 1, 1), ("AAPL", 2, 1)))
    with pytest.raises(ValueError):
        SnapshotPosition("AAPL", D(1), D(-1))


def test_snapshot_event_in_replay_then_orders_continue_from_it():
    snapshot = PositionSnapshot.of(at(1), snap(("AAPL", 50, 100)))
    state = replay([order("buy", 10, 1), snapshot, order("sell", 20, 110, minutes=2)])
    assert state.positions["AAPL"].quantity == 30
    assert state.realized_pnl == 200


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+00:10", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_whose_offset_leaves_the_calendar_is_a_value_error(text):
    with pytest.raises(ValueError, match="outside the years 1 to 9999 in UTC"):
        parse_timestamp(text)
