"""What the fake gateway does with each order: per-test rules and the behaviours they choose."""

from dataclasses import dataclass

from .catalog import Instrument
from .orders import PlacedOrder


@dataclass(frozen=True)
class Fill:
    """Execute the order: at ``price`` (default: its limit price, else the instrument's mark),
    in one execution or in ``parts`` (quantities; summing below the order size leaves the
    rest working). Each execution gets its own execId and commission report."""

    price: float | None = None
    parts: tuple[float, ...] = ()
    commission: float = 1.0
    commission_currency: str = "USD"


@dataclass(frozen=True)
class Reject:
    """Refuse the order with an error carrying the orderId; the order ends Cancelled."""

    code: int = 201
    message: str = "Order rejected - reason:"

    @classmethod
    def fractional(cls) -> "Reject":
        return cls(
            10243,
            "Fractional-sized order cannot be placed via API. "
            "Please use desktop version to place this order.",
        )


@dataclass(frozen=True)
class Hold:
    """Acknowledge the order with ``status`` and then never move it;
    ``status=None`` never answers at all (the client stays PendingSubmit)."""

    status: str | None = "Submitted"


@dataclass(frozen=True)
class Drop:
    """Close the client's socket as soon as the order arrives. With a ``price``, first
    report a ``partial`` execution (if any), then fill the rest while the client is away
    (``fill_rest``); without one the order stays working at the gateway."""

    price: float | None = None
    partial: float = 0.0
    fill_rest: bool = True

    def __post_init__(self) -> None:
        if self.partial and self.price is None:
            raise ValueError("a partial fill needs a price")


Behavior = Fill | Reject | Hold | Drop


@dataclass(frozen=True)
class Rule:
    behavior: Behavior
    symbol: str | None
    order_ref: str | None
    once: bool

    def matches(self, order: PlacedOrder, instrument: Instrument) -> bool:
        return (self.order_ref is None or self.order_ref == order.order_ref) and (
            self.symbol is None or self.symbol in (instrument.symbol, instrument.local_symbol)
        )


class Script:
    """Rules tried newest first; the default applies when none matches."""

    def __init__(self, default: Behavior = Fill()) -> None:
        self.default = default
        self._rules: list[Rule] = []

    def add(self, rule: Rule) -> None:
        self._rules.append(rule)

    def behavior_for(self, order: PlacedOrder, instrument: Instrument) -> Behavior:
        for rule in reversed(self._rules):
            if rule.matches(order, instrument):
                if rule.once:
                    self._rules.remove(rule)
                return rule.behavior
        return self.default
