"""Workers benchmark: latency from a signal's 202 to the paper broker receiving its order.

The start is the gateway's ``received_at`` of the signal (taken just before validation, the
append and the 202: a conservative start, on the same clock as the worker's).

The signal path: gateway → the tenant's stream → ``baas worker`` (XREADGROUP BLOCK) → decision.
The time the broker received the order is the decision's own timestamp (``SignalAccepted``),
taken just before the paper engine sees the order. Beside it, in the same run: the same
handler behind arq's own queue with arq's default settings (``enqueue_job`` → job start).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from arq import create_pool
from arq.connections import RedisSettings

from baas.core.keyspace import Keyspace
from baas.settings import env_name
from bench.ingress import _tenant, bench_store
from bench.load import process
from tests.support.gateway import free_port

REPO = Path(__file__).resolve().parents[1]


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _signal(tenant_id: str, signal_id: str) -> dict[str, Any]:
    now = datetime.now().astimezone().isoformat()
    return {
        "id": signal_id,
        "type": "SubmitSignal",
        "source": "bench",
        "data": {
            "CorrelationId": "bench-alert",
            "Id": signal_id,
            "BrokerId": "paper",
            "Symbol": "AAPL",
            "Date": now,
            "Data": "buy" if hash(signal_id) % 2 else "sell",
            "Quantity": 1,
            "Price": 100.0,
            "OrderType": "MKT",
            "InstrumentType": "STK",
        },
    }


async def _stream_path(
    base: str, tenant_id: str, api_key: str, url: str, prefix: str, rate: int, seconds: float
) -> tuple[float, float, int]:
    headers = {"X-Api-Key": api_key}
    path = f"/tenants/{tenant_id}/api/trading"
    accepted: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=64)) as client:
        config = {
            "id": f"cfg-{rate}",
            "type": "ConfigureIndicatorAlert",
            "source": "bench",
            "data": {"AlertId": "bench-alert", "BrokerId": "paper", "MaxSignalAgeSeconds": 3600},
        }
        await client.post(path, json=config, headers=headers)
        await asyncio.sleep(1)

        async def one(signal_id: str) -> None:
            r = await client.post(
                path,
                content=orjson.dumps(_signal(tenant_id, signal_id)),
                headers={**headers, "Content-Type": "application/json"},
            )
            if r.status_code == 202:
                accepted[signal_id] = time.time()

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(f"r{rate}-{i}-{os.getpid()}")))
        await asyncio.gather(*tasks)
    store = aioredis.Redis.from_url(url)
    keyspace = Keyspace(prefix)
    deadline = time.monotonic() + 60
    decided: dict[str, float] = {}
    received: dict[str, float] = {}
    while time.monotonic() < deadline and len(decided) < len(accepted):
        for _, fields in await store.xrange(keyspace.tenant_log(tenant_id)):
            event = orjson.loads(fields[b"event"])
            if event["type"] == "SignalAccepted" and event["subject"] in accepted:
                decided[event["subject"]] = datetime.fromisoformat(event["time"]).timestamp()
            elif event["type"] == "SubmitSignal" and event["id"] in accepted:
                # The gateway's receipt, just before the append and the 202: a conservative start.
                received[event["id"]] = datetime.fromisoformat(
                    fields[b"received_at"].decode()
                ).timestamp()
        await asyncio.sleep(0.5)
    await store.aclose()
    latencies = [(decided[s] - received[s]) * 1000 for s in decided if s in received]
    p50, p99 = _percentiles(latencies)
    return p50, p99, len(latencies)


async def _arq_path(url: str, prefix: str, rate: int, seconds: float) -> tuple[float, float, int]:
    """arq's queue with its defaults: enqueue → job start, measured by the job itself."""
    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=f"{prefix}:arq-bench")
    enqueued: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        job_id = f"a{rate}-{i}"
        await pool.enqueue_job("received", job_id, _job_id=job_id)
        enqueued[job_id] = time.time()
    results: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(results) < len(enqueued):
        raw = await pool.hgetall(f"{prefix}:arq-bench:received")
        results = {k.decode(): float(v) for k, v in raw.items()}
        await asyncio.sleep(0.5)
    await pool.aclose()
    latencies = [(results[j] - enqueued[j]) * 1000 for j in results if j in enqueued]
    p50, p99 = _percentiles(latencies)
    return p50, p99, len(latencies)


def run(seconds: float = 5.0, rates: tuple[int, ...] = (100, 500)) -> None:
    prefix = f"bench-w-{os.getpid()}"
    with bench_store() as url:
        tenant_id, api_key = asyncio.run(_tenant(url, prefix))
        port = free_port()
        env = {
            **os.environ,
            env_name("redis_url"): url,
            env_name("key_prefix"): prefix,
            env_name("port"): str(port),
            env_name("ip_limit"): "100000000",
            env_name("tenant_write_limit"): "100000000",
            env_name("log_level"): "warning",
            env_name("worker_discovery_seconds"): "0.2",
        }
        base = f"http://127.0.0.1:{port}"
        rows = []
        with (
            process(
                [sys.executable, "-m", "baas.cli.main", "gateway"], env, f"{base}/healthz", REPO
            ),
            process([sys.executable, "-m", "baas.cli.main", "worker"], env, None, REPO),
        ):
            for rate in rates:
                rows.append(
                    (
                        "stream consumer (ours)",
                        rate,
                        *asyncio.run(
                            _stream_path(base, tenant_id, api_key, url, prefix, rate, seconds)
                        ),
                    )
                )
        with process([sys.executable, "-m", "bench.arq_baseline", url, prefix], env, None, REPO):
            time.sleep(1)
            for rate in rates:
                rows.append(
                    (
                        "arq queue (defaults)",
                        rate,
                        *asyncio.run(_arq_path(url, prefix, rate, seconds)),
                    )
                )
        cleanup = __import__("redis").Redis.from_url(url)
        for key in cleanup.scan_iter(match=f"{prefix}:*", count=1000):
            cleanup.delete(key)
        cleanup.close()
    print(
        f"\nWorkers: time from the 202 to the paper broker receiving the order ({seconds:.0f} s per rate)"
    )
    for name, rate, p50, p99, n in rows:
        print(
            f"  {name:<24} {rate:>4} signals/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   ({n} signals)"
        )
    print("  goal: p99 < 10 ms at 100 signals/s (stream consumer)")
