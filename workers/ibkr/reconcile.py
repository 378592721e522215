"""What IB knows about our orders, matched to signals by ``orderRef``.

After every (re)connect, before sending anything, and on a schedule, the adapter takes a
``Snapshot``: open orders (every client's, through reqAllOpenOrders: a worker that died leaves
its working orders at IB under its own clientId, which reqOpenOrders would not show), completed
orders (all clients'; they carry no orderId or clientId, only permId and orderRef) and
executions (all clients', each with its clientId, orderRef and commission). From it:

- ``order_state(snapshot, ref)``: whether a signal's order exists at IB and how it stands, so a
  signal whose order exists is never sent again;
- ``fills_to_deliver(...)``: executions of our signals not delivered yet, so a fill that
  happened while disconnected reaches the log once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from ib_async import IB, Fill, Trade

from .contracts import to_decimal

IbState = Literal["absent", "working", "filled", "cancelled", "inactive"]
WORKING = frozenset({"ApiPending", "PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel"})


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order of a snapshot."""

    order_ref: str
    perm_id: int
    order_id: int
    """0 for a completed order (IB does not say)."""
    client_id: int
    """0 for a completed order (IB does not say)."""
    status: str
    open: bool
    total_quantity: Decimal | None
    filled: Decimal | None
    reason: str
    """whyHeld of an open order (ib_async 2.1 drops a completed order's completedStatus)."""
    limit_price: Decimal | None = None
    """The limit price of a limit order."""

    @property
    def state(self) -> IbState:
        if self.open or self.status in WORKING:
            return "working"
        if self.status == "Filled":
            return "filled"
        if self.status == "Inactive":
            return "inactive"
        return "cancelled"


@dataclass(frozen=True, slots=True)
class Snapshot:
    orders: tuple[OrderView, ...]
    fills: tuple[Fill, ...]
    taken_at: datetime

    def refs(self) -> set[str]:
        """Every orderRef IB knows, from orders or executions."""
        return {o.order_ref for o in self.orders if o.order_ref} | {
            f.execution.orderRef for f in self.fills if f.execution.orderRef
        }


@dataclass(frozen=True, slots=True)
class OrderState:
    state: IbState
    order: OrderView | None
    fills: tuple[Fill, ...]

    @property
    def exists(self) -> bool:
        return self.state != "absent"


def _view(trade: Trade, *, open_: bool) -> OrderView:
    order, status = trade.order, trade.orderStatus
    filled = to_decimal(order.filledQuantity) if not open_ else to_decimal(status.filled)
    return OrderView(
        order_ref=order.orderRef,
        perm_id=order.permId or status.permId,
        order_id=order.orderId if open_ else 0,
        client_id=order.clientId if open_ else 0,
        status=status.status,
        open=open_,
        total_quantity=to_decimal(order.totalQuantity),
        filled=filled,
        reason=(status.whyHeld if open_ else "") or "",
        limit_price=to_decimal(order.lmtPrice) if order.orderType == "LMT" else None,
    )


async def fetch_snapshot(ib: IB, timeout: float) -> Snapshot:  # noqa: ASYNC109
    """Ask IB for the open orders of every client, completed orders and executions (one round
    trip each, sent together; executions last, so ib_async can attach them to the orders)."""
    open_trades, completed, fills = await asyncio.wait_for(
        asyncio.gather(
            ib.reqAllOpenOrdersAsync(), ib.reqCompletedOrdersAsync(False), ib.reqExecutionsAsync()
        ),
        timeout,
    )
    views = [_view(t, open_=True) for t in open_trades]
    views += [_view(t, open_=False) for t in completed]
    # ib_async keeps the first Fill object of an execId, which the commission report updates
    canonical = ib.wrapper.fills
    resolved = tuple(canonical.get(f.execution.execId, f) for f in fills)
    return Snapshot(tuple(views), resolved, datetime.now(UTC))


def order_state(snapshot: Snapshot, order_ref: str) -> OrderState:
    """How a signal's order stands at IB. With several orders for one ref (there should not
    be), a working one wins, else the latest (highest permId)."""
    orders = [o for o in snapshot.orders if o.order_ref == order_ref]
    fills = tuple(f for f in snapshot.fills if f.execution.orderRef == order_ref)
    if orders:
        working = [o for o in orders if o.state == "working"]
        chosen = (working or sorted(orders, key=lambda o: o.perm_id))[-1]
        return OrderState(chosen.state, chosen, fills)
    if fills:
        return OrderState("working", None, fills)
    return OrderState("absent", None, ())


def is_ours(
    order_ref: str, client_id: int, my_client_id: int, tracked: Callable[[str], bool]
) -> bool:
    """An order or execution is this adapter's when it carries a signal id (orderRef) and was
    sent with this adapter's clientId, or is for a signal this adapter was asked to send."""
    return bool(order_ref) and (client_id == my_client_id or tracked(order_ref))


def fills_to_deliver(
    fills: Iterable[Fill],
    my_client_id: int,
    tracked: Callable[[str], bool],
    delivered: Callable[[str], bool],
) -> list[Fill]:
    """Our executions not delivered yet, oldest first, each execId once."""
    seen: set[str] = set()
    result = []
    for fill in sorted(fills, key=_exec_time):
        e = fill.execution
        if e.execId in seen or delivered(e.execId):
            continue
        if is_ours(e.orderRef, e.clientId, my_client_id, tracked):
            seen.add(e.execId)
            result.append(fill)
    return result


def _exec_time(fill: Fill) -> float:
    when = fill.execution.time
    return when.timestamp() if isinstance(when, datetime) else 0.0
