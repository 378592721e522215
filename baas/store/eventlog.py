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
from baas.store import functions
from baas.store.multiplexed import (
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


# baas_submit's values that are a request's own; the others are the same for every request.
_SUBMIT_REQUEST_VALUES = (
    "ip_window",
    "failures",
    "log",
    "write_window",
    "key_digest",
    "tenant_id",
    "member",
    "received_at",
    "client_ip",
)
_SUBMIT_REQUEST_TAILS = ("seen_keys", "events")


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
        # baas_submit's call as a template (bytes %-formatting, by name): its keys and arguments
        # in the builder's order, the same for every request encoded once in RESP, the others
        # (each encoded apart, with the memos below) put in by name: 2-3 times faster than
        # encoding the whole call.
        ip_limit, ip_window_ms, failure_limit, failure_window_ms = limits.ip_args
        tenant_limit, tenant_window_ms = limits.tenant_args
        constants = {
            "key_index": keyspace.api_key_index.encode(),
            "ip_limit": ip_limit,
            "ip_window_ms": ip_window_ms,
            "failure_limit": failure_limit,
            "failure_window_ms": failure_window_ms,
            "tenant_limit": tenant_limit,
            "tenant_window_ms": tenant_window_ms,
            "retention": str(retention_seconds).encode(),
        }
        template = functions.submit(
            **{name: encode_arguments(v).replace(b"%", b"%%") for name, v in constants.items()},
            **{name: b"%%(%b)b" % name.encode() for name in _SUBMIT_REQUEST_VALUES},
            **{name: (b"%%(%b)b" % name.encode(),) for name in _SUBMIT_REQUEST_TAILS},
        )
        self._submit_body = b"".join([*template.keys, *template.args])  # type: ignore[list-item]
        # Keys and arguments before the events' own ("seen" key; event, answer, digest).
        self._submit_named = (len(template.keys) - 1, len(template.args) - 1)
        self._submit_headers: dict[int, bytes] = {}
        self._submit_ips: Memo[str, tuple[bytes, ...]] = Memo()
        self._submit_tenants: Memo[str, tuple[bytes, ...]] = Memo()

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
        ip_window, failures, ip = self._submit_ip_part(client_ip)
        log, write_window, tenant = self._submit_tenant_part(tenant_id)
        seen_keys = [key.encode() for key in self._seen_keys(tenant_id, commands)]
        body = self._submit_body % {
            b"ip_window": ip_window,
            b"failures": failures,
            b"log": log,
            b"write_window": write_window,
            b"seen_keys": encode_arguments(*seen_keys),
            b"key_digest": encode_arguments(key_digest.encode()),
            b"tenant_id": tenant,
            b"member": encode_arguments(unique_member().encode()),
            b"received_at": encode_arguments(received_at.encode()),
            b"client_ip": ip,
            b"events": encode_arguments(*self._event_args(commands, received_at)),
        }
        reply = await self._write(self._submit_header(len(commands)) + body)
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
        log, write_window, credentials = self._tenant_names(tenant_id)
        tenant_limit, tenant_window_ms, member = (
            self.limits.tenant_write_args() if counted else ("", "", "")
        )
        call = functions.ingest(
            log=log,
            write_window=write_window,
            credentials=credentials,
            seen_keys=self._seen_keys(tenant_id, commands),
            credential=key_id,
            tenant_limit=tenant_limit,
            tenant_window_ms=tenant_window_ms,
            member=member,
            retention=self.retention_seconds,
            received_at=received_at,
            client_ip=client_ip,
            events=self._event_args(commands, received_at),
        )
        reply = await self._write(encode_command(call.command()))
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
            named_keys, named_args = self._submit_named
            keys = named_keys + events  # and an event's own: its "seen" key
            arguments = named_args + 3 * events  # and an event's own: event, answer, digest
            header = self._submit_headers[events] = encode_header(
                3 + keys + arguments
            ) + encode_arguments(b"FCALL", b"baas_submit", str(keys).encode())
        return header

    def _submit_ip_part(self, client_ip: str) -> tuple[bytes, ...]:
        """The IP's two window keys, and the IP as an argument, each encoded."""
        part = self._submit_ips.get(client_ip)
        if part is None:
            ip_window, failures = self.limits.ip_gate_keys(client_ip)
            part = self._submit_ips.keep(client_ip, _each_encoded(ip_window, failures, client_ip))
        return part

    def _submit_tenant_part(self, tenant_id: str) -> tuple[bytes, ...]:
        """The tenant's log and write window keys, and the tenant id as an argument, each
        encoded."""
        part = self._submit_tenants.get(tenant_id)
        if part is None:
            log, window, _ = self._tenant_names(tenant_id)
            part = self._submit_tenants.keep(tenant_id, _each_encoded(log, window, tenant_id))
        return part

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


def _each_encoded(*values: str) -> tuple[bytes, ...]:
    return tuple(encode_arguments(value.encode()) for value in values)
