"""What the worker hands the IBKR adapter (``BrokerOrder``) and what it gets back
(``BrokerOutcome``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

InstrumentType = Literal["STK", "Forex", "Crypto", "Options"]
Side = Literal["buy", "sell", "close", "target"]
OrderType = Literal["MKT", "LMT"]
OutcomeKind = Literal["submitted", "filled", "rejected", "cancelled"]


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option by its fields (what an OCC symbol encodes)."""

    symbol: str
    expiry: str
    """YYYYMMDD."""
    strike: Decimal
    right: Literal["C", "P"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerOrder:
    """One accepted signal to execute at IB.

    ``quantity`` is in shares, contracts, base-currency units (Forex) or coins (Crypto);
    ``price`` is the signal's market price (needed for a Crypto market buy, sent as a cash
    amount); ``limit_price`` is set for ``LMT``. ``deadline`` is the signal's time plus the
    alert's maximum age: an order that cannot be sent by then is rejected, never sent late.
    ``side="close"`` (or ``close_position``) ignores ``quantity`` and flattens the position
    IB reports; ``side="target"`` takes ``quantity`` as the signed position to reach and trades
    the difference with the position IB reports. ``option`` gives an option's fields when
    ``symbol`` is not an OCC symbol.
    """

    signal_id: str
    tenant_id: str
    broker_id: str
    instrument_type: InstrumentType
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    deadline: datetime
    limit_price: Decimal | None = None
    price: Decimal | None = None
    currency: str = "USD"
    option: OptionSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerOutcome:
    """Something that happened to a signal's order at IB.

    - ``submitted``: IB acknowledged the order (once per signal); ``quantity`` is what was
      sent (after rounding, ``reason`` says how), ``price`` the limit price.
    - ``filled``: one execution (a partial fill is its own outcome): ``fill_id`` is IB's
      execId, ``quantity``/``price`` the execution's, ``commission`` from IB's commission
      report (``None`` if none arrived within the wait), ``cumulative_quantity`` the order's
      filled quantity so far.
    - ``rejected``: refused before sending (``code`` None) or by IB (``code`` = IB's error
      code, ``reason`` = IB's message).
    - ``cancelled``: cancelled on request, by IB (``code`` when an IB error ended an order
      that had already partly filled), or found cancelled at IB after a reconnect.
    """

    kind: OutcomeKind
    signal_id: str
    tenant_id: str
    broker_id: str
    time: datetime
    broker_order_id: str | None = None
    """IB's permId: stable across sessions and clients (orderIds are not)."""
    fill_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    commission: Decimal | None = None
    commission_currency: str | None = None
    cumulative_quantity: Decimal | None = None
    order_quantity: Decimal | None = None
    """The quantity the order was sent for (None for a cash-quantity Crypto buy)."""
    code: int | None = None
    reason: str | None = None
    side: str | None = None
    """For a fill: "buy" or "sell", as IB executed it."""


OutcomeSink = Callable[[BrokerOutcome], Awaitable[None]]
