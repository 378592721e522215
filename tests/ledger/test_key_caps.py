"""Caps on active keys: BAAS_LEDGER_MAX_KEYS_PER_STRATEGY ledger keys per strategy (409 above),
BAAS_MAX_API_KEYS_PER_TENANT API keys per tenant (`baas keys create` says so in one line)."""

from __future__ import annotations

import asyncio

from tests.cli.test_cli import baas, clean_env
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

from .support import create_strategy


async def test_a_strategy_holds_at_most_its_cap_of_active_keys(store_url, prefix, store):
    tenant = await new_tenant(store, prefix)
    settings = make_settings(store_url, prefix, ledger_max_keys_per_strategy=3)
    assert make_settings(store_url, prefix).ledger_max_keys_per_strategy == 20
    async with app_client(settings) as client:
        strategy = await create_strategy(client, tenant)
        url = f"/strategies/{strategy['id']}/api-keys"
        headers = {"X-Api-Key": tenant.api_key}
        # Concurrent creations: exactly the cap is issued, whatever the interleaving.
        answers = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(8)))
        assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 5
        refused = next(a for a in answers if a.status_code == 409).json()
        assert refused == {
            "detail": f"Strategy {strategy['id']} has 3 active API keys, the most allowed "
            "(BAAS_LEDGER_MAX_KEYS_PER_STRATEGY): revoke one first."
        }
        keys = (await client.get(url, headers=headers)).json()
        assert len(keys) == 3
        revoked = await client.post(f"{url}/{keys[0]['id']}/revoke", headers=headers)
        assert revoked.status_code == 200
        assert (await client.post(url, headers=headers)).status_code == 201
        assert (await client.post(url, headers=headers)).status_code == 409


async def test_baas_keys_create_stops_at_the_tenant_s_cap(store_url, prefix, store, tmp_path):
    tenant = await new_tenant(store, prefix)  # it has its initial key
    env = clean_env(
        BAAS_REDIS_URL=store_url, BAAS_KEY_PREFIX=prefix, BAAS_MAX_API_KEYS_PER_TENANT="2"
    )
    create = ("keys", "create", "--tenant", tenant.tenant_id)
    first = await asyncio.to_thread(baas, *create, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = await asyncio.to_thread(baas, *create, env=env, cwd=tmp_path)
    assert (second.returncode, second.stdout) == (1, "")
    assert second.stderr == (
        f"error: tenant {tenant.tenant_id} has 2 active keys, the most allowed "
        "(BAAS_MAX_API_KEYS_PER_TENANT): revoke one first\n"
    )
