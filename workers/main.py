"""The worker process: an arq worker whose startup launches the log consumer.

The hot path (commands on the tenants' logs) does not go through arq's queue, which polls; arq
runs the lifecycle and the scheduled work: expiring paper limit orders, reconciling brokers'
executions.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import uvloop
from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from redis.exceptions import RedisError

from baas.bootstrap import worker_services
from baas.core.keyspace import Keyspace
from baas.core.trading.signals import decide_expiry
from baas.settings import Settings
from baas.store.connection import store_url
from baas.store.trading import Recorded, TradingStore
from workers.arq_keys import arq_keys_under
from workers.consumer import STORE_UNAVAILABLE
from workers.outcome_log import log_outcomes

log = logging.getLogger("baas.worker")


Job = Callable[[dict[str, Any]], Awaitable[int]]


def outage_tolerant(job: Job) -> Job:
    """A scheduled job that meets a store outage says so in one line and waits for its next run
    (arq would log the failure with a traceback every time)."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any]) -> int:
        try:
            return await job(ctx)
        except (RedisError, *STORE_UNAVAILABLE) as exc:
            log.warning(
                f"{job.__name__} skipped: the store is unavailable", extra={"error": str(exc)}
            )
            return 0

    return run


@outage_tolerant
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
                log_outcomes(tenant_id, outcomes)
                expired += len(outcomes)
                break
    return expired


@outage_tolerant
async def reconcile_brokers(ctx: dict[str, Any]) -> int:
    """Executions the brokers made while this worker was not listening reach the log."""
    return await ctx["brokers"].reconcile()


def every_minutes(seconds: int) -> set[int]:
    step = max(1, round(seconds / 60))
    return set(range(0, 60, step))


def consumer_name(settings: Settings) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{settings.worker_index}"


class OutageTolerantWorker(Worker):
    """arq's worker, whose poll loop (its queue, health key and cron jobs) waits out a store
    outage instead of dying of it (the store may restart under ``baas run``), and which stops
    without a traceback when the store is away."""

    store_away = False

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            if not self.store_away:
                log.warning("store unavailable; waiting for it", extra={"error": str(exc)})
            self.store_away = True
            return
        if self.store_away:
            log.info("store available again")
            self.store_away = False

    async def close(self) -> None:
        try:
            await super().close()
        except (RedisError, OSError) as exc:  # stopped while the store is away
            log.warning("store unavailable at stop", extra={"error": str(exc)})


def build_worker(settings: Settings) -> Worker:
    url = store_url(settings)
    stop = asyncio.Event()

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["resources"] = resources = contextlib.AsyncExitStack()
        worker = await resources.enter_async_context(
            worker_services(settings, consumer_name(settings))
        )
        ctx.update(
            store=worker.store,
            keyspace=worker.keyspace,
            trading=worker.trading,
            brokers=worker.brokers,
        )
        ctx["tasks"] = [
            asyncio.create_task(worker.commands.run(stop)),
            asyncio.create_task(worker.fills.run(stop)),
            asyncio.create_task(worker.brokers.run_status_publisher(stop)),
        ]
        log.info("worker started", extra={"worker_index": settings.worker_index})

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        stop.set()
        for task in ctx.get("tasks", []):
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, settings.worker_block_ms / 1000 + 5)
        if "resources" in ctx:
            await ctx["resources"].aclose()  # the brokers' connections, then the store
        log.info("worker stopped", extra={"worker_index": settings.worker_index})

    return OutageTolerantWorker(
        functions=[],
        cron_jobs=[
            cron(expire_paper_orders, second=set(range(0, 60, 10)), run_at_startup=False),
            cron(
                reconcile_brokers, minute=every_minutes(settings.ibkr_reconcile_seconds), second=30
            ),
        ],
        redis_settings=RedisSettings.from_dsn(url),
        queue_name=f"{settings.key_prefix}:arq:queue",
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=True,
    )


def quiet_job_logs(log_level: str) -> None:
    """arq logs the start and end of every job at info: the paper orders' cron job alone would
    write two lines every 10 s. Its warnings and errors stay; ``BAAS_LOG_LEVEL=debug`` shows
    every line."""
    if log_level.lower() != "debug":
        logging.getLogger("arq.worker").setLevel(logging.WARNING)


def run_worker(settings: Settings) -> None:
    uvloop.install()  # the same event loop as the gateway: cheaper socket I/O
    quiet_job_logs(settings.log_level)
    arq_keys_under(settings.key_prefix)
    build_worker(settings).run()
