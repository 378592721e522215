"""The paper sandbox's buying power invariant, stated independently of the engine's code."""

from __future__ import annotations

from decimal import Decimal, localcontext

from baas.core.trading.paper import (
    PAPER_CONTEXT,
    Filled,
    Outcome,
    PaperAccount,
    PaperSettings,
    apply_outcome,
)


def check_buying_power(account: PaperAccount, settings: PaperSettings, outcome: Outcome) -> None:
    """``outcome`` is about to be applied to ``account``. After a fill that does more than
    reduce a position: gross exposure <= equity * max_leverage, where what was held before
    counts at the account's marks (never at the fill price), the quantity the fill opens at
    the fill price, and equity never above its value before the fill less the commission
    (the fill's price creates none); and cash is never below what that allows."""
    if not isinstance(outcome, Filled):
        return
    with localcontext(PAPER_CONTEXT):
        _check_fill(account, settings, outcome)


def _check_fill(account: PaperAccount, settings: PaperSettings, outcome: Filled) -> None:
    fill = outcome.fill
    position = account.positions.get(fill.symbol)
    held = position.quantity if position is not None else Decimal(0)
    delta = fill.quantity if fill.side == "buy" else -fill.quantity
    if held and (held > 0) != (delta > 0) and fill.quantity <= abs(held):
        return
    marks = {s: account.last_prices.get(s, p.avg_cost) for s, p in account.positions.items()}
    after = PaperAccount.from_dict(account.to_dict())
    apply_outcome(after, outcome)
    new = after.positions[fill.symbol].quantity
    kept = held if (held > 0) == (new > 0) else Decimal(0)  # crossing zero closes all of it
    values = [p.quantity * marks[s] for s, p in account.positions.items() if s != fill.symbol]
    values += [kept * marks.get(fill.symbol, Decimal(0)), (new - kept) * fill.price]
    equity = min(after.cash + sum(values), account.equity() - fill.commission)
    exposure = sum((abs(value) for value in values), Decimal(0))
    assert exposure <= equity * settings.max_leverage, (exposure, equity)
    assert after.cash >= -(settings.max_leverage - 1) * equity, (after.cash, equity)
