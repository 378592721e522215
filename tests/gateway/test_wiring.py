"""The objects each process uses are made once, at its start, by ``baas.bootstrap``."""

from __future__ import annotations

from baas.bootstrap import worker_services
from tests.support.gateway import app_client
from workers.consumer import COMMANDS_GROUP, LEDGER_GROUP


async def test_the_ledger_services_are_made_at_startup_on_the_gateways_store(settings):
    async with app_client(settings) as client:
        services = client.app.state.services
        assert services.ledger.ledger.store is services.store
        assert services.ledger.prices.store is services.store
        assert services.ledger.navs.ledger is services.ledger.ledger
        assert (await client.get("/healthz")).status_code == 200
        assert client.app.state.services.ledger is services.ledger


async def test_a_workers_consumers_share_its_store(settings):
    async with worker_services(settings, "w-wiring") as worker:
        assert (worker.commands.group, worker.fills.group) == (COMMANDS_GROUP, LEDGER_GROUP)
        assert worker.commands.store is worker.store
        assert worker.fills.store is worker.store
        assert worker.brokers.trading is worker.trading
        assert await worker.store.ping()
