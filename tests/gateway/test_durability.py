"""Durability: an event answered 202 survives a SIGKILL of the store.

The test runs its own embedded Valkey (append-only file, ``appendfsync always``) whatever
REDIS_URL says, kills it while requests are still in flight, starts a new one on the same data
directory and looks for every acknowledged event in the tenant's log, and for its idempotency
record. The rate-limit windows are not in the append-only file: the restarted store has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter

import httpx
import orjson
import redis

from baas.core.keyspace import Keyspace
from baas.settings import Settings
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from tests.support.events import signal_event
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

EVENTS = 300
CHUNK = 25
KILL_AFTER = 120  # acknowledged events before the store is killed
TEST_TIMEOUT = 90.0


def trading(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/api/trading"


async def test_every_acknowledged_event_survives_a_kill_of_the_store(tmp_path):
    prefix = f"durability-{secrets.token_hex(3)}"
    server = EmbeddedValkey(tmp_path / "store", appendfsync="always")
    server.start()
    try:
        async with asyncio.timeout(TEST_TIMEOUT):
            acknowledged, failed, in_flight_at_kill = await _send_and_kill(server, prefix)
    finally:
        server.kill()

    assert len(acknowledged) >= KILL_AFTER
    assert in_flight_at_kill > 0, "the store was killed with no request in flight"
    assert failed
    assert len(acknowledged) + len(failed) == EVENTS

    with EmbeddedValkey(tmp_path / "store", appendfsync="always") as restarted:
        client = redis.Redis.from_url(restarted.url, socket_timeout=10)
        with contextlib.closing(client):
            tenant_id = client.get(f"{prefix}:test-tenant").decode()
            entries = client.xrange(Keyspace(prefix).tenant_log(tenant_id))
            seen_records = list(client.scan_iter(match=f"{prefix}:*:seen:*", count=1000))
            windows = list(client.scan_iter(match=f"{prefix}:*:rl:*", count=1000))
    logged = [orjson.loads(fields[b"event"])["id"] for _, fields in entries]
    duplicates = [event_id for event_id, n in Counter(logged).items() if n > 1]
    assert duplicates == []
    lost = set(acknowledged) - set(logged)
    assert lost == set(), f"{len(lost)} of {len(acknowledged)} acknowledged events were lost"
    # Events in flight at the kill may or may not have been written; nothing else is there.
    assert set(logged) <= set(acknowledged) | set(failed)
    # Replays stay deduplicated after the restart; the rate-limit windows start empty.
    assert len(seen_records) == len(logged)
    assert windows == []


async def _send_and_kill(server: EmbeddedValkey, prefix: str) -> tuple[list[str], list[str], int]:
    """Send EVENTS signals, CHUNK at a time; kill the store once KILL_AFTER are acknowledged.

    Returns (ids answered 202, ids answered otherwise or not at all, requests in flight at the
    kill).
    """
    settings: Settings = make_settings(server.url, prefix, store_timeout_seconds=2.0)
    store = open_store(server.url, settings)
    try:
        await load_functions(store)
        tenant = await new_tenant(store, prefix)
        # Where the second store finds the tenant: the test's own key, in the same AOF.
        await store.set(f"{prefix}:test-tenant", tenant.tenant_id)
    finally:
        await store.aclose()

    acknowledged: list[str] = []
    failed: list[str] = []
    killed = asyncio.Event()
    in_flight = 0
    in_flight_at_kill = 0

    async with app_client(settings) as client:

        async def submit(event_id: str) -> None:
            nonlocal in_flight, in_flight_at_kill
            event = signal_event(tenant.tenant_id, event_id, CorrelationId=event_id)
            in_flight += 1
            try:
                r = await client.post(
                    trading(tenant.tenant_id),
                    json=event,
                    headers={"X-Api-Key": tenant.api_key},
                    timeout=10,
                )
            except (httpx.HTTPError, OSError, redis.RedisError):
                failed.append(event_id)
                return
            finally:
                in_flight -= 1
            if r.status_code == 202:
                assert r.json() == {"id": event_id}
                acknowledged.append(event_id)
                if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    # SIGKILL right now, with the other requests of the window in flight.
                    in_flight_at_kill = in_flight
                    server.kill()
            else:
                assert r.status_code == 503, r.text
                failed.append(event_id)

        # A sliding window of CHUNK requests: whenever one is answered the next starts, so the
        # kill always finds about CHUNK requests in flight.
        window = asyncio.Semaphore(CHUNK)

        async def submit_in_window(event_id: str) -> None:
            async with window:
                await submit(event_id)

        ids = [f"durable-{i:04d}-{secrets.token_hex(4)}" for i in range(EVENTS)]
        await asyncio.gather(*(submit_in_window(event_id) for event_id in ids))
    return acknowledged, failed, in_flight_at_kill
