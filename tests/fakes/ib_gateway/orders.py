"""Orders as received (placeOrder decoded) and as the fake gateway tracks them."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from .catalog import ContractSpec, Instrument

UNSET_DOUBLE = 1.7976931348623157e308
DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass(frozen=True)
class PlacedOrder:
    """One placeOrder message, decoded."""

    client_id: int
    order_id: int
    contract: ContractSpec
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    parent_id: int
    outside_rth: bool
    cash_qty: float | None
    fields: tuple[str, ...] = field(repr=False)

    @property
    def symbol(self) -> str:
        return self.contract.symbol

    @property
    def sec_type(self) -> str:
        return self.contract.sec_type

    @property
    def exchange(self) -> str:
        return self.contract.exchange

    @property
    def currency(self) -> str:
        return self.contract.currency


class _Cursor:
    def __init__(self, fields: Sequence[str], position: int) -> None:
        self._fields = fields
        self._at = position

    def take(self, n: int = 1) -> list[str]:
        if self._at + n > len(self._fields):
            raise ValueError(f"placeOrder ended after {len(self._fields)} fields")
        taken = list(self._fields[self._at : self._at + n])
        self._at += n
        return taken

    def next(self) -> str:
        return self.take()[0]


def _price(text: str) -> float | None:
    return float(text) if text else None


def parse_place_order(fields: Sequence[str], client_id: int) -> PlacedOrder:
    """Walk a placeOrder (message 3, no version field) as ib_async's Client.placeOrder
    writes it for server version 178, up to cashQty."""
    c = _Cursor(fields, 1)
    order_id = int(c.next())
    contract = ContractSpec.from_fields(c.take(12))
    c.take(2)  # secIdType, secId
    (action, quantity, order_type, lmt, aux, tif, _oca, account, _open_close, _origin,
     order_ref, _transmit, parent_id, _block, _sweep, _display, _trigger, outside_rth,
     _hidden) = c.take(19)  # fmt: skip
    if contract.sec_type == "BAG":
        c.take(8 * int(c.next()))  # combo legs
        c.take(int(c.next()))  # order combo leg prices
        c.take(2 * int(c.next()))  # smart combo routing params
    c.take(7)  # "" (shares allocation), discretionaryAmt .. faPercentage
    c.take(22)  # modelCode .. volatilityType
    delta_neutral_order_type, _aux_price = c.take(2)
    if delta_neutral_order_type:
        c.take(8)  # deltaNeutralConId .. deltaNeutralDesignatedLocation
    c.take(6)  # continuousUpdate .. scaleSubsLevelSize
    increment = c.next()
    if increment and 0 < float(increment) < UNSET_DOUBLE:
        c.take(7)  # scale adjustments
    c.take(3)  # scaleTable, activeStartTime, activeStopTime
    if c.next():  # hedgeType
        c.take(1)
    c.take(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if c.next() == "1":  # delta neutral contract
        c.take(3)
    if c.next():  # algoStrategy
        c.take(2 * int(c.next()))
    _algo_id, what_if = c.take(2)
    if what_if == "1":
        raise NotImplementedError("the fake gateway does not answer what-if orders")
    c.take(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        c.take(5)
    if int(c.next()):
        raise NotImplementedError("the fake gateway does not decode order conditions")
    c.take(10)  # adjustedOrderType .. softDollarTier value
    cash_qty = _price(c.next())
    return PlacedOrder(
        client_id, order_id, contract, action, float(quantity), order_type, _price(lmt),
        _price(aux), tif, account, order_ref, int(parent_id or 0), outside_rth == "1",
        cash_qty, tuple(fields),
    )  # fmt: skip


@dataclass
class WorkingOrder:
    """An order the gateway accepted, with its life so far."""

    placed: PlacedOrder
    instrument: Instrument
    perm_id: int
    account: str
    quantity: float
    """Total quantity; for a cashQty order it becomes known at the first fill."""
    status: str = "PendingSubmit"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    completed_status: str = ""
    completed_time: str = ""

    @property
    def contract(self) -> ContractSpec:
        return self.instrument.spec(self.placed.exchange)

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATES


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    order_ref: str
    account: str
    contract: ContractSpec
    venue: str
    side: str
    """BOT or SLD."""
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    time: str
    commission: float
    commission_currency: str
    realized_pnl: float


@dataclass
class Position:
    account: str
    instrument: Instrument
    quantity: float
    avg_cost: float
