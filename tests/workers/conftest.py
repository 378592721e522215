"""The workers' trading desk fixture (the desk itself: tests/support/trading_desk.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from baas.core.keyspace import Keyspace
from baas.store.trading import TradingStore
from tests.support.gateway import app_client
from tests.support.store import new_tenant
from tests.support.trading_desk import TradingDesk, make_consumer, make_ledger_consumer


@pytest.fixture
async def trading_desk(settings, store, prefix) -> AsyncIterator[TradingDesk]:
    fast = dataclasses.replace(settings, worker_block_ms=50)
    keyspace = Keyspace(prefix)
    tenant = await new_tenant(store, prefix)
    async with app_client(fast) as client:
        consumer = make_consumer(store, keyspace, fast)
        ledger = make_ledger_consumer(store, keyspace, fast)
        yield TradingDesk(
            client, tenant, consumer, TradingStore(store, keyspace), keyspace, store, ledger
        )
