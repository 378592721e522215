"""The paper-trading sandbox's matching engine, modelled on Alpaca's paper trading.

Pure and deterministic: no clock, no randomness, no I/O; every time comes from the
arguments. It is used event-sourced. ``decide_*`` functions read the account and return
outcomes (``Filled``, ``Resting``, ``Rejected``, ``Cancelled``) without changing it;
``apply_outcome`` applies one recorded outcome and ``apply_price`` records a price, so
an account is rebuilt by replaying what was recorded, in the same order.

Rules:

- Current price of a symbol: the request's ``price`` when it is given and > 0, else the
  account's last known price for the symbol. ``decide_order`` fills at the request's
  price but marks nothing at it; the caller records it with ``apply_price`` afterwards.
  A price that is not > 0 is no price: ``decide_price`` ignores it and ``apply_price``
  does not record it.
- Market orders fill at once at the current price; with no current price they are
  rejected: "no price known for SYMBOL: send Price with the signal".
- Slippage goes against the trader on market fills: a buy fills at
  ``price * (1 + bps/10000)``, a sell at ``price * (1 - bps/10000)``.
- Fill prices are rounded to 4 decimal places, half to even (ROUND_HALF_EVEN), after
  slippage. A limit fill is then capped at its limit, so it has more than 4 decimal
  places only when the limit itself has.
- Limit orders are marketable at placement when the current price is at or better than
  the limit (buy: price <= limit; sell: price >= limit). They fill at once at the
  current price with slippage, but never beyond the limit: a buy never pays more than
  its limit, a sell never gets less. Otherwise, or with no current price known, they
  rest.
- A resting order fills in full when ``decide_price`` brings a price that crosses it
  (buy: price <= limit; sell: price >= limit), at that price, rounded, which is at or
  better than the limit; no slippage. Several orders crossed by one price fill in order
  of placement (``placed_at``, then order id), each checked against the account the
  previous ones left. An order whose ``expires_at`` is at or before the price's time no
  longer fills; ``decide_expiry`` cancels it ("expired"). ``decide_order`` fills only
  its own order: a signal's price reaches resting orders through ``decide_price``.
- Commission per fill = ``max(commission_per_share * quantity, min_commission)``, paid
  from cash.
- Buy ``q`` at ``p`` with commission ``c``: ``cash -= q*p + c``. Sell:
  ``cash += q*p - c``. Shorts are allowed.
- Positions: signed quantity (negative = short) and weighted-average cost, always
  positive. Reductions keep the average cost; a position that crosses zero resets it,
  the part beyond zero opening at the fill price; a position that reaches zero is
  removed. Realised P&L is booked on reductions: ``(fill - avg) * closed quantity`` for
  a long, ``(avg - fill) * closed quantity`` for a short, commission excluded.
- Equity = cash + sum(quantity * last price); a symbol without a known price counts at
  its average cost.
- Buying power: an order is rejected ("insufficient buying power: ..." with the
  figures) when the gross exposure after its fill would exceed equity * max_leverage,
  measured as a risk desk would, so that an order's own price never creates the equity
  that pays for it:
  - positions held before the order count at the account's marks (its last known
    prices, else average cost), never at the order's price;
  - the quantity the order opens (all of it, or for an order that crosses zero only
    the part beyond zero) counts at its fill price;
  - equity is the equity at those marks, less the order's commission, less any loss
    the part that closes realises at the fill price against the marks (a gain does
    not count).
  An order that only reduces a position (opposite side, quantity <= the position's)
  is always allowed. A resting order is checked at placement as if filled at its limit
  price, and again when it fills; failing then, it is cancelled with that reason. Open
  orders reserve nothing. Callers record an order's price (``apply_price``) only after
  the order is decided.
- Rejected before anything else: a quantity that is not > 0, a side other than buy or
  sell, an order type other than MKT or LMT, a limit order without a limit price > 0, an
  empty symbol or order id, and an order id that is already open. A fill price that
  rounds to 0 is rejected too (cancelled for a resting order).
- Fill ids are ``{order_id}-fill-{n}``, n = 1 for the first fill of that order.

Amounts are exact Decimals (ints are accepted; a float raises TypeError). The weighted
average needs a division, done at 34 significant digits (``PAPER_CONTEXT``), as is the
realised P&L derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, Literal

PAPER_CONTEXT = Context(prec=34, traps=[InvalidOperation, DivisionByZero, Overflow])

ZERO = Decimal(0)
TICK = Decimal("0.0001")
BPS = Decimal(10000)

Side = Literal["buy", "sell"]
OrderType = Literal["MKT", "LMT"]

SIDES = frozenset({"buy", "sell"})
ORDER_TYPES = frozenset({"MKT", "LMT"})


@dataclass(frozen=True, slots=True)
class PaperSettings:
    """Costs and limits of a paper account; buying power = equity * max_leverage."""

    starting_cash: Decimal = Decimal("100000")
    commission_per_share: Decimal = ZERO
    min_commission: Decimal = ZERO
    slippage_bps: Decimal = ZERO
    max_leverage: Decimal = Decimal(2)

    def __post_init__(self) -> None:
        for name in ("starting_cash", "commission_per_share", "min_commission", "slippage_bps"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative Decimal, not {value!r}")
        if not self.slippage_bps < BPS:
            raise ValueError("slippage_bps must be below 10000")
        if not _is_number(self.max_leverage) or not self.max_leverage > 0:
            raise ValueError(f"max_leverage must be a positive Decimal, not {self.max_leverage!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PaperSettings:
        """Settings from StartingCash, CommissionPerShare, MinCommission, SlippageBps and
        MaxLeverage (numbers; absent or null keeps the default)."""
        keys = {
            "StartingCash": "starting_cash",
            "CommissionPerShare": "commission_per_share",
            "MinCommission": "min_commission",
            "SlippageBps": "slippage_bps",
            "MaxLeverage": "max_leverage",
        }
        values = {
            name: _config_number(key, config[key])
            for key, name in keys.items()
            if config.get(key) is not None
        }
        return cls(**values)


@dataclass(slots=True)
class Position:
    """Signed quantity (negative = short) and average entry price, always positive."""

    quantity: Decimal
    avg_cost: Decimal


@dataclass(slots=True)
class RestingOrder:
    """A limit order waiting for a crossing price; ``quantity`` is what remains."""

    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal
    placed_at: datetime
    expires_at: datetime | None = None
    # Fills already applied, so the next fill id stays unique after a partial fill.
    fill_count: int = 0


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to decide; ``price`` is the signal's reference price, if it sent one."""

    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    price: Decimal | None
    time: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution; ``price`` is per share, ``commission`` for the whole fill."""

    fill_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class Filled:
    """The order (or resting order) filled."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class Resting:
    """The limit order rests until a price crosses it."""

    order: RestingOrder


@dataclass(frozen=True, slots=True)
class Rejected:
    """The order was refused; nothing changes."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The resting order is gone (cancelled, expired, or refused when it would fill)."""

    order_id: str
    reason: str


Outcome = Filled | Resting | Rejected | Cancelled


@dataclass(slots=True)
class PaperAccount:
    """The state of one paper account, rebuilt by replaying prices and outcomes."""

    cash: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    open_orders: dict[str, RestingOrder] = field(default_factory=dict)
    last_prices: dict[str, Decimal] = field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    commissions_paid: Decimal = ZERO

    @classmethod
    def open(cls, settings: PaperSettings) -> PaperAccount:
        """A new account holding only the starting cash."""
        return cls(cash=settings.starting_cash)

    def equity(self) -> Decimal:
        """Cash plus positions at their last price (at average cost when none is known)."""
        with localcontext(PAPER_CONTEXT):
            return self.cash + sum(
                (
                    position.quantity * self.last_prices.get(symbol, position.avg_cost)
                    for symbol, position in self.positions.items()
                ),
                ZERO,
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: Decimals as strings, times as ISO 8601 UTC with 'Z'."""
        return {
            "cash": str(self.cash),
            "realized_pnl": str(self.realized_pnl),
            "commissions_paid": str(self.commissions_paid),
            "positions": {
                symbol: {"quantity": str(p.quantity), "avg_cost": str(p.avg_cost)}
                for symbol, p in self.positions.items()
            },
            "open_orders": [_order_to_dict(order) for order in self.open_orders.values()],
            "last_prices": {symbol: str(price) for symbol, price in self.last_prices.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaperAccount:
        """The account ``to_dict`` wrote."""
        orders = [_order_from_dict(item) for item in data.get("open_orders", ())]
        return cls(
            cash=Decimal(data["cash"]),
            realized_pnl=Decimal(data.get("realized_pnl", "0")),
            commissions_paid=Decimal(data.get("commissions_paid", "0")),
            positions={
                symbol: Position(Decimal(p["quantity"]), Decimal(p["avg_cost"]))
                for symbol, p in data.get("positions", {}).items()
            },
            open_orders={order.order_id: order for order in orders},
            last_prices={
                symbol: Decimal(price) for symbol, price in data.get("last_prices", {}).items()
            },
        )


# Decide: read the account, return outcomes, change nothing.


def decide_order(
    account: PaperAccount, settings: PaperSettings, request: OrderRequest
) -> list[Outcome]:
    """Fill, rest or reject one order; other resting orders are left to ``decide_price``."""
    with localcontext(PAPER_CONTEXT):
        problem = _request_problem(account, request)
        if problem:
            return [Rejected(request.order_id, problem)]
        current = _positive(request.price, "price")
        if current is None:
            current = account.last_prices.get(request.symbol)
        side = request.side
        if request.order_type == "MKT":
            if current is None:
                reason = f"no price known for {request.symbol}: send Price with the signal"
                return [Rejected(request.order_id, reason)]
            price = _round(_slipped(current, side, settings.slippage_bps))
        else:
            limit = request.limit_price
            assert limit is not None  # checked by _request_problem
            if current is None or not _crosses(side, current, limit):
                return [_rest(account, settings, request, limit)]
            price = _cap(_round(_slipped(current, side, settings.slippage_bps)), side, limit)
        fill = Fill(
            fill_id=f"{request.order_id}-fill-1",
            order_id=request.order_id,
            symbol=request.symbol,
            side=side,
            quantity=request.quantity,
            price=price,
            commission=_commission(settings, request.quantity),
            time=request.time,
        )
        problem = _fill_problem(account, settings, fill)
        return [Rejected(request.order_id, problem) if problem else Filled(fill)]


def decide_price(
    account: PaperAccount,
    settings: PaperSettings,
    symbol: str,
    price: Decimal,
    time: datetime,
) -> list[Outcome]:
    """Fill the resting orders on ``symbol`` that a new price crosses (Filled each), or
    cancel those that buying power no longer allows (Cancelled)."""
    with localcontext(PAPER_CONTEXT):
        current = _positive(price, "price")
        if current is None:
            return []
        crossed = sorted(
            (
                order
                for order in account.open_orders.values()
                if order.symbol == symbol
                and (order.expires_at is None or order.expires_at > time)
                and _crosses(order.side, current, order.limit_price)
            ),
            key=lambda order: (order.placed_at, order.order_id),
        )
        if not crossed:
            return []
        # Each fill is checked against the account as the previous fills left it, at the
        # marks known before this price.
        scratch = _copy(account)
        outcomes: list[Outcome] = []
        for order in crossed:
            fill = Fill(
                fill_id=f"{order.order_id}-fill-{order.fill_count + 1}",
                order_id=order.order_id,
                symbol=symbol,
                side=order.side,
                quantity=order.quantity,
                price=_cap(_round(current), order.side, order.limit_price),
                commission=_commission(settings, order.quantity),
                time=time,
            )
            problem = _fill_problem(scratch, settings, fill)
            outcome: Outcome = Cancelled(order.order_id, problem) if problem else Filled(fill)
            _apply(scratch, outcome)
            outcomes.append(outcome)
        return outcomes


def decide_expiry(account: PaperAccount, now: datetime) -> list[Outcome]:
    """Cancel ("expired") the resting orders whose ``expires_at`` is at or before ``now``."""
    expired = sorted(
        (
            order
            for order in account.open_orders.values()
            if order.expires_at is not None and order.expires_at <= now
        ),
        key=lambda order: (order.expires_at, order.order_id),
    )
    return [Cancelled(order.order_id, "expired") for order in expired]


def decide_cancel(account: PaperAccount, order_id: str, reason: str) -> list[Outcome]:
    """Cancel an open order; [] when it is not open."""
    return [Cancelled(order_id, reason)] if order_id in account.open_orders else []


def close_order(
    account: PaperAccount,
    order_id: str,
    symbol: str,
    time: datetime,
    price: Decimal | None,
) -> OrderRequest | None:
    """The market order that flattens the position in ``symbol``; None when flat."""
    position = account.positions.get(symbol)
    if position is None or not position.quantity:
        return None
    return OrderRequest(
        order_id=order_id,
        symbol=symbol,
        side="sell" if position.quantity > 0 else "buy",
        quantity=abs(position.quantity),
        order_type="MKT",
        limit_price=None,
        price=price,
        time=time,
    )


# Evolve: apply one recorded fact to the account.


def apply_price(account: PaperAccount, symbol: str, price: Decimal) -> None:
    """Remember the last price of ``symbol``; a price that is not > 0 is ignored."""
    current = _positive(price, "price")
    if current is not None:
        account.last_prices[symbol] = current


def apply_outcome(account: PaperAccount, outcome: Outcome) -> None:
    """Apply one outcome in place: a fill moves cash, the position and realised P&L and
    reduces (or removes) its resting order; Resting adds the order; Cancelled removes it;
    Rejected changes nothing."""
    with localcontext(PAPER_CONTEXT):
        _apply(account, outcome)


def _apply(account: PaperAccount, outcome: Outcome) -> None:
    if isinstance(outcome, Filled):
        _apply_fill(account, outcome.fill)
    elif isinstance(outcome, Resting):
        # A copy, so that later fills do not change the recorded outcome's order.
        account.open_orders[outcome.order.order_id] = replace(outcome.order)
    elif isinstance(outcome, Cancelled):
        account.open_orders.pop(outcome.order_id, None)
    elif not isinstance(outcome, Rejected):
        raise TypeError(f"not a paper outcome: {type(outcome).__name__}")


def _apply_fill(account: PaperAccount, fill: Fill) -> None:
    qty = fill.quantity
    price = fill.price
    if fill.side == "buy":
        account.cash -= qty * price + fill.commission
        delta = qty
    elif fill.side == "sell":
        account.cash += qty * price - fill.commission
        delta = -qty
    else:
        raise ValueError(f"fill side must be buy or sell, not {fill.side!r}")
    account.commissions_paid += fill.commission

    order = account.open_orders.get(fill.order_id)
    if order is not None:
        order.quantity -= qty
        order.fill_count += 1
        if order.quantity <= 0:
            del account.open_orders[fill.order_id]

    positions = account.positions
    position = positions.get(fill.symbol)
    if position is None:
        positions[fill.symbol] = Position(delta, price)
        return
    old = position.quantity
    new = old + delta
    if (old > 0) == (delta > 0):
        # Adding to the position: weighted average of the old and new lots.
        position.avg_cost = (abs(old) * position.avg_cost + qty * price) / abs(new)
        position.quantity = new
        return
    closed = min(qty, abs(old))
    pnl = (price - position.avg_cost) * closed
    account.realized_pnl += pnl if old > 0 else -pnl
    if not new:
        del positions[fill.symbol]
        return
    if (new > 0) != (old > 0):
        position.avg_cost = price  # crossed zero: the remainder is a new lot
    position.quantity = new


# Helpers.


def _is_number(value: object) -> bool:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        return False
    return Decimal(value).is_finite()


def _positive(value: Decimal | int | None, name: str) -> Decimal | None:
    """``value`` as a Decimal when it is a finite number > 0, else None."""
    if value is None:
        return None
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        # Floats are refused so that inexact amounts cannot reach the accounting.
        raise TypeError(f"{name} must be a Decimal or an int, not {value!r}")
    value = Decimal(value)
    return value if value.is_finite() and value > 0 else None


def _config_number(key: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number, not {value!r}")
    if isinstance(value, float):
        value = repr(value)  # shortest round-tripping form: 0.1 -> Decimal("0.1")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"{key} must be a number, not {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"{key} must be a finite number, not {value!r}")
    return result


def _request_problem(account: PaperAccount, request: OrderRequest) -> str | None:
    if not isinstance(request.order_id, str) or not request.order_id:
        return "order id must be a non-empty string"
    if not isinstance(request.symbol, str) or not request.symbol:
        return "symbol must be a non-empty string"
    if request.side not in SIDES:
        return f"side must be buy or sell, not {request.side!r}"
    if request.order_type not in ORDER_TYPES:
        return f"order type must be MKT or LMT, not {request.order_type!r}"
    if _positive(request.quantity, "quantity") is None:
        return f"quantity must be greater than 0, not {request.quantity}"
    if request.order_type == "LMT" and _positive(request.limit_price, "limit price") is None:
        return f"a limit order needs a limit price greater than 0, not {request.limit_price}"
    if request.order_id in account.open_orders:
        return f"order {request.order_id} is already open"
    return None


def _crosses(side: str, price: Decimal, limit: Decimal) -> bool:
    return price <= limit if side == "buy" else price >= limit


def _slipped(price: Decimal, side: str, bps: Decimal) -> Decimal:
    return price * (BPS + bps) / BPS if side == "buy" else price * (BPS - bps) / BPS


def _round(price: Decimal) -> Decimal:
    return price.quantize(TICK, rounding=ROUND_HALF_EVEN)


def _cap(price: Decimal, side: str, limit: Decimal) -> Decimal:
    return min(price, limit) if side == "buy" else max(price, limit)


def _commission(settings: PaperSettings, quantity: Decimal) -> Decimal:
    return max(settings.commission_per_share * quantity, settings.min_commission)


def _rest(
    account: PaperAccount, settings: PaperSettings, request: OrderRequest, limit: Decimal
) -> Outcome:
    commission = _commission(settings, request.quantity)
    problem = _buying_power_problem(
        account, settings, request.symbol, request.side, request.quantity, limit, commission
    )
    if problem:
        return Rejected(request.order_id, problem)
    order = RestingOrder(
        order_id=request.order_id,
        symbol=request.symbol,
        side=request.side,
        quantity=request.quantity,
        limit_price=limit,
        placed_at=request.time,
        expires_at=request.expires_at,
    )
    return Resting(order)


def _fill_problem(account: PaperAccount, settings: PaperSettings, fill: Fill) -> str | None:
    if not fill.price > 0:
        return f"the fill price of {fill.symbol} rounds to {fill.price}"
    return _buying_power_problem(
        account, settings, fill.symbol, fill.side, fill.quantity, fill.price, fill.commission
    )


def _buying_power_problem(
    account: PaperAccount,
    settings: PaperSettings,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
) -> str | None:
    """The rule is in the module's docstring: positions held at the account's marks, the
    quantity the order opens at its price, no gain from the order's price in equity."""
    position = account.positions.get(symbol)
    held = position.quantity if position is not None else ZERO
    delta = quantity if side == "buy" else -quantity
    opposite = bool(held) and (held > 0) != (delta > 0)
    if opposite and quantity <= abs(held):
        return None  # only reduces the position
    marks = {s: account.last_prices.get(s, p.avg_cost) for s, p in account.positions.items()}
    equity = account.equity() - commission
    exposure = sum(
        (abs(p.quantity * marks[s]) for s, p in account.positions.items() if s != symbol), ZERO
    )
    opened = quantity
    if opposite:
        # It closes the whole position first: a loss on that at the fill price counts.
        equity += min((price - marks[symbol]) * held, ZERO)
        opened = quantity - abs(held)
    elif held:
        exposure += abs(held * marks[symbol])
    exposure += opened * price
    allowed = equity * settings.max_leverage
    if exposure <= allowed:
        return None
    return (
        f"insufficient buying power: gross exposure {exposure:.2f} after this order would"
        f" exceed {allowed:.2f} (equity {equity:.2f}, max leverage {settings.max_leverage})"
    )


def _copy(account: PaperAccount) -> PaperAccount:
    return PaperAccount(
        cash=account.cash,
        positions={s: replace(p) for s, p in account.positions.items()},
        open_orders={i: replace(o) for i, o in account.open_orders.items()},
        last_prices=dict(account.last_prices),
        realized_pnl=account.realized_pnl,
        commissions_paid=account.commissions_paid,
    )


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _order_to_dict(order: RestingOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": str(order.quantity),
        "limit_price": str(order.limit_price),
        "placed_at": _format_time(order.placed_at),
        "expires_at": None if order.expires_at is None else _format_time(order.expires_at),
        "fill_count": order.fill_count,
    }


def _order_from_dict(data: Mapping[str, Any]) -> RestingOrder:
    expires_at = data.get("expires_at")
    return RestingOrder(
        order_id=data["order_id"],
        symbol=data["symbol"],
        side=data["side"],
        quantity=Decimal(data["quantity"]),
        limit_price=Decimal(data["limit_price"]),
        placed_at=_parse_time(data["placed_at"]),
        expires_at=None if expires_at is None else _parse_time(expires_at),
        fill_count=int(data.get("fill_count", 0)),
    )
