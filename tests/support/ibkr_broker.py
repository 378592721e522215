"""The IBKR adapter's test helpers: quick options, an outcome sink, orders, the make_broker
fixture's type."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from workers.ibkr import BrokerOrder, BrokerOutcome, ConnectionOptions, IbkrBroker, IbkrOptions

T = TypeVar("T")


FAST = IbkrOptions(
    connection=ConnectionOptions(
        initial_delay=0.02, max_delay=0.2, connect_timeout=2.0, heartbeat_interval=0
    ),
    request_timeout=3.0,
    commission_wait=0.5,
    rejection_grace=0.05,
)
"""Adapter options for tests: quick reconnects, no heartbeat, short waits."""


class Outcomes:
    """An outcome sink that records what the adapter delivers."""

    def __init__(self) -> None:
        self.items: list[BrokerOutcome] = []
        self._changed = asyncio.Condition()

    async def __call__(self, outcome: BrokerOutcome) -> None:
        async with self._changed:
            self.items.append(outcome)
            self._changed.notify_all()

    def of(self, signal_id: str, kind: str | None = None) -> list[BrokerOutcome]:
        return [
            o for o in self.items if o.signal_id == signal_id and (kind is None or o.kind == kind)
        ]

    def kinds(self, signal_id: str) -> list[str]:
        return [o.kind for o in self.of(signal_id)]

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 (a test helper must never hang)
    ) -> T:
        async with asyncio.timeout(timeout), self._changed:
            return await self._changed.wait_for(predicate)

    async def final(self, signal_id: str, timeout: float = 5.0) -> BrokerOutcome:  # noqa: ASYNC109
        """The signal's first rejected or cancelled outcome, or its fill completing the order."""

        def done() -> BrokerOutcome | None:
            for o in self.of(signal_id):
                if o.kind in ("rejected", "cancelled"):
                    return o
                if o.kind == "filled" and o.cumulative_quantity == o.order_quantity:
                    return o
            return None

        return await self.wait_for(done, timeout)


def broker_order(
    signal_id: str,
    symbol: str = "AAPL",
    *,
    instrument_type: str = "STK",
    side: str = "buy",
    quantity: str | int = 10,
    order_type: str = "MKT",
    limit_price: str | None = None,
    price: str | None = None,
    expires_in: float = 5.0,
    **changes: Any,
) -> BrokerOrder:
    return BrokerOrder(
        signal_id=signal_id,
        tenant_id="tenant-1",
        broker_id="ibkr-main",
        instrument_type=instrument_type,  # type: ignore[arg-type]
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        quantity=Decimal(str(quantity)),
        order_type=order_type,  # type: ignore[arg-type]
        limit_price=None if limit_price is None else Decimal(limit_price),
        price=None if price is None else Decimal(price),
        deadline=datetime.now(UTC) + timedelta(seconds=expires_in),
        **changes,
    )


class MakeBroker(Protocol):
    """The ``make_broker`` fixture."""

    def __call__(
        self,
        client_id: int = 1,
        *,
        port: int | None = None,
        ready: bool = True,
        options: IbkrOptions = FAST,
        delivered_exec_ids: Iterable[str] = (),
        sink: Outcomes | None = None,
    ) -> Awaitable[tuple[IbkrBroker, Outcomes]]: ...
