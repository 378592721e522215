"""What the ledger holds: dates and amounts within the range a broker's records can have.

The API refuses anything outside (422); an event stored before these bounds were checked is
left out of every read (``within_bounds``), so that it cannot make a NAV or a metric fail.
Within them, no sum, product or ratio of the accounting (34 significant digits) overflows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from baas.core.ledger.events import CashEvent, LedgerEvent, Order

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2200, 12, 31)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_AMOUNT = Decimal(10) ** 15  # amounts, quantities and prices are smaller in size
MIN_AMOUNT = Decimal(10) ** -12  # and, unless zero, at least this large
MAX_DIGITS = 34  # significant digits: what the accounting keeps exactly

DATE_RANGE = f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"


def time_problem(moment: datetime) -> str | None:
    """Why ``moment`` (aware) is outside the ledger's dates, or None."""
    if not EARLIEST <= moment <= LATEST:
        return f"must be between {DATE_RANGE} (UTC)"
    return None


def date_problem(day: date) -> str | None:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return f"must be between {DATE_RANGE}"
    return None


def amount_problem(value: Decimal) -> str | None:
    """Why a finite ``value`` is not an amount the ledger holds, or None."""
    size = abs(value)
    if size >= MAX_AMOUNT:
        return "must be smaller than 1e15 in size"
    if size and size < MIN_AMOUNT:
        return "must be 0 or at least 1e-12 in size"
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")  # not normalize(): it rounds
    if len(digits) > MAX_DIGITS:
        return f"must have at most {MAX_DIGITS} significant digits"
    return None


def _amounts(event: LedgerEvent) -> list[Decimal]:
    if isinstance(event, Order):
        return [event.quantity, event.fees] + ([] if event.price is None else [event.price])
    if isinstance(event, CashEvent):
        return [event.amount]
    return [x for p in event.positions for x in (p.quantity, p.cost_basis)]


def within_bounds(event: LedgerEvent) -> bool:
    """True when the event's time and amounts are within the ledger's bounds."""
    if time_problem(event.timestamp) is not None:
        return False
    return all(x.is_finite() and amount_problem(x) is None for x in _amounts(event))
