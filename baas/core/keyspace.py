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

    def console_session(self, session_digest: str) -> str:
        """String with TTL: a console session (JSON: tenant, key id, CSRF token), found by the
        SHA-256 hex digest of its cookie's random id."""
        return f"{self.prefix}:{{g}}:console-session:{session_digest}"

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

    def webhook_request_window(self, tenant_id: str) -> str:
        """Sorted set: the tenant's recent webhook requests from a shared sender (TradingView)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rl:webhook-requests"

    def webhook_auth_failures(self, tenant_id: str, ip: str) -> str:
        """Sorted set: the recent 401 answers to the IP's webhook requests for the tenant."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rl:webhook-auth-failures:{ip}"

    def webhook_first_arrival(self, tenant_id: str, alert_id: str, body: bytes) -> str:
        """String with TTL: when a TradingView message without a time first came for the alert."""
        digest = hashlib.sha256(alert_id.encode() + b"\x00" + body).hexdigest()[:40]
        return f"{self.prefix}:{{t:{tenant_id}}}:tv-arrival:{digest}"

    def readmodel(self, tenant_id: str, name: str) -> str:
        """Hash: a read model of the tenant's trading (alerts, brokers, paper, signals)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rm:{name}"

    def signal_index(self, tenant_id: str) -> str:
        """Sorted set: signal ids by the time they were recorded (ms), for listing."""
        return f"{self.prefix}:{{t:{tenant_id}}}:rm:signals-by-time"

    def broker_status(self, tenant_id: str, broker_id: str) -> str:
        """Hash with TTL: worker → its connection status to the broker (IBKR), as JSON."""
        return f"{self.prefix}:{{t:{tenant_id}}}:broker-status:{broker_id}"

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

    # Ledger (strategies, their keys and projections; every strategy belongs to one tenant)
    @property
    def strategy_index(self) -> str:
        """Hash: strategy id → tenant id (the /api/v1 paths name only the strategy)."""
        return f"{self.prefix}:{{g}}:strategy-index"

    @property
    def ledger_key_index(self) -> str:
        """Hash: SHA-256 hex digest of a ledger key → JSON (tenant, strategy, key id, digest)."""
        return f"{self.prefix}:{{g}}:ledger-key-index"

    def strategies(self, tenant_id: str) -> str:
        """Hash: strategy id → strategy record (JSON)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:ledger:strategies"

    def default_strategy(self, tenant_id: str) -> str:
        """String: the id of the tenant's default strategy (created on first need)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:ledger:default-strategy"

    def _strategy(self, tenant_id: str, strategy_id: str, name: str) -> str:
        return f"{self.prefix}:{{t:{tenant_id}}}:ledger:s:{strategy_id}:{name}"

    def strategy_keys(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: key id → metadata of the strategy's active ledger keys (JSON, with the digest)."""
        return self._strategy(tenant_id, strategy_id, "keys")

    def strategy_revoked_keys(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: key id → metadata of the strategy's revoked ledger keys."""
        return self._strategy(tenant_id, strategy_id, "keys-revoked")

    def ledger_state(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: ``version`` (events applied) and ``state`` (the projection, JSON)."""
        return self._strategy(tenant_id, strategy_id, "state")

    def ledger_nav(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: benchmark ("" for none) → the strategy's stored NAV projection (derived data,
        dropped by a rebuild)."""
        return self._strategy(tenant_id, strategy_id, "nav")

    def ledger_history(self, tenant_id: str, strategy_id: str) -> str:
        """List: the strategy's ledger events (as in the log), in the order they were recorded."""
        return self._strategy(tenant_id, strategy_id, "history")

    def ledger_order_ids(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: external_order_id → the order recorded under it (JSON), for idempotency."""
        return self._strategy(tenant_id, strategy_id, "order-ids")

    def ledger_cash_ids(self, tenant_id: str, strategy_id: str) -> str:
        """Hash: external_id → the cash event recorded under it (JSON), for idempotency."""
        return self._strategy(tenant_id, strategy_id, "cash-ids")

    def ledger_reconciliation(self, tenant_id: str, strategy_id: str) -> str:
        """List: reconciliation entries logged by position snapshots (JSON)."""
        return self._strategy(tenant_id, strategy_id, "reconciliation")

    def ledger_key_window(self, tenant_id: str, key_id: str) -> str:
        """Sorted set: a ledger key's recent requests (sliding-window limiter)."""
        return f"{self.prefix}:{{t:{tenant_id}}}:ledger:rl:{key_id}"

    # Prices: shared (the operator's; one hash tag per symbol) or a tenant's own
    def price_closes(self, symbol: str, tenant_id: str | None = None) -> str:
        """Hash: ISO date → daily close (decimal string) of one symbol."""
        if tenant_id is not None:
            return f"{self.prefix}:{{t:{tenant_id}}}:px:{symbol}:closes"
        return f"{self.prefix}:{{px:{symbol}}}:closes"

    def price_latest(self, symbol: str, tenant_id: str | None = None) -> str:
        """String: ``<date> <close>`` of the symbol's latest close known."""
        if tenant_id is not None:
            return f"{self.prefix}:{{t:{tenant_id}}}:px:{symbol}:latest"
        return f"{self.prefix}:{{px:{symbol}}}:latest"

    def tenant_price_symbols(self, tenant_id: str) -> str:
        """Set: the symbols a tenant imported closes of."""
        return f"{self.prefix}:{{t:{tenant_id}}}:px-symbols"

    @property
    def price_generation(self) -> str:
        """Counter: bumped after every write of closes (NAV caches are keyed by it)."""
        return f"{self.prefix}:{{g}}:price-generation"

    @property
    def price_symbols(self) -> str:
        """Set: every symbol with closes in the store."""
        return f"{self.prefix}:{{g}}:price-symbols"

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
