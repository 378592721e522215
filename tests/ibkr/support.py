"""Helpers for tests that drive ib_async against the fake gateway."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from ib_async import IB


class Connect(Protocol):
    """The ``connect`` fixture: a new (or the given) IB connected to the fake gateway."""

    def __call__(
        self, client_id: int = 1, *, ib: IB | None = None, timeout: float = 5.0
    ) -> Awaitable[IB]: ...


async def until(
    predicate: Callable[[], object],
    timeout: float = 5.0,  # noqa: ASYNC109 (bounded by design)
) -> None:
    """Poll client-side state, which ib_async updates as socket data arrives."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 (no single ib_async event covers it)
            await asyncio.sleep(0.005)
