"""Fixtures of the ledger tests: the gateway with the ledger routes on the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from baas.settings import Settings
from tests.support.gateway import app_client
from tests.support.store import TenantCredentials

from .support import Desk, open_strategy


@pytest.fixture
async def lclient(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as client:
        yield client


@pytest.fixture
async def desk(lclient: httpx.AsyncClient, tenant: TenantCredentials) -> Desk:
    strategy_id, key = await open_strategy(lclient, tenant)
    return Desk(lclient, tenant, strategy_id, key)
