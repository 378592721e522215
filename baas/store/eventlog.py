"""The event log: one Redis stream per tenant.

Each entry holds the canonical event (CloudEvents JSON, orjson bytes) and ingest metadata:
``received_at``, the client ``ip`` and the ``key_id`` that sent it (never the key).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from baas.core.intake import Command
from baas.core.keyspace import Keyspace
from baas.store.multiplexed import MultiplexedConnection
from baas.store.ratelimits import Limited, Limiter, RateLimits


class KeyRevoked(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Appended:
    event_id: str
    entry_id: str
    answer: bytes  # the 202 body of this event, the same on every replay
    duplicate: bool


class EventLog:
    def __init__(
        self,
        store: MultiplexedConnection,
        keyspace: Keyspace,
        limits: RateLimits,
        retention_seconds: int,
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.limits = limits
        self.retention_seconds = retention_seconds

    async def append(
        self, tenant_id: str, key_id: str, client_ip: str, received_at: str, commands: list[Command]
    ) -> list[Appended]:
        """Count the write against the tenant's limit, then append the commands not seen before.

        All in one atomic server-side call: either every new event is in the log, or none is.
        """
        limit, window_ms, member = self.limits.tenant_write_args()
        keys = [
            self.keys.tenant_log(tenant_id),
            self.keys.tenant_write_window(tenant_id),
            self.keys.tenant_keys(tenant_id),
            *(self.keys.seen_event(tenant_id, c.source, c.id) for c in commands),
        ]
        args: list[bytes | str | int] = [
            key_id,
            limit,
            window_ms,
            member,
            self.retention_seconds,
            received_at,
            client_ip,
        ]
        for command in commands:
            args.append(command.to_json())
            args.append(orjson.dumps({"id": command.reply_id}))
        reply = await self.store.call("FCALL", "baas_ingest", len(keys), *keys, *args)
        status = reply[0]
        if status == b"revoked":
            raise KeyRevoked(key_id)
        if status == b"limited":
            raise Limited(Limiter.TENANT, int(reply[1]))
        results = []
        for i, command in enumerate(commands):
            outcome, entry, answer = reply[1 + 3 * i : 4 + 3 * i]
            results.append(Appended(command.id, entry.decode(), answer, outcome == b"duplicate"))
        return results
