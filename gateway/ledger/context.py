"""The ledger's stores, made once per app from the gateway's services (on the app's state)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from starlette.requests import Request

from baas.store.ledger import LedgerStore
from baas.store.ledger_cache import NavCache
from baas.store.ledger_prices import PriceStore, provider_from_env
from gateway.services import services


@dataclass(frozen=True, slots=True)
class LedgerServices:
    store: aioredis.Redis
    ledger: LedgerStore
    prices: PriceStore
    navs: NavCache


def ledger_services(request: Request) -> LedgerServices:
    svc = services(request)
    state = request.app.state
    current: LedgerServices | None = getattr(state, "ledger_services", None)
    if current is None or current.store is not svc.store:  # a new lifespan, a new connection
        ledger = LedgerStore(svc.store, svc.keyspace)
        prices = PriceStore(svc.store, svc.keyspace, provider_from_env())
        current = LedgerServices(svc.store, ledger, prices, NavCache(ledger, prices))
        state.ledger_services = current
    return current
