"""The worker process: an arq worker whose startup launches the log consumer.

The hot path (commands on the tenants' logs) does not go through arq's queue, which polls; arq
runs the lifecycle and the scheduled work: expiring paper limit orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker

from baas.core.keyspace import Keyspace
from baas.core.trading.signals import SignalPolicy, decide_expiry
from baas.settings import Settings
from baas.store.connection import load_functions, open_store, store_url
from baas.store.trading import Recorded, TradingStore
from workers.consumer import LogConsumer
from workers.handlers import CommandHandler

log = logging.getLogger("baas.worker")


async def expire_paper_orders(ctx: dict[str, Any]) -> int:
    """Cancel resting paper limit orders whose time in force has passed."""
    trading: TradingStore = ctx["trading"]
    keyspace: Keyspace = ctx["keyspace"]
    expired = 0
    for raw in await ctx["store"].hkeys(keyspace.tenants):
        tenant_id = raw.decode()
        for _ in range(10):
            now = datetime.now(UTC)
            version, model = await trading.load(tenant_id)
            outcomes = [
                e for broker in list(model.accounts) for e in decide_expiry(model, broker, now)
            ]
            if not outcomes:
                break
            prefix = f"expiry-{int(now.timestamp() * 1000)}"
            if (
                await trading.record(tenant_id, "", version, prefix, outcomes, model, now)
                is Recorded.OK
            ):
                expired += len(outcomes)
                break
    return expired


def consumer_name(settings: Settings) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{settings.worker_index}"


def build_worker(settings: Settings) -> Worker:
    keyspace = Keyspace(settings.key_prefix)
    url = store_url(settings)
    stop = asyncio.Event()

    async def on_startup(ctx: dict[str, Any]) -> None:
        store = open_store(url, settings)
        await load_functions(store)
        trading = TradingStore(store, keyspace)
        policy = SignalPolicy(
            limit_order_ttl=timedelta(seconds=settings.paper_limit_order_ttl_seconds)
        )
        handler = CommandHandler(trading, policy)
        consumer = LogConsumer(
            store, keyspace, settings, consumer_name(settings), handler.handle, handler.give_up
        )
        ctx.update(store=store, keyspace=keyspace, trading=trading)
        ctx["consumer_task"] = asyncio.create_task(consumer.run(stop))
        log.info("worker started", extra={"worker_index": settings.worker_index})

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        stop.set()
        task = ctx.get("consumer_task")
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, settings.worker_block_ms / 1000 + 5)
        if "store" in ctx:
            await ctx["store"].aclose()

    return Worker(
        functions=[],
        cron_jobs=[cron(expire_paper_orders, second=set(range(0, 60, 10)), run_at_startup=False)],
        redis_settings=RedisSettings.from_dsn(url),
        queue_name=f"{settings.key_prefix}:arq:queue",
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=True,
    )


def run_worker(settings: Settings) -> None:
    build_worker(settings).run()
