"""The broker behind the fake gateway: orders and what happens to them, executions,
positions, account values, and the per-test scripting and inspection API."""

import itertools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import messages as msg
from .catalog import Catalog, Instrument
from .orders import Execution, PlacedOrder, Position, WorkingOrder, parse_place_order
from .protocol import Field, ib_time
from .script import Behavior, Drop, Fill, Hold, Reject, Rule, Script

DEFAULT_ACCOUNT_VALUES = (
    ("AccountType", "", "INDIVIDUAL"),
    ("NetLiquidation", "USD", "100000.00"),
    ("TotalCashValue", "USD", "100000.00"),
    ("AvailableFunds", "USD", "100000.00"),
    ("BuyingPower", "USD", "400000.00"),
)


@dataclass
class Ledger:
    """What the broker remembers about orders; a gateway restart keeps or forgets it."""

    orders: dict[tuple[int, int], WorkingOrder] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)


class Broker(ABC):
    """Order and account state; the gateway subclass connects it to client sockets."""

    def __init__(self, accounts: Sequence[str], next_valid_id: int) -> None:
        self.accounts = tuple(accounts)
        self.next_valid_id = next_valid_id
        self.catalog = Catalog()
        self.script = Script()
        self.ledger = Ledger()
        self.positions: dict[tuple[str, int], Position] = {}
        self.account_values: dict[tuple[str, str, str], str] = {
            (account, tag, currency): value
            for account in self.accounts
            for tag, currency, value in DEFAULT_ACCOUNT_VALUES
        }
        self.placed_orders: list[PlacedOrder] = []
        self._perm_ids = itertools.count(1_000_001)
        self._exec_seq = itertools.count(1)

    @abstractmethod
    def _deliver(self, client_id: int, fields: list[Field]) -> None:
        """Send to the connection holding this clientId now, if there is one."""

    @abstractmethod
    def _hang_up(self, client_id: int) -> None:
        """Close the connection holding this clientId."""

    # scripting

    def on_order(
        self,
        behavior: Behavior,
        *,
        symbol: str | None = None,
        order_ref: str | None = None,
        once: bool = False,
    ) -> None:
        """What to do with matching orders (newest rule first); with no symbol and no
        order_ref, what to do with every other order (the default is ``Fill()``)."""
        if symbol is None and order_ref is None:
            if once:
                raise ValueError("once needs a symbol or an order_ref")
            self.script.default = behavior
        else:
            self.script.add(Rule(behavior, symbol, order_ref, once))

    def release(self, order_ref: str, behavior: Behavior) -> None:
        """Apply a behaviour now to the working order with this orderRef (e.g. one on Hold)."""
        order = self.order(order_ref)
        if order.is_done:
            raise ValueError(f"order {order_ref!r} is already {order.status}")
        self._apply(order, behavior)

    def cancel_at_ib(self, order_ref: str) -> None:
        """Cancel the working order with this orderRef as if from TWS (or by IB): the client
        that placed it, if connected, gets orderStatus Cancelled, then error 202."""
        order = self.order(order_ref)
        if order.is_done:
            raise ValueError(f"order {order_ref!r} is already {order.status}")
        self._cancel_order(order.placed.client_id, order.placed.order_id)

    def add_instrument(self, instrument: Instrument) -> None:
        self.catalog.add(instrument)

    def instrument(self, key: str) -> Instrument:
        """The instrument with this symbol or local symbol (an OCC option symbol included)."""
        return self.catalog.find(key)

    def set_position(
        self,
        instrument: Instrument | str,
        quantity: float,
        avg_cost: float,
        *,
        account: str | None = None,
    ) -> None:
        if isinstance(instrument, str):
            instrument = self.instrument(instrument)
        account = account or self.accounts[0]
        self.positions[(account, instrument.con_id)] = Position(
            account, instrument, quantity, avg_cost
        )

    def set_account_value(
        self, tag: str, value: str, *, currency: str = "USD", account: str | None = None
    ) -> None:
        self.account_values[(account or self.accounts[0], tag, currency)] = value

    # inspection

    @property
    def orders(self) -> list[WorkingOrder]:
        return list(self.ledger.orders.values())

    @property
    def executions(self) -> list[Execution]:
        return list(self.ledger.executions)

    def placed(
        self, *, order_ref: str | None = None, symbol: str | None = None
    ) -> list[PlacedOrder]:
        """Every placeOrder received (modifications included), across connections and restarts."""
        return [
            p
            for p in self.placed_orders
            if (order_ref is None or p.order_ref == order_ref)
            and (symbol is None or p.symbol == symbol)
        ]

    def order(self, order_ref: str) -> WorkingOrder:
        """The latest order with this orderRef."""
        matches = [o for o in self.ledger.orders.values() if o.placed.order_ref == order_ref]
        if not matches:
            raise KeyError(order_ref)
        return matches[-1]

    # order flow

    def _place_order(self, client_id: int, fields: list[str]) -> None:
        placed = parse_place_order(fields, client_id)
        self.placed_orders.append(placed)
        self.next_valid_id = max(self.next_valid_id, placed.order_id + 1)
        existing = self.ledger.orders.get((client_id, placed.order_id))
        if existing:
            self._modify(existing, placed)
            return
        found = self.catalog.lookup(placed.contract)
        if len(found) != 1:
            self._deliver(client_id, msg.error(placed.order_id, 200, msg.NO_SECURITY_DEFINITION))
            return
        account = placed.account or self.accounts[0]
        order = WorkingOrder(placed, found[0], next(self._perm_ids), account, placed.total_quantity)
        self.ledger.orders[(client_id, placed.order_id)] = order
        self._apply(order, self.script.behavior_for(placed, found[0]))

    def _modify(self, order: WorkingOrder, placed: PlacedOrder) -> None:
        if order.is_done:
            self._deliver(placed.client_id, msg.error(placed.order_id, 103, "Duplicate order id"))
            return
        order.placed = placed
        order.quantity = placed.total_quantity
        self._send(order, msg.open_order(order))
        self._send(order, msg.order_status(order))

    def _cancel_order(self, client_id: int, order_id: int) -> None:
        order = self.ledger.orders.get((client_id, order_id))
        if order is None:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            self._deliver(client_id, msg.error(order_id, 10147, text))
        elif order.is_done:
            text = (
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}."
            )
            self._deliver(client_id, msg.error(order_id, 10148, text))
        else:
            self._finish(order, "Cancelled", "Cancelled by Trader")
            self._send(order, msg.order_status(order))
            self._send(order, msg.error(order_id, 202, "Order Canceled - reason:"))

    def _apply(self, order: WorkingOrder, behavior: Behavior) -> None:
        match behavior:
            case Fill():
                self._acknowledge(order, "Submitted")
                self._fill(order, behavior)
            case Reject(code=code, message=message):
                self._finish(order, "Cancelled", message)
                self._send(order, msg.error(order.placed.order_id, code, message))
            case Hold(status=None):
                pass
            case Hold(status=str(status)):
                self._acknowledge(order, status)
            case Drop(price=price, partial=partial, fill_rest=fill_rest):
                if price is not None and partial:
                    self._acknowledge(order, "Submitted")
                    self._fill(order, Fill(price, parts=(partial,)))
                else:
                    order.status = "Submitted"  # working, though the client never heard
                self._hang_up(order.placed.client_id)
                if price is not None and fill_rest and not order.is_done:
                    self._fill(order, Fill(price))

    def _acknowledge(self, order: WorkingOrder, status: str) -> None:
        order.status = status
        self._send(order, msg.open_order(order))
        self._send(order, msg.order_status(order))

    def _fill(self, order: WorkingOrder, fill: Fill) -> None:
        price = fill.price
        if price is None:
            price = order.placed.lmt_price or order.instrument.mark_price
        if not order.quantity and order.placed.cash_qty:
            order.quantity = round(order.placed.cash_qty / price, 8)
        parts = fill.parts or (order.remaining,)
        if sum(parts) > order.remaining + 1e-9:
            raise ValueError(f"fill parts {parts} exceed the remaining {order.remaining}")
        for shares in parts:
            self._execute(order, shares, price, fill)
        if order.is_done:
            self._send(order, msg.open_order(order))

    def _execute(self, order: WorkingOrder, shares: float, price: float, fill: Fill) -> None:
        order.avg_fill_price += (price - order.avg_fill_price) * (shares / (order.filled + shares))
        order.filled += shares
        order.last_fill_price = price
        if order.remaining <= 1e-9:
            self._finish(order, "Filled", "Filled")
        p = order.placed
        execution = Execution(
            # shaped like IB's execIds, e.g. 0000e1a7.65a0b2c3.01.01
            f"{order.perm_id:08x}.{next(self._exec_seq):08x}.01.01",
            p.order_id, p.client_id, order.perm_id, p.order_ref, order.account, order.contract,
            order.instrument.primary_exchange or order.instrument.exchange,
            "BOT" if p.action == "BUY" else "SLD", shares, price, order.filled,
            order.avg_fill_price, ib_time(), fill.commission, fill.commission_currency, 0.0,
        )  # fmt: skip
        self.ledger.executions.append(execution)
        self._move_position(order.instrument, execution)
        self._send(order, msg.exec_details(-1, execution))
        self._send(order, msg.order_status(order))
        self._send(order, msg.commission_report(execution))

    def _finish(self, order: WorkingOrder, status: str, completed_status: str) -> None:
        order.status = status
        order.completed_status = completed_status
        order.completed_time = ib_time()

    def _move_position(self, instrument: Instrument, e: Execution) -> None:
        key = (e.account, instrument.con_id)
        pos = self.positions.setdefault(key, Position(e.account, instrument, 0.0, 0.0))
        signed = e.shares if e.side == "BOT" else -e.shares
        cost = e.price * float(instrument.multiplier or 1)
        new_quantity = pos.quantity + signed
        if pos.quantity * signed >= 0 and new_quantity:  # opening or adding
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + cost * abs(signed)) / abs(
                new_quantity
            )
        elif pos.quantity * new_quantity < 0:  # went through flat
            pos.avg_cost = cost
        pos.quantity = new_quantity

    def _send(self, order: WorkingOrder, fields: list[Field]) -> None:
        self._deliver(order.placed.client_id, fields)

    # answers to requests

    def _open_orders(self, client_id: int | None = None) -> list[WorkingOrder]:
        """Working orders of one client (reqOpenOrders), or of every client (reqAllOpenOrders)."""
        return [
            o
            for o in self.ledger.orders.values()
            if (client_id is None or o.placed.client_id == client_id) and not o.is_done
        ]

    def _completed_orders(self) -> list[WorkingOrder]:
        return [o for o in self.ledger.orders.values() if o.is_done]

    def _matching_executions(self, criteria: Sequence[str]) -> list[Execution]:
        """Apply an ExecutionFilter (clientId, acctCode, time, symbol, secType, exchange,
        side); empty or zero criteria match everything, the time criterion is ignored."""
        client_id, account, _time, symbol, sec_type, exchange, side = criteria
        side = {"BUY": "BOT", "SELL": "SLD"}.get(side, side)
        return [
            e
            for e in self.ledger.executions
            if (not int(client_id or 0) or e.client_id == int(client_id))
            and (not account or e.account == account)
            and (not symbol or e.contract.symbol == symbol)
            and (not sec_type or e.contract.sec_type == sec_type)
            and (not exchange or e.venue == exchange)
            and (not side or e.side == side)
        ]
