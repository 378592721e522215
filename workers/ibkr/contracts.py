"""Signals to IB contracts and orders (pure: no I/O).

Rules (the README repeats them):

- STK → ``Stock(SYMBOL, 'SMART', currency)``; a share class written with a dot or a slash
  (``BRK.B``, ``BRK/B``) is sent the way IB spells it, ``BRK B``.
- Forex → ``Forex(pair)`` on IDEALPRO, from ``EURUSD``, ``EUR.USD`` or ``EUR/USD`` (or a base
  currency such as ``EUR`` with the signal's currency); the quantity is in base-currency units.
- Crypto → ``Crypto(SYMBOL, 'PAXOS', 'USD')``, from ``BTC``, ``BTCUSD``, ``BTC.USD`` or
  ``BTC/USD``. A market buy is sent as a cash amount (IB takes no other kind): ``cashQty`` =
  quantity × the signal's price, rounded down to the cent, ``totalQuantity`` 0; a sell is sent
  in coins. Crypto market orders are ``IOC`` (the only time in force IB allows for them).
- Options → an OCC symbol (``AAPL  260619C00200000``, with or without the padding), or
  ``AAPL 20260619 200 C``, or explicit fields (``OptionSpec``) →
  ``Option(root, YYYYMMDD, strike, right, 'SMART', currency)``.
- Quantities are rounded down: to whole shares (IB refuses fractional share orders through
  the API, error 10243), whole contracts, whole base-currency units (Forex) and 8 decimal
  places (Crypto). A quantity that rounds down to 0 is rejected before anything is sent.
- Limit prices are rounded to the contract's minimum tick in the trader's favour (a buy down,
  a sell up), never beyond the limit sent.
- Every order carries ``orderRef`` = the signal id; orders other than Crypto market orders are
  ``DAY`` orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, InvalidOperation

from ib_async import Contract, Crypto, Forex, LimitOrder, MarketOrder, Option, Order, Stock
from ib_async.util import UNSET_DOUBLE

from .orders import BrokerOrder, OptionSpec

CRYPTO_EXCHANGE = "PAXOS"
FOREX_EXCHANGE = "IDEALPRO"
UNITS = {
    "STK": Decimal(1),
    "Options": Decimal(1),
    "Forex": Decimal(1),
    "Crypto": Decimal("1e-8"),
}
CENT = Decimal("0.01")

_OCC = re.compile(r"^(?P<root>[A-Z0-9./]{1,6}?) *(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_FIELDS = re.compile(
    r"^(?P<root>[A-Z0-9./]{1,6})\s+(?P<date>\d{4}-?\d{2}-?\d{2})\s+"
    r"(?P<strike>\d+(?:\.\d+)?)\s*(?P<right>C|P|CALL|PUT)$"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class OrderRefused(Exception):
    """The signal cannot become an IB order; it is rejected before anything is sent."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """The ib_async order for a signal, and what was changed on the way."""

    order: Order
    quantity: Decimal | None
    """Units sent (None when sent as a cash amount)."""
    cash_quantity: Decimal | None
    limit_price: Decimal | None
    notes: tuple[str, ...]


# contracts


def parse_option(symbol: str) -> OptionSpec | None:
    """An option's fields from ``AAPL  260619C00200000`` (OCC, padding optional) or
    ``AAPL 20260619 200 C``; None if the text is neither."""
    text = symbol.strip().upper()
    m = _OCC.match(text)
    if m:
        return OptionSpec(
            m["root"].strip(),
            "20" + m["date"],
            Decimal(int(m["strike"])) / 1000,
            "C" if m["right"] == "C" else "P",
        )
    m = _FIELDS.match(text)
    if m:
        return OptionSpec(
            m["root"],
            m["date"].replace("-", ""),
            Decimal(m["strike"]),
            "C" if m["right"][0] == "C" else "P",
        )
    return None


def forex_pair(symbol: str, currency: str = "USD") -> str:
    """``EURUSD`` from ``EURUSD``, ``EUR.USD``, ``EUR/USD`` or ``EUR`` (with ``currency``)."""
    text = re.sub(r"[./\-_ ]", "", symbol.strip().upper())
    if _CURRENCY.match(text) and currency.upper() != text:
        text += currency.upper()
    if len(text) != 6 or not text.isalpha():
        raise OrderRefused(
            f"{symbol!r} is not a currency pair: send Forex symbols as EURUSD or EUR.USD"
        )
    return text


def crypto_symbol(symbol: str) -> str:
    """``BTC`` from ``BTC``, ``BTCUSD``, ``BTC.USD``, ``BTC/USD`` or ``BTC-USD``."""
    base, _, quote = _split_pair(symbol.strip().upper())
    if quote and quote != "USD":
        raise OrderRefused(f"IB trades {base} against USD only (at PAXOS), not {quote}")
    if not base.isalnum():
        raise OrderRefused(f"{symbol!r} is not a crypto symbol: send it as BTC or BTC.USD")
    return base


def _split_pair(text: str) -> tuple[str, str, str]:
    for separator in "./-":
        if separator in text:
            base, _, quote = text.partition(separator)
            return base, separator, quote
    if len(text) > 3 and text.endswith("USD"):
        return text[:-3], "", "USD"
    return text, "", ""


def stock_symbol(symbol: str) -> str:
    """IB spells share classes with a space: ``BRK.B`` → ``BRK B``."""
    return re.sub(r"[./]", " ", symbol.strip().upper())


def contract_for(
    instrument_type: str, symbol: str, currency: str = "USD", option: OptionSpec | None = None
) -> Contract:
    """The unqualified ib_async contract for a signal's instrument."""
    currency = (currency or "USD").upper()
    if instrument_type == "STK":
        return Stock(stock_symbol(symbol), "SMART", currency)
    if instrument_type == "Forex":
        return Forex(forex_pair(symbol, currency), exchange=FOREX_EXCHANGE)
    if instrument_type == "Crypto":
        return Crypto(crypto_symbol(symbol), CRYPTO_EXCHANGE, "USD")
    if instrument_type == "Options":
        spec = option or parse_option(symbol)
        if spec is None:
            raise OrderRefused(
                f"{symbol!r} is not an option symbol: send an OCC symbol such as "
                "'AAPL  260619C00200000' (or AAPL260619C00200000)"
            )
        return Option(
            spec.symbol, spec.expiry, float(spec.strike), spec.right, "SMART", currency=currency
        )
    raise OrderRefused(f"unknown instrument type {instrument_type!r}")


def contract_key(contract: Contract) -> tuple[str, str, str, str, str, float, str]:
    """What identifies a requested contract in the qualification cache."""
    return (
        contract.secType,
        contract.symbol,
        contract.currency,
        contract.exchange,
        contract.lastTradeDateOrContractMonth,
        float(contract.strike or 0),
        contract.right,
    )


# orders


def round_quantity(instrument_type: str, quantity: Decimal, unit_name: str = "") -> Decimal:
    """Round down to what IB takes; refuse a quantity that rounds down to 0."""
    unit = UNITS.get(instrument_type, Decimal(1))
    rounded = quantity.quantize(unit, rounding=ROUND_DOWN)
    if rounded > 0:
        return quantity if rounded == quantity else plain(rounded)
    if instrument_type == "STK":
        raise OrderRefused(
            f"IB does not take fractional share orders through its API (error 10243): "
            f"{quantity} rounds down to 0 shares"
        )
    if instrument_type == "Options":
        raise OrderRefused(f"{quantity} rounds down to 0 option contracts")
    if instrument_type == "Forex":
        raise OrderRefused(
            f"{quantity} rounds down to 0 {unit_name or 'units'}: Forex quantities are whole "
            "units of the base currency"
        )
    raise OrderRefused(f"{quantity} rounds down to 0 (Crypto quantities have 8 decimal places)")


def round_limit(limit: Decimal, side: str, min_tick: Decimal | None) -> Decimal:
    """A buy's limit rounds down to the tick, a sell's up: never beyond the limit sent."""
    if not min_tick or min_tick <= 0:
        return limit
    rounding = ROUND_FLOOR if side == "buy" else ROUND_CEILING
    rounded = (limit / min_tick).to_integral_value(rounding=rounding) * min_tick
    return limit if rounded == limit else plain(rounded)


def prepare_order(
    order: BrokerOrder,
    contract: Contract,
    *,
    min_tick: Decimal | None = None,
    account: str = "",
) -> PreparedOrder:
    """The ib_async order for a buy or a sell (``side`` already resolved for a close)."""
    if order.side not in ("buy", "sell"):
        raise OrderRefused(f"cannot send a {order.side!r} order: resolve it to buy or sell")
    action = "BUY" if order.side == "buy" else "SELL"
    notes: list[str] = []
    quantity = round_quantity(order.instrument_type, _decimal(order.quantity), contract.symbol)
    if quantity != order.quantity:
        notes.append(f"quantity {order.quantity} rounded down to {quantity}")
    common = {"orderRef": order.signal_id, "account": account}
    if order.order_type == "LMT":
        if order.limit_price is None or order.limit_price <= 0:
            raise OrderRefused("a limit order needs a limit price above 0 (send Price)")
        limit = round_limit(_decimal(order.limit_price), order.side, min_tick)
        if limit <= 0:
            raise OrderRefused(f"the limit {order.limit_price} rounds to 0 at tick {min_tick}")
        if limit != order.limit_price:
            notes.append(f"limit {order.limit_price} rounded to {limit} (tick {min_tick})")
        ib_order = LimitOrder(action, float(quantity), float(limit), tif="DAY", **common)
        return PreparedOrder(ib_order, quantity, None, limit, tuple(notes))
    if order.order_type != "MKT":
        raise OrderRefused(f"unsupported order type {order.order_type!r}: MKT or LMT")
    if order.instrument_type == "Crypto" and action == "BUY":
        price = order.price
        if price is None or price <= 0:
            raise OrderRefused(
                "a Crypto market buy is sent to IB as a cash amount (quantity × price): "
                "send Price with the signal"
            )
        cash = (quantity * _decimal(price)).quantize(CENT, rounding=ROUND_DOWN)
        if cash <= 0:
            raise OrderRefused(f"{quantity} × {price} is less than 0.01 USD")
        notes.append(f"sent as {cash} USD of {contract.symbol} ({quantity} × {price})")
        ib_order = MarketOrder(action, 0, cashQty=float(cash), tif="IOC", **common)
        return PreparedOrder(ib_order, None, cash, None, tuple(notes))
    tif = "IOC" if order.instrument_type == "Crypto" else "DAY"
    ib_order = MarketOrder(action, float(quantity), tif=tif, **common)
    return PreparedOrder(ib_order, quantity, None, None, tuple(notes))


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros or an exponent: ``10``, ``0.05``, ``3000``."""
    return Decimal(format(value.normalize(), "f"))


def _decimal(value: Decimal | float | int | str) -> Decimal:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise OrderRefused(f"not a number: {value!r}") from exc


def to_decimal(value: float | None) -> Decimal | None:
    """An IB float as the shortest decimal that reads back as it: ``190.5``, ``100`` (not
    ``100.0``); None for IB's unset value."""
    if value is None or value != value or abs(value) >= UNSET_DOUBLE:
        return None
    return plain(Decimal(repr(float(value))))
