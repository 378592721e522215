"""The worker process: an arq worker over the same store as the gateway.

Until the workers issue lands it only reports, once a minute, how long each tenant's log is.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker

from baas.core.keyspace import Keyspace
from baas.settings import Settings
from baas.store.connection import store_url

log = logging.getLogger("baas.worker")


async def report_log_sizes(ctx: dict[str, Any]) -> dict[str, int]:
    keyspace: Keyspace = ctx["keyspace"]
    store = ctx["redis"]
    tenants = [t.decode() for t in await store.hkeys(keyspace.tenants)]
    sizes = {t: await store.xlen(keyspace.tenant_log(t)) for t in tenants}
    log.info("event logs", extra={"tenants": len(sizes), "events": sum(sizes.values())})
    return sizes


def build_worker(settings: Settings) -> Worker:
    keyspace = Keyspace(settings.key_prefix)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["keyspace"] = keyspace
        log.info("worker started", extra={"worker_index": settings.worker_index})
        await report_log_sizes(ctx)

    return Worker(
        functions=[],
        cron_jobs=[cron(report_log_sizes, second=0, run_at_startup=False)],
        redis_settings=RedisSettings.from_dsn(store_url(settings)),
        queue_name=f"{settings.key_prefix}:arq:queue",
        on_startup=on_startup,
        handle_signals=True,
    )


def run_worker(settings: Settings) -> None:
    build_worker(settings).run()
