"""What a 503 says: a write the store took but did not answer has an unknown outcome (and a resend
of the same event is safe); a write that never reached the store wrote nothing.

The frozen store is an embedded Valkey of the test's own, stopped with SIGSTOP, whatever
REDIS_URL says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson

from baas.core.keyspace import Keyspace
from baas.settings import Settings
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from gateway.errors import NOTHING_WRITTEN, OUTCOME_UNKNOWN
from tests.support.events import signal_event
from tests.support.gateway import app_client, free_port
from tests.support.store import TenantCredentials, make_settings, new_tenant

DEADLINE = 30.0


def trading(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/api/trading"


@contextlib.contextmanager
def frozen(server: EmbeddedValkey) -> Iterator[None]:
    """The store stopped (SIGSTOP) inside the block, resumed (SIGCONT) after it."""
    pid = server._process.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.asynccontextmanager
async def own_store(folder: Path) -> AsyncIterator[tuple[EmbeddedValkey, Settings, Keyspace]]:
    with EmbeddedValkey(folder) as server:
        prefix = f"outage-{secrets.token_hex(3)}"
        yield server, make_settings(server.url, prefix, store_timeout_seconds=1.0), Keyspace(prefix)


async def logged_ids(store, keyspace: Keyspace, tenant: TenantCredentials) -> list[str]:
    entries = await store.xrange(keyspace.tenant_log(tenant.tenant_id))
    return [orjson.loads(fields[b"event"])["id"] for _, fields in entries]


async def test_a_write_the_frozen_store_did_not_answer_has_an_unknown_outcome(tmp_path):
    async with own_store(tmp_path / "store") as (server, settings, keyspace):
        store = open_store(server.url, settings)
        await load_functions(store)
        tenant = await new_tenant(store, settings.key_prefix)
        headers = {"X-Api-Key": tenant.api_key}
        event = signal_event(tenant.tenant_id)
        async with app_client(settings) as client:
            warm = await client.post(
                trading(tenant.tenant_id), json=signal_event(tenant.tenant_id), headers=headers
            )
            assert warm.status_code == 202
            with frozen(server):
                answer = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
            assert answer.status_code == 503
            assert answer.json() == {"detail": OUTCOME_UNKNOWN, "errors": []}
            assert int(answer.headers["Retry-After"]) >= 1

            # The store ran the write once it woke up: the 503 did not mean "not written".
            async with asyncio.timeout(DEADLINE):
                while event["id"] not in await logged_ids(store, keyspace, tenant):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            again = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
            assert again.status_code == 202
            assert again.headers["Idempotent-Replayed"] == "true"
            assert (await logged_ids(store, keyspace, tenant)).count(event["id"]) == 1
        await store.aclose()


async def test_a_write_that_never_reached_the_store_wrote_nothing(store_url, prefix):
    unreachable = make_settings(f"redis://127.0.0.1:{free_port()}/0", prefix)
    async with app_client(unreachable) as client:
        answer = await client.post(
            trading("t1"), json=signal_event("t1"), headers={"X-Api-Key": "baas_anything"}
        )
        assert answer.status_code == 503
        assert answer.json() == {"detail": NOTHING_WRITTEN, "errors": []}
        assert int(answer.headers["Retry-After"]) >= 1
