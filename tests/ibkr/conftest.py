"""Fixtures for talking to the fake IB Gateway with real ib_async clients over loopback."""

from collections.abc import AsyncIterator

import pytest
from ib_async import IB

from tests.fakes.ib_gateway import FakeIBGateway

from .support import Connect


@pytest.fixture
async def gateway() -> AsyncIterator[FakeIBGateway]:
    """A fresh fake gateway on an ephemeral loopback port."""
    async with FakeIBGateway() as gw:
        yield gw


@pytest.fixture
async def connect(gateway: FakeIBGateway) -> AsyncIterator[Connect]:
    """Connect an ib_async client (a new one, or ``ib`` again) to the fake; all are
    disconnected at the end of the test."""
    clients: list[IB] = []

    async def _connect(
        client_id: int = 1,
        *,
        ib: IB | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (ib_async's own connect time-out)
    ) -> IB:
        ib = ib or IB()
        clients.append(ib)
        return await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=timeout)

    yield _connect
    for ib in clients:
        ib.disconnect()
