"""The Redis key layout, in one place.

Every key of a tenant carries the hash tag ``{t:<tenantId>}`` so that all of a tenant's keys sit
in one Redis Cluster slot and one Lua script can touch them together. Per-IP limiter keys carry
``{ip:<address>}``. The few global keys carry ``{g}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keyspace:
    prefix: str = "baas"

    # Global
    @property
    def tenants(self) -> str:
        """Hash: tenant id → tenant record (JSON)."""
        return f"{self.prefix}:{{g}}:tenants"

    @property
    def api_key_index(self) -> str:
        """Hash: SHA-256 hex digest of an API key → key record (JSON: tenant, key id, digest)."""
        return f"{self.prefix}:{{g}}:api-key-index"

    # Per tenant
    def tenant_log(self, tenant_id: str) -> str:
        """Stream: the tenant's event log."""
        return f"{self.prefix}:{{t:{tenant_id}}}:log"

    def tenant_keys(self, tenant_id: str) -> str:
        """Hash: key id → key metadata (JSON, never the key); only active keys are fields."""
        return f"{self.prefix}:{{t:{tenant_id}}}:keys"

    def tenant_revoked_keys(self, tenant_id: str) -> str:
        """Hash: key id → metadata of revoked keys (kept for listing)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:keys-revoked"

    def tenant_write_window(self, tenant_id: str) -> str:
        """Sorted set: the tenant's recent writes (sliding-window limiter)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rl:writes"

    def readmodel(self, tenant_id: str, name: str) -> str:
        """Hash: a read model of the tenant's trading (alerts, brokers, paper, signals)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rm:{name}"

    def signal_index(self, tenant_id: str) -> str:
        """Sorted set: signal ids by the time they were recorded (ms), for listing."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rm:signals-by-time"

    def handled(self, tenant_id: str) -> str:
        """Hash: commands whose outcomes are recorded (stream entry id → 1)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:handled"

    def version(self, tenant_id: str) -> str:
        """Counter: bumped by every recorded decision (optimistic concurrency between workers)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:version"

    def seen_event(self, tenant_id: str, source: str, event_id: str) -> str:
        """String with TTL: the 202 answer of an already appended (source, id)."""
        digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()[:40]
        return f"{self.prefix}:{{t:{tenant_id}}}:seen:{digest}"

    # Per client IP
    def ip_request_window(self, ip: str) -> str:
        """Sorted set: the IP's recent requests (sliding-window limiter)."""
        return f"{self.prefix}:{{ip:{ip}}}:rl:requests"

    def ip_auth_failures(self, ip: str) -> str:
        """Sorted set: the IP's recent 401 answers."""
        return f"{self.prefix}:{{ip:{ip}}}:rl:auth-failures"

    def pattern(self) -> str:
        """SCAN pattern matching every key of this prefix."""
        return f"{self.prefix}:*"
