"""Against a real IB Gateway (paper account), when IB_GATEWAY_HOST and IB_GATEWAY_PORT are set:

    IB_GATEWAY_HOST=127.0.0.1 IB_GATEWAY_PORT=4002 make test PYTEST_ARGS=tests/ibkr/test_live_ib_gateway.py

It places one market order for one share of SPY on the paper account (set
IB_GATEWAY_ORDERS=0 to skip that part), then cancels it if it is still working.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from workers.ibkr import BrokerOrder, BrokerOutcome, IbkrBroker, check

HOST = os.environ.get("IB_GATEWAY_HOST")
PORT = os.environ.get("IB_GATEWAY_PORT")
pytestmark = pytest.mark.skipif(
    not (HOST and PORT), reason="no real IB Gateway: set IB_GATEWAY_HOST and IB_GATEWAY_PORT"
)


async def test_the_gateway_answers_the_api():
    ok, line = await check(
        HOST, int(PORT), client_id=int(os.environ.get("IB_GATEWAY_CLIENT_ID", "991"))
    )
    assert ok, line


@pytest.mark.skipif(os.environ.get("IB_GATEWAY_ORDERS") == "0", reason="IB_GATEWAY_ORDERS=0")
async def test_a_paper_market_order_is_acknowledged():
    outcomes: list[BrokerOutcome] = []

    async def sink(outcome: BrokerOutcome) -> None:
        outcomes.append(outcome)

    broker = IbkrBroker(
        tenant_id="live", broker_id="ib", host=HOST, port=int(PORT), client_id=992, on_outcome=sink
    )
    async with broker:
        assert await broker.wait_ready(30), broker.status()
        signal_id = f"live-{secrets.token_hex(4)}"
        order = BrokerOrder(
            signal_id=signal_id,
            tenant_id="live",
            broker_id="ib",
            instrument_type="STK",
            symbol="SPY",
            side="buy",
            quantity=Decimal(1),
            order_type="MKT",
            deadline=datetime.now(UTC) + timedelta(minutes=1),
        )
        await broker.submit(order)
        for _ in range(300):
            if any(o.kind in ("submitted", "filled", "rejected") for o in outcomes):
                break
            await asyncio.sleep(0.1)
        assert outcomes, "IB reported nothing within 30 s"
        await broker.cancel(signal_id)
