"""The event log: one Redis stream per tenant.

Each entry holds the canonical event (CloudEvents JSON, orjson bytes) and ingest metadata:
``received_at``, the client ``ip`` and the ``key_id`` that sent it (never the key).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NamedTuple

import orjson
from redis.exceptions import ConnectionError as StoreConnectionError
from redis.exceptions import TimeoutError as StoreTimeoutError

from baas.core.intake import Command
from baas.core.keyspace import Keyspace
from baas.core.memo import Memo
from baas.store.multiplexed import (
    Arg,
    MultiplexedConnection,
    StoreUnreachable,
    encode_arguments,
    encode_command,
    encode_header,
)
from baas.store.ratelimits import Limited, Limiter, RateLimits, unique_member


class KeyRevoked(Exception):
    """The credential is unknown or no longer active."""


class WrongTenant(Exception):
    """The API key is valid, for another tenant."""


class IdReused(Exception):
    """An event's (source, id) was already used for an event with other content."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position  # in the request's events


class OutcomeUnknown(Exception):
    """The write was sent but not answered (a time-out, a lost connection): the store may or may
    not have appended it. Sending the same events again is safe: they are appended once."""


# baas_submit's keys before the events' own: the IP's two windows, the key index, the tenant's log
# and write window; its arguments before the limits: key digest, tenant id, member, received_at, IP.
_SUBMIT_FIXED_KEYS = 5
_SUBMIT_REQUEST_ARGS = 5


def content_digest(command: Command, event: bytes, received_at: str) -> bytes:
    """What a resend of the event must repeat: its canonical JSON, without the time when that is
    the time of receipt (an event sent without one gets it, and a resend is received later)."""
    if command.event["time"] == received_at:
        event = event.replace(b'"time":"%s"' % received_at.encode(), b'"time":null', 1)
    return hashlib.blake2b(event, digest_size=16).hexdigest().encode()


class Appended(NamedTuple):
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
        self._names: Memo[str, tuple[str, str, str]] = Memo()  # a tenant's key names
        # baas_submit's arguments that are the same for every request of a tenant, of an IP or
        # of all, in RESP: a request encodes only its own (2-3 times faster than all of them).
        self._submit_headers: dict[int, bytes] = {}
        self._submit_ips: Memo[str, tuple[bytes, bytes]] = Memo()
        self._submit_tenants: Memo[str, tuple[bytes, bytes]] = Memo()
        self._key_index = encode_arguments(keyspace.api_key_index.encode())
        constants = (*limits.ip_args, *limits.tenant_args, str(retention_seconds).encode())
        self._submit_constants = encode_arguments(*constants)
        self._submit_fixed_args = _SUBMIT_REQUEST_ARGS + len(constants)

    async def submit(
        self,
        tenant_id: str,
        key_digest: str,
        client_ip: str,
        received_at: str,
        commands: list[Command],
    ) -> list[Appended]:
        """The trading API's whole write in one atomic server-side call: the client IP's limits,
        the API key (by its digest), the tenant's write limit, then the commands not seen before.
        Either every new event is in the log, or none is.

        Raises Limited, KeyRevoked (no such active key), WrongTenant, IdReused or OutcomeUnknown.
        """
        ip_keys, ip = self._submit_ip_part(client_ip)
        tenant_keys, tenant = self._submit_tenant_part(tenant_id)
        seen_keys = [key.encode() for key in self._seen_keys(tenant_id, commands)]
        command = b"".join(
            [
                self._submit_header(len(commands)),
                ip_keys,
                self._key_index,
                tenant_keys,
                encode_arguments(*seen_keys, key_digest.encode()),
                tenant,
                encode_arguments(unique_member().encode(), received_at.encode()),
                ip,
                self._submit_constants,
                encode_arguments(*self._event_args(commands, received_at)),
            ]
        )
        reply = await self._write(command)
        status = reply[0]
        if status == b"limited":
            raise Limited(Limiter(reply[1].decode()), int(reply[2]))
        if status == b"forbidden":
            raise WrongTenant(tenant_id)
        if status == b"unknown" or not hmac.compare_digest(reply[1], key_digest.encode()):
            raise KeyRevoked()
        if status == b"conflict":
            raise IdReused(int(reply[2]))
        return self._results(commands, reply, 2)

    async def append(
        self,
        tenant_id: str,
        key_id: str,
        client_ip: str,
        received_at: str,
        commands: list[Command],
        *,
        counted: bool = True,
    ) -> list[Appended]:
        """Count the write against the tenant's limit, then append the commands not seen before,
        in one atomic server-side call that re-checks ``key_id`` in the tenant's credentials (the
        keyspace's ``tenant_keys``). ``counted=False``: the service's own write, in no window.

        Raises Limited, KeyRevoked, IdReused or OutcomeUnknown.
        """
        keys = self._tenant_keys(tenant_id, commands)
        args: list[Arg] = [
            key_id,
            *(self.limits.tenant_write_args() if counted else ("", "", "")),
            self.retention_seconds,
            received_at,
            client_ip,
            *self._event_args(commands, received_at),
        ]
        reply = await self._write(encode_command(("FCALL", "baas_ingest", len(keys), *keys, *args)))
        status = reply[0]
        if status == b"revoked":
            raise KeyRevoked(key_id)
        if status == b"limited":
            raise Limited(Limiter.TENANT, int(reply[1]))
        if status == b"conflict":
            raise IdReused(int(reply[1]))
        return self._results(commands, reply, 1)

    async def _write(self, command: bytes) -> Any:
        try:
            return await self.store.call_encoded(command)
        except StoreUnreachable:
            raise  # never sent: nothing was written
        except (StoreTimeoutError, StoreConnectionError) as exc:
            raise OutcomeUnknown() from exc

    def _submit_header(self, events: int) -> bytes:
        """``FCALL baas_submit`` and its number of keys, for a request of ``events`` events."""
        header = self._submit_headers.get(events)
        if header is None:
            keys = _SUBMIT_FIXED_KEYS + events  # and an event's own: its "seen" key
            # and an event's own: event, answer, digest
            arguments = self._submit_fixed_args + 3 * events
            header = self._submit_headers[events] = encode_header(
                3 + keys + arguments
            ) + encode_arguments(b"FCALL", b"baas_submit", str(keys).encode())
        return header

    def _submit_ip_part(self, client_ip: str) -> tuple[bytes, bytes]:
        """The IP's two window keys, and the IP as an argument."""
        part = self._submit_ips.get(client_ip)
        if part is None:
            keys = [key.encode() for key in self.limits.ip_gate_keys(client_ip)]
            part = self._submit_ips.keep(
                client_ip, (encode_arguments(*keys), encode_arguments(client_ip.encode()))
            )
        return part

    def _submit_tenant_part(self, tenant_id: str) -> tuple[bytes, bytes]:
        """The tenant's log and write window keys, and the tenant id as an argument."""
        part = self._submit_tenants.get(tenant_id)
        if part is None:
            log, window, _ = self._tenant_names(tenant_id)
            part = self._submit_tenants.keep(
                tenant_id,
                (
                    encode_arguments(log.encode(), window.encode()),
                    encode_arguments(tenant_id.encode()),
                ),
            )
        return part

    def _tenant_keys(self, tenant_id: str, commands: list[Command]) -> list[str]:
        """The tenant's log, write window and credentials hash, then each event's "seen" key."""
        return [*self._tenant_names(tenant_id), *self._seen_keys(tenant_id, commands)]

    def _tenant_names(self, tenant_id: str) -> tuple[str, str, str]:
        names = self._names.get(tenant_id)
        if names is None:
            names = self._names.keep(
                tenant_id,
                (
                    self.keys.tenant_log(tenant_id),
                    self.keys.tenant_write_window(tenant_id),
                    self.keys.tenant_keys(tenant_id),
                ),
            )
        return names

    def _seen_keys(self, tenant_id: str, commands: list[Command]) -> list[str]:
        return [self.keys.seen_event(tenant_id, c.source, c.id) for c in commands]

    @staticmethod
    def _event_args(commands: list[Command], received_at: str) -> list[bytes]:
        args = []
        for command in commands:
            event = command.to_json()
            args.append(event)
            args.append(orjson.dumps({"id": command.reply_id}))
            args.append(content_digest(command, event, received_at))
        return args

    @staticmethod
    def _results(commands: list[Command], reply: list[Any], first: int) -> list[Appended]:
        results = []
        for i, command in enumerate(commands):
            outcome, entry, answer = reply[first + 3 * i : first + 3 + 3 * i]
            results.append(Appended(command.id, entry.decode(), answer, outcome == b"duplicate"))
        return results
