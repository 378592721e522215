"""What the gateway's handlers use, made once per process by the app's lifespan
(``baas.bootstrap.gateway_services``)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from starlette.requests import Request

from baas.core.catalog import SchemaCatalog
from baas.core.keyspace import Keyspace
from baas.settings import Settings
from baas.store.eventlog import EventLog
from baas.store.ledger import LedgerStore
from baas.store.ledger_cache import NavCache
from baas.store.ledger_prices import PriceStore
from baas.store.multiplexed import MultiplexedConnection
from baas.store.ratelimits import RateLimits
from baas.store.tenants import TenantRegistry
from baas.store.trading import TradingStore
from gateway.client_ip import Network
from gateway.metrics import GatewayMetrics


@dataclass(frozen=True, slots=True)
class LedgerServices:
    ledger: LedgerStore
    prices: PriceStore
    navs: NavCache


@dataclass(slots=True)
class Services:
    settings: Settings
    store: aioredis.Redis
    pipelined: MultiplexedConnection
    keyspace: Keyspace
    tenants: TenantRegistry
    limits: RateLimits
    log: EventLog
    catalog: SchemaCatalog
    metrics: GatewayMetrics
    trusted_proxies: tuple[Network, ...]
    # The trading read models (signals, alerts, brokers, paper accounts), for the read endpoints.
    trading: TradingStore
    # The same log as ``log``, where the credential re-checked on append is an alert, not a key.
    webhook_log: EventLog
    # BAAS_TRADINGVIEW_ALLOWED_IPS parsed; empty: webhooks from any address.
    tradingview_networks: tuple[Network, ...]
    # The ledger API's strategies, keys, orders, prices and NAVs.
    ledger: LedgerServices


def services(request: Request) -> Services:
    return request.app.state.services
