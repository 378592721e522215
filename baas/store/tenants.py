"""Tenants and their API keys, kept in the store.

Layout (see ``Keyspace``): a global hash of tenants; a global index from key digest to
``{tenant_id, key_id, digest}``; per tenant, a hash of its active keys' metadata and one of
revoked keys. The write path (``baas_submit``) finds a key in the index atomically with the
append; revocation removes it from the index and the tenant's active keys in one transaction, so
a revoked key can never append.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson
import redis.asyncio as aioredis

from baas.core import apikeys
from baas.core.event_time import format_time
from baas.core.keyspace import Keyspace
from baas.store.capped import hset_capped


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    tenant_id: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: the only moment its plaintext exists."""

    info: KeyInfo
    api_key: str


@dataclass(frozen=True, slots=True)
class KeyOwner:
    tenant_id: str
    key_id: str


class UnknownTenant(LookupError):
    pass


def _now() -> str:
    return format_time(datetime.now(UTC))


class TenantRegistry:
    def __init__(self, store: aioredis.Redis, keyspace: Keyspace) -> None:
        self.store = store
        self.keys = keyspace

    async def create_tenant(
        self, name: str, tenant_id: str | None = None
    ) -> tuple[Tenant, IssuedKey]:
        tenant = Tenant(tenant_id or str(uuid.uuid4()), name, _now())
        await self.store.hset(self.keys.tenants, tenant.tenant_id, orjson.dumps(asdict(tenant)))
        return tenant, await self.create_key(tenant.tenant_id, name="initial")

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        raw = await self.store.hget(self.keys.tenants, tenant_id)
        return Tenant(**orjson.loads(raw)) if raw else None

    async def list_tenants(self) -> list[Tenant]:
        raw = await self.store.hgetall(self.keys.tenants)
        tenants = [Tenant(**orjson.loads(v)) for v in raw.values()]
        return sorted(tenants, key=lambda t: t.created_at)

    async def create_key(
        self, tenant_id: str, name: str = "", *, limit: int | None = None
    ) -> IssuedKey:
        """A new key of the tenant; TooManyKeys when it has ``limit`` active ones (None: no
        limit, for a new tenant's first key)."""
        if await self.get_tenant(tenant_id) is None:
            raise UnknownTenant(tenant_id)
        api_key = apikeys.new_api_key()
        info = KeyInfo(
            apikeys.new_id("key"), tenant_id, name, apikeys.display_prefix(api_key), _now()
        )
        digest = apikeys.digest(api_key)
        record = {**asdict(info), "digest": digest}
        # Tenant-local first: the ingest function trusts it; the index makes the key usable.
        keys_hash = self.keys.tenant_keys(tenant_id)
        if limit is None:  # a new tenant's first key
            await self.store.hset(keys_hash, info.key_id, orjson.dumps(record))
        else:
            await hset_capped(self.store, keys_hash, info.key_id, orjson.dumps(record), limit)
        owner = {"tenant_id": tenant_id, "key_id": info.key_id, "digest": digest}
        await self.store.hset(self.keys.api_key_index, digest, orjson.dumps(owner))
        return IssuedKey(info, api_key)

    async def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        active = await self.store.hgetall(self.keys.tenant_keys(tenant_id))
        revoked = await self.store.hgetall(self.keys.tenant_revoked_keys(tenant_id))
        infos = [_info(raw) for raw in [*active.values(), *revoked.values()]]
        return sorted(infos, key=lambda k: k.created_at)

    async def revoke_key(self, tenant_id: str, key_id: str) -> KeyInfo | None:
        """Revoke at once for every gateway; idempotent. None if the tenant has no such key."""
        raw = await self.store.hget(self.keys.tenant_keys(tenant_id), key_id)
        if raw is None:
            old = await self.store.hget(self.keys.tenant_revoked_keys(tenant_id), key_id)
            return _info(old) if old else None
        record = {**orjson.loads(raw), "revoked_at": _now()}
        # One transaction: the write path takes a key in the index for an active one.
        async with self.store.pipeline(transaction=True) as revoke:
            revoke.hdel(self.keys.tenant_keys(tenant_id), key_id)
            revoke.hdel(self.keys.api_key_index, record["digest"])
            revoke.hset(self.keys.tenant_revoked_keys(tenant_id), key_id, orjson.dumps(record))
            await revoke.execute()
        return _info(orjson.dumps(record))


def _info(raw: bytes) -> KeyInfo:
    record = orjson.loads(raw)
    record.pop("digest", None)
    return KeyInfo(**record)


def owner_from_index(raw: bytes | None, key_digest: str) -> KeyOwner | None:
    """Read an index record fetched by digest, comparing the digests in constant time."""
    if raw is None:
        return None
    record = orjson.loads(raw)
    if not apikeys.matches(record["digest"], key_digest):
        return None
    return KeyOwner(record["tenant_id"], record["key_id"])
