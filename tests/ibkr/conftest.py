"""Fixtures for talking to the fake IB Gateway with real ib_async clients over loopback."""

import random
from collections.abc import AsyncIterator, Iterable

import pytest
from ib_async import IB

from tests.fakes.ib_gateway import FakeIBGateway
from tests.support.ibkr_broker import FAST, MakeBroker, Outcomes
from workers.ibkr import IbkrBroker, IbkrOptions

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


@pytest.fixture
async def make_broker(gateway: FakeIBGateway) -> AsyncIterator[MakeBroker]:
    """An ``IbkrBroker`` on the fake (started, and by default connected and reconciled) with
    an ``Outcomes`` sink; every one is stopped at the end of the test."""
    brokers: list[IbkrBroker] = []

    async def _make(
        client_id: int = 1,
        *,
        port: int | None = None,
        ready: bool = True,
        options: IbkrOptions = FAST,
        delivered_exec_ids: Iterable[str] = (),
        sink: Outcomes | None = None,
    ) -> tuple[IbkrBroker, Outcomes]:
        outcomes = sink or Outcomes()
        broker = IbkrBroker(
            tenant_id="tenant-1",
            broker_id="ibkr-main",
            host="127.0.0.1",
            port=gateway.port if port is None else port,
            client_id=client_id,
            on_outcome=outcomes,
            options=options,
            delivered_exec_ids=delivered_exec_ids,
            rng=random.Random(7),
        )
        brokers.append(broker)
        await broker.start()
        if ready:
            assert await broker.wait_ready(5), broker.status()
        return broker, outcomes

    yield _make
    for broker in brokers:
        await broker.stop(drain_timeout=1)
