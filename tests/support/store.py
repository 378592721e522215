"""Test settings and tenants on the suite's store."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from baas.core.keyspace import Keyspace
from baas.settings import Settings, env_name
from baas.store.tenants import TenantRegistry

UNLIMITED = {
    "ip_limit": 1_000_000,
    "tenant_write_limit": 1_000_000,
    "auth_failure_limit": 1_000_000,
}


def external_store_url() -> str:
    """REDIS_URL (or BAAS_REDIS_URL): the server to test on instead of an embedded Valkey."""
    return os.environ.get(env_name("redis_url")) or os.environ.get("REDIS_URL", "")


def make_settings(store_url: str, prefix: str, **overrides: Any) -> Settings:
    values = {
        "redis_url": store_url,
        "key_prefix": prefix,
        "data_dir": Path("/nonexistent"),
        **UNLIMITED,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@dataclass(frozen=True)
class TenantCredentials:
    tenant_id: str
    api_key: str
    key_id: str


async def new_tenant(store: Any, prefix: str, name: str = "test") -> TenantCredentials:
    tenant, issued = await TenantRegistry(store, Keyspace(prefix)).create_tenant(name)
    return TenantCredentials(tenant.tenant_id, issued.api_key, issued.info.key_id)


def settings_env(settings: Settings) -> dict[str, str]:
    return {env_name(f.name): str(getattr(settings, f.name)) for f in fields(settings)}
