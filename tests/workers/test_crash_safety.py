"""Real worker processes: killed mid-flight, or two at once, every signal has exactly one outcome."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from decimal import Decimal

import orjson
import pytest

from baas.core.keyspace import Keyspace
from tests.support.gateway import app_client
from tests.support.repo import REPO
from tests.support.store import new_tenant, settings_env
from tests.support.trading_desk import now_iso

pytestmark = pytest.mark.live


def start_worker(settings, index: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings_env(settings),
        "BAAS_WORKER_INDEX": str(index),
        "BAAS_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "baas.cli.main", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def send_signals(client, tenant, count: int) -> dict[str, tuple[str, int]]:
    """Alternating buys and sells of 1 share; returns signal id → (side, quantity)."""
    sent = {}
    url = f"/tenants/{tenant.tenant_id}/api/trading"

    async def one(i: int) -> None:
        signal_id = f"s{i:05d}-{secrets.token_hex(3)}"
        side = "buy" if i % 2 == 0 else "sell"
        data = {
            "CorrelationId": "alert-1",
            "Id": signal_id,
            "BrokerId": "paper",
            "Symbol": "AAPL",
            "Date": now_iso(),
            "Data": side,
            "Quantity": 1,
            "Price": 100.0,
            "OrderType": "MKT",
            "InstrumentType": "STK",
        }
        event = {"id": signal_id, "type": "SubmitSignal", "source": "load", "data": data}
        r = await client.post(url, json=event, headers={"X-Api-Key": tenant.api_key})
        assert r.status_code == 202, r.text
        sent[signal_id] = (side, 1)

    for start in range(0, count, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))
    return sent


async def outcomes(store, keyspace: Keyspace, tenant_id: str) -> list[dict]:
    entries = await store.xrange(keyspace.tenant_log(tenant_id))
    return [d for _, f in entries if (d := orjson.loads(f[b"event"]))["source"] == "worker"]


async def wait_for_records(store, keyspace, tenant_id, at_least: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        count = await store.hlen(keyspace.readmodel(tenant_id, "signals"))
        if count >= at_least or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


def assert_exactly_once(events: list[dict], sent: dict) -> None:
    decided = collections.Counter(
        e["subject"] for e in events if e["type"] in ("SignalAccepted", "SignalRejected")
    )
    assert set(decided) == set(sent)
    assert set(decided.values()) == {1}, [k for k, v in decided.items() if v > 1][:5]
    fills = collections.Counter(e["subject"] for e in events if e["type"] == "OrderFilled")
    assert set(fills.values()) <= {1}


async def setup_desk(settings, store, prefix):
    tenant = await new_tenant(store, prefix)
    async with app_client(settings) as client:
        event = {
            "id": "cfg",
            "type": "ConfigureIndicatorAlert",
            "source": "t",
            "data": {"AlertId": "alert-1", "BrokerId": "paper", "MaxSignalAgeSeconds": 3600},
        }
        r = await client.post(
            f"/tenants/{tenant.tenant_id}/api/trading",
            json=event,
            headers={"X-Api-Key": tenant.api_key},
        )
        assert r.status_code == 202
    return tenant


async def test_a_worker_killed_mid_flight_loses_nothing_and_doubles_nothing(
    settings, store, prefix
):
    settings = dataclasses.replace(
        settings, worker_claim_idle_seconds=1.0, worker_block_ms=100, worker_discovery_seconds=0.2
    )
    keyspace = Keyspace(prefix)
    tenant = await setup_desk(settings, store, prefix)
    first = start_worker(settings, 0)
    try:
        async with app_client(settings) as client:
            sending = asyncio.create_task(send_signals(client, tenant, 1000))
            handled = await wait_for_records(store, keyspace, tenant.tenant_id, 250, 60)
            first.send_signal(signal.SIGKILL)
            first.wait()
            sent = await sending
        assert 0 < handled < 1000
        second = start_worker(settings, 1)
        try:
            assert await wait_for_records(store, keyspace, tenant.tenant_id, 1000, 120) == 1000
            await asyncio.sleep(0.5)  # anything still in flight would show as a duplicate
        finally:
            stop(second)
    finally:
        stop(first)
    events = await outcomes(store, keyspace, tenant.tenant_id)
    assert_exactly_once(events, sent)
    account = orjson.loads(await store.hget(keyspace.readmodel(tenant.tenant_id, "paper"), "paper"))
    filled = {e["subject"] for e in events if e["type"] == "OrderFilled"}
    expected = sum((1 if sent[s][0] == "buy" else -1) for s in filled)
    position = account["positions"].get("AAPL", {}).get("quantity", "0")
    assert Decimal(position) == expected
    assert Decimal(account["cash"]) == Decimal(100_000) - expected * 100


async def test_two_workers_at_once_handle_each_signal_once(settings, store, prefix):
    settings = dataclasses.replace(settings, worker_block_ms=100, worker_discovery_seconds=0.2)
    keyspace = Keyspace(prefix)
    tenant = await setup_desk(settings, store, prefix)
    workers = [start_worker(settings, 0), start_worker(settings, 1)]
    try:
        async with app_client(settings) as client:
            sent = await send_signals(client, tenant, 400)
        assert await wait_for_records(store, keyspace, tenant.tenant_id, 400, 120) == 400
        await asyncio.sleep(0.5)
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                stop(worker)
    assert_exactly_once(await outcomes(store, keyspace, tenant.tenant_id), sent)
