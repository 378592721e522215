"""What a SubmitSignal does: checks, sizing, and the order it becomes.

The rules, in order (the README repeats them):

1. A signal Id already recorded is not acted on again. One whose ``Quantity`` or ``Price``
   is above the schema's bound (``MAX_QUANTITY``, ``MAX_PRICE``) is rejected.
2. The alert is found by ``CorrelationId``; unknown or disabled: rejected.
3. The broker is the signal's ``BrokerId``, else the alert's; unknown, disabled, or of a kind
   this worker cannot trade: rejected.
4. A signal older than the alert's ``MaxSignalAgeSeconds`` (default 60) after its ``Date`` (else
   the event's time) is rejected, never executed late.
5. Quantity: ``AccountRiskPercentage`` > 0 sizes by account equity × percentage ÷ 100 ÷ price;
   else ``AccountQuantityMultiplier`` > 0 multiplies ``Quantity``; else the alert's own
   ``RiskPercentage``, then ``QuantityMultiplier``, apply the same way; else ``Quantity``.
   Sized quantities are rounded down: to whole units for STK, Options and Forex, to 8 decimal
   places for Crypto; a sized quantity of 0, or above ``MAX_QUANTITY``, is rejected.
6. ``buy`` / ``sell`` open or add; ``close`` flattens the position in the symbol (no position:
   rejected, "nothing to close"). A strategy alert in position mode trades the difference
   between the position and the target it carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from baas.core.intake import parse_time
from baas.core.trading import events as ev
from baas.core.trading import paper
from baas.core.trading.paper import (
    Cancelled,
    Filled,
    OrderRequest,
    PaperSettings,
    Rejected,
    Resting,
    close_order,
    decide_order,
    decide_price,
)
from baas.core.trading.readmodel import ReadModel, evolve

TRADABLE_KINDS = frozenset({"paper", "ibkr"})
PAPER = "paper"
# The schemas' bounds on Quantity (the most one signal trades, sized or not) and Price; a
# command an older gateway let in beyond them is rejected here.
MAX_QUANTITY = Decimal(1_000_000_000)
MAX_PRICE = Decimal(1_000_000_000)
_UNITS = {"STK": Decimal(1), "Options": Decimal(1), "Forex": Decimal(1), "Crypto": Decimal("1e-8")}


@dataclass(frozen=True, slots=True)
class SignalPolicy:
    limit_order_ttl: timedelta = timedelta(days=1)
    clock_skew: timedelta = timedelta(seconds=5)
    tradable_kinds: frozenset[str] = TRADABLE_KINDS


class _Rejection(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def decide_signal(
    data: dict[str, Any],
    event_time: datetime,
    target_position: Decimal | None,
    model: ReadModel,
    now: datetime,
    policy: SignalPolicy,
) -> list[ev.DomainEvent]:
    """The outcomes of one signal; ``model`` evolves with them as they are decided."""
    signal_id = data["Id"]
    if signal_id in model.signals:
        return []
    recorded: list[ev.DomainEvent] = []

    def record(event: ev.DomainEvent) -> None:
        evolve(model, event)
        recorded.append(event)

    summary = _summary(data)
    observed: ev.DomainEvent | None = None
    request: OrderRequest | None = None
    try:
        _check_bounds(data)
        alert, broker = _route(data, model)
        summary.update({"BrokerId": broker["BrokerId"], "StrategyId": alert.get("StrategyId")})
        _check_age(data, event_time, alert, now, policy)
        if broker["Kind"] not in policy.tradable_kinds:
            raise _Rejection(
                f"broker {broker['BrokerId']!r} is of kind {broker['Kind']!r}, "
                "which this gateway cannot trade yet"
            )
        broker_id = broker["BrokerId"]
        if broker["Kind"] != PAPER:
            summary.update(
                _external_order(data, alert, model, broker_id, event_time, target_position)
            )
            record(ev.DomainEvent(ev.SIGNAL_ACCEPTED, signal_id, now, summary))
            return recorded
        settings = _paper_settings(broker)
        # A market signal's Price is what the market trades at; a limit signal's is its limit.
        # It becomes the account's mark only once the signal's orders are decided, so that it
        # never values what the account held before (the buying power rule in paper.py).
        price = _decimal(data.get("Price")) if data["OrderType"] == "MKT" else None
        if price is not None and price > 0:
            observed = ev.DomainEvent(
                ev.PRICE_OBSERVED,
                data["Symbol"],
                now,
                {"BrokerId": broker_id, "Symbol": data["Symbol"], "Price": str(price)},
            )
            for outcome in decide_price(
                model.account(broker_id), settings, data["Symbol"], price, now
            ):
                record(_order_event(outcome, broker_id, model, now))
        request = _order_request(data, alert, model, broker_id, target_position, now, policy)
    except _Rejection as rejection:
        record(
            ev.DomainEvent(
                ev.SIGNAL_REJECTED, signal_id, now, {**summary, "Reason": rejection.reason}
            )
        )
    if request is not None:
        summary.update({"Side": request.side, "Quantity": str(request.quantity)})
        record(ev.DomainEvent(ev.SIGNAL_ACCEPTED, signal_id, now, summary))
        submitted = False
        for outcome in decide_order(model.account(broker_id), settings, request):
            if isinstance(outcome, Resting | Filled) and not submitted:
                record(
                    _submitted(request, broker_id, resting=isinstance(outcome, Resting), now=now)
                )
                submitted = True
            if not isinstance(outcome, Resting):
                record(_order_event(outcome, broker_id, model, now))
    if observed is not None:
        record(observed)
    return recorded


def _external_order(
    data: dict[str, Any],
    alert: dict[str, Any],
    model: ReadModel,
    broker_id: str,
    event_time: datetime,
    target_position: Decimal | None,
) -> dict[str, Any]:
    """What a broker outside the sandbox (IBKR) is to be sent: the worker submits it after the
    acceptance is recorded; the broker resolves a ``close`` (flatten) and a ``target`` (reach
    this signed position) against the position it reports."""
    price = _decimal(data.get("Price")) or None
    if target_position is not None:
        side, quantity = "target", target_position
    elif data["Data"] == "close":
        side, quantity = "close", Decimal(0)
    else:
        side = data["Data"]
        quantity = _size(data, alert, model.external_equity.get(broker_id), price)
    signal_time = (parse_time(data["Date"]) if data.get("Date") else None) or event_time
    deadline = signal_time + timedelta(seconds=int(alert.get("MaxSignalAgeSeconds") or 60))
    return {
        "Side": side,
        "Quantity": str(quantity),
        "LimitPrice": str(price) if data["OrderType"] == "LMT" and price else None,
        "Deadline": deadline.isoformat(),
    }


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "SignalId": data["Id"],
        "AlertId": data["CorrelationId"],
        "BrokerId": data.get("BrokerId"),
        "Symbol": data["Symbol"],
        "Action": data["Data"],
        "RequestedQuantity": str(data["Quantity"]),
        "OrderType": data["OrderType"],
        "Price": None if data.get("Price") is None else str(data["Price"]),
        "InstrumentType": data["InstrumentType"],
    }


def _check_bounds(data: dict[str, Any]) -> None:
    for name, bound in (("Quantity", MAX_QUANTITY), ("Price", MAX_PRICE)):
        value = _decimal(data.get(name))
        if value is not None and value > bound:
            raise _Rejection(f"{name} {value} is above {bound}, the most a signal may carry")


def _paper_settings(broker: dict[str, Any]) -> PaperSettings:
    try:
        return PaperSettings.from_config(broker)
    except ValueError as exc:  # a configuration an older gateway let in
        raise _Rejection(f"broker {broker['BrokerId']!r} is misconfigured: {exc}") from None


def _route(data: dict[str, Any], model: ReadModel) -> tuple[dict[str, Any], dict[str, Any]]:
    alert = model.alerts.get(data["CorrelationId"])
    if alert is None:
        raise _Rejection(
            f"unknown alert {data['CorrelationId']!r}: configure it with ConfigureIndicatorAlert"
        )
    if not alert.get("Enabled", True):
        raise _Rejection(f"alert {alert['AlertId']!r} is disabled")
    broker_id = data.get("BrokerId") or alert.get("BrokerId")
    if not broker_id:
        raise _Rejection("no broker: the signal has no BrokerId and its alert names none")
    broker = model.broker(broker_id)
    if broker is None:
        raise _Rejection(f"unknown broker {broker_id!r}")
    if not broker.get("Enabled", True):
        raise _Rejection(f"broker {broker_id!r} is disabled")
    return alert, broker


def _check_age(
    data: dict[str, Any],
    event_time: datetime,
    alert: dict[str, Any],
    now: datetime,
    policy: SignalPolicy,
) -> None:
    signal_time = parse_time(data["Date"]) if data.get("Date") else event_time
    signal_time = signal_time or event_time
    max_age = timedelta(seconds=int(alert.get("MaxSignalAgeSeconds") or 60))
    age = now - signal_time
    if age > max_age:
        raise _Rejection(
            f"stale: the signal is {age.total_seconds():.0f} s old, "
            f"the alert allows {max_age.total_seconds():.0f} s"
        )
    if -age > policy.clock_skew:
        raise _Rejection(f"the signal's time is {(-age).total_seconds():.0f} s in the future")


def _order_request(
    data: dict[str, Any],
    alert: dict[str, Any],
    model: ReadModel,
    broker_id: str,
    target_position: Decimal | None,
    now: datetime,
    policy: SignalPolicy,
) -> OrderRequest:
    account = model.account(broker_id)
    symbol = data["Symbol"]
    price = _decimal(data.get("Price")) or None
    held = account.positions.get(symbol)
    position = held.quantity if held else Decimal(0)
    action = data["Data"]
    if target_position is not None:
        difference = target_position - position
        if difference == 0:
            raise _Rejection(f"the position in {symbol} is already {position}: nothing to trade")
        return _request(
            data, symbol, "buy" if difference > 0 else "sell", abs(difference), price, now, policy
        )
    if action == "close":
        request = close_order(account, data["Id"], symbol, now, price)
        if request is None:
            raise _Rejection(f"nothing to close: no position in {symbol}")
        return request
    quantity = _size(data, alert, account.equity(), price or account.last_prices.get(symbol))
    return _request(data, symbol, action, quantity, price, now, policy)


def _request(
    data: dict[str, Any],
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal | None,
    now: datetime,
    policy: SignalPolicy,
) -> OrderRequest:
    limit = data["OrderType"] == "LMT"
    return OrderRequest(
        order_id=data["Id"],
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=data["OrderType"],
        limit_price=price if limit else None,
        price=None if limit else price,
        time=now,
        expires_at=now + policy.limit_order_ttl if limit else None,
    )


def _size(
    data: dict[str, Any], alert: dict[str, Any], equity: Decimal | None, price: Decimal | None
) -> Decimal:
    quantity = Decimal(str(data["Quantity"]))
    risk = (
        _decimal(data.get("AccountRiskPercentage"))
        or _decimal(alert.get("RiskPercentage"))
        or Decimal(0)
    )
    multiplier = _decimal(data.get("AccountQuantityMultiplier")) or Decimal(0)
    if not risk and not multiplier:
        multiplier = _decimal(alert.get("QuantityMultiplier")) or Decimal(0)
    if risk > 0:
        if not price:
            raise _Rejection("risk sizing needs a price: send Price with the signal")
        if equity is None:
            raise _Rejection(
                "risk sizing needs the account's equity, which the broker has not reported"
            )
        if equity <= 0:
            raise _Rejection(f"risk sizing needs a positive equity; the account's is {equity}")
        sized = equity * risk / Decimal(100) / price
    elif multiplier > 0:
        sized = quantity * multiplier
    else:
        return quantity
    if sized > MAX_QUANTITY:
        raise _Rejection(f"the sized quantity is above {MAX_QUANTITY}, the most a signal trades")
    unit = _UNITS.get(data["InstrumentType"], Decimal(1))
    sized = sized.quantize(unit, rounding=ROUND_DOWN)
    if sized <= 0:
        raise _Rejection("the sized quantity rounds down to 0")
    return sized


def _submitted(
    request: OrderRequest, broker_id: str, *, resting: bool, now: datetime
) -> ev.DomainEvent:
    data: dict[str, Any] = {
        "BrokerId": broker_id,
        "OrderId": request.order_id,
        "Symbol": request.symbol,
        "Side": request.side,
        "Quantity": str(request.quantity),
        "OrderType": request.order_type,
        "LimitPrice": None if request.limit_price is None else str(request.limit_price),
        "Resting": resting,
        "ExpiresAt": request.expires_at.isoformat() if resting and request.expires_at else None,
        "Paper": True,
    }
    return ev.DomainEvent(ev.ORDER_SUBMITTED, request.order_id, now, data)


def _order_event(
    outcome: object, broker_id: str, model: ReadModel, now: datetime
) -> ev.DomainEvent:
    if isinstance(outcome, Filled):
        fill = outcome.fill
        ordered = model.signals.get(fill.order_id, {}).get("Quantity")
        return ev.DomainEvent(
            ev.ORDER_FILLED,
            fill.order_id,
            fill.time,
            {
                "BrokerId": broker_id,
                "OrderId": fill.order_id,
                "FillId": fill.fill_id,
                "Symbol": fill.symbol,
                "Side": fill.side,
                "Quantity": str(fill.quantity),
                "Price": str(fill.price),
                "Commission": str(fill.commission),
                "OrderQuantity": ordered,
                "BrokerOrderId": fill.order_id,
                "Paper": True,
            },
        )
    if isinstance(outcome, Rejected):
        return ev.DomainEvent(
            ev.ORDER_REJECTED,
            outcome.order_id,
            now,
            {
                "BrokerId": broker_id,
                "OrderId": outcome.order_id,
                "Reason": outcome.reason,
                "BrokerCode": None,
            },
        )
    if isinstance(outcome, Cancelled):
        return ev.DomainEvent(
            ev.ORDER_CANCELLED,
            outcome.order_id,
            now,
            {
                "BrokerId": broker_id,
                "OrderId": outcome.order_id,
                "Reason": outcome.reason,
                "Paper": True,
            },
        )
    raise TypeError(f"not an order outcome: {outcome!r}")


def decide_expiry(model: ReadModel, broker_id: str, now: datetime) -> list[ev.DomainEvent]:
    """Resting paper orders past their time in force are cancelled."""
    recorded = []
    for outcome in paper.decide_expiry(model.account(broker_id), now):
        event = _order_event(outcome, broker_id, model, now)
        evolve(model, event)
        recorded.append(event)
    return recorded


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))
