"""Where the service's objects are made, once per process, from its Settings: the gateway's
services (at the app's start), the workers' stores, handlers and consumers, and what the CLI's
commands use. Nothing else opens a store connection or builds a store class for them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from baas.adapters.polygon import price_provider
from baas.cli.store_access import store_session
from baas.core.catalog import SchemaCatalog
from baas.core.keyspace import Keyspace
from baas.core.trading.commands import Command
from baas.core.trading.signals import SignalPolicy
from baas.settings import Settings
from baas.store.connection import load_functions, open_store, store_url
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
from gateway.routes.webhooks import webhook_log
from gateway.services import LedgerServices, Services
from workers.brokers import BrokerRegistry
from workers.consumer import LEDGER_GROUP, LogConsumer
from workers.handlers import CommandHandler
from workers.ledger_feed import LedgerFeed, LoggedFill, decode_fill

gateway_log = logging.getLogger("baas.gateway")


def ledger_services(
    store: aioredis.Redis, keyspace: Keyspace, settings: Settings
) -> LedgerServices:
    ledger = LedgerStore(store, keyspace)
    prices = PriceStore(store, keyspace, price_provider(settings))
    return LedgerServices(ledger, prices, NavCache(ledger, prices))


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """What the gateway reads and checks when the app is made, before any store is opened."""

    settings: Settings
    catalog: SchemaCatalog
    metrics: GatewayMetrics
    trusted_proxies: tuple[Network, ...]
    tradingview_networks: tuple[Network, ...]


@contextlib.asynccontextmanager
async def gateway_services(config: GatewayConfig) -> AsyncIterator[Services]:
    """The gateway's services for the length of its lifespan."""
    settings = config.settings
    url = store_url(settings)
    store = open_store(url, settings)
    pipelined = MultiplexedConnection(url, settings.store_timeout_seconds)
    try:
        await load_functions(store)
    except (RedisError, OSError) as exc:
        # Serve anyway: requests get 503 (and /readyz says so) until the store answers.
        gateway_log.warning("store not reachable at start", extra={"error": type(exc).__name__})
    keyspace = Keyspace(settings.key_prefix)
    limits = RateLimits(pipelined, keyspace, settings)
    try:
        yield Services(
            settings=settings,
            store=store,
            pipelined=pipelined,
            keyspace=keyspace,
            tenants=TenantRegistry(store, keyspace),
            limits=limits,
            log=EventLog(pipelined, keyspace, limits, settings.idempotency_retention_seconds),
            catalog=config.catalog,
            metrics=config.metrics,
            trusted_proxies=config.trusted_proxies,
            trading=TradingStore(store, keyspace),
            webhook_log=webhook_log(pipelined, keyspace, limits, settings),
            tradingview_networks=config.tradingview_networks,
            ledger=ledger_services(store, keyspace, settings),
        )
    finally:
        await pipelined.close()
        await store.aclose()


def signal_policy(settings: Settings) -> SignalPolicy:
    return SignalPolicy(limit_order_ttl=timedelta(seconds=settings.paper_limit_order_ttl_seconds))


def command_consumer(
    store: aioredis.Redis,
    keyspace: Keyspace,
    settings: Settings,
    name: str,
    handler: CommandHandler,
) -> LogConsumer[Command]:
    """The ``workers`` group's consumer: commands to their recorded outcomes."""
    return LogConsumer(
        store, keyspace, settings, name, handler.decode, handler.handle, handler.give_up
    )


def ledger_consumer(
    store: aioredis.Redis, keyspace: Keyspace, settings: Settings, name: str
) -> LogConsumer[LoggedFill]:
    """The ``ledger`` group's consumer: fills to ledger orders."""
    feed = LedgerFeed(LedgerStore(store, keyspace), TradingStore(store, keyspace))
    return LogConsumer(
        store, keyspace, settings, name, decode_fill, feed.handle, group=LEDGER_GROUP
    )


@dataclass(frozen=True, slots=True)
class WorkerServices:
    store: aioredis.Redis
    keyspace: Keyspace
    trading: TradingStore
    brokers: BrokerRegistry
    commands: LogConsumer[Command]
    fills: LogConsumer[LoggedFill]


@contextlib.asynccontextmanager
async def worker_services(settings: Settings, name: str) -> AsyncIterator[WorkerServices]:
    """A worker's store, brokers and consumers (named ``name`` in their groups); the brokers'
    connections and the store are closed at the end."""
    store = open_store(store_url(settings), settings)
    try:
        await load_functions(store)
        keyspace = Keyspace(settings.key_prefix)
        trading = TradingStore(store, keyspace)
        brokers = BrokerRegistry(store, keyspace, trading, settings, name)
        handler = CommandHandler(trading, signal_policy(settings), brokers=brokers)
        try:
            yield WorkerServices(
                store,
                keyspace,
                trading,
                brokers,
                command_consumer(store, keyspace, settings, name, handler),
                ledger_consumer(store, keyspace, settings, name),
            )
        finally:
            await brokers.stop()
    finally:
        await store.aclose()


@dataclass(frozen=True, slots=True)
class CliServices:
    store: aioredis.Redis
    keyspace: Keyspace
    tenants: TenantRegistry
    ledger: LedgerStore
    prices: PriceStore


@contextlib.asynccontextmanager
async def cli_services(settings: Settings) -> AsyncIterator[CliServices]:
    """What a CLI command uses, on the store ``store_session`` reaches."""
    async with store_session(settings) as store:
        keyspace = Keyspace(settings.key_prefix)
        ledger = ledger_services(store, keyspace, settings)
        yield CliServices(
            store, keyspace, TenantRegistry(store, keyspace), ledger.ledger, ledger.prices
        )


@contextlib.asynccontextmanager
async def service_event_log(settings: Settings) -> AsyncIterator[EventLog]:
    """The event log the service appends its own commands to (the first start's setup)."""
    connection = MultiplexedConnection(settings.redis_url, settings.store_timeout_seconds)
    keyspace = Keyspace(settings.key_prefix)
    try:
        yield EventLog(
            connection,
            keyspace,
            RateLimits(connection, keyspace, settings),
            settings.idempotency_retention_seconds,
        )
    finally:
        await connection.close()
