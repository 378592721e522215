"""The three limits of the spec, as sliding windows kept in the store (shared by all gateways).

1. per client IP: requests to any API endpoint;
2. per tenant: writes (POST/PUT of commands);
3. per client IP: 401 answers; past the limit the IP is blocked until the window has moved on,
   and an authenticated request clears the count.
"""

from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass
from enum import StrEnum

from baas.core.keyspace import Keyspace
from baas.core.memo import Memo
from baas.settings import Settings
from baas.store import functions
from baas.store.multiplexed import Arg, MultiplexedConnection


class Limiter(StrEnum):
    IP = "ip"
    TENANT = "tenant"
    AUTH_FAILURE = "auth_failure"


@dataclass(slots=True)
class Limited(Exception):
    limiter: Limiter
    wait_ms: int

    @property
    def retry_after(self) -> int:
        """Whole seconds until a request would pass (the Retry-After header)."""
        return max(1, math.ceil(self.wait_ms / 1000))


_MEMBER_PREFIX = secrets.token_hex(6)
_members = itertools.count()


def unique_member() -> str:
    """Unique across processes and calls, without a system call for randomness each time."""
    return f"{_MEMBER_PREFIX}{next(_members)}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _encoded(*numbers: int) -> tuple[bytes, ...]:
    return tuple(str(n).encode() for n in numbers)


class RateLimits:
    def __init__(
        self, store: MultiplexedConnection, keyspace: Keyspace, settings: Settings
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.s = settings
        self._ip_names: Memo[str, tuple[str, str]] = Memo()
        # The limits' arguments as the store receives them, encoded once: the IP's limit and
        # window, failure limit and window (ms); the tenant's write limit and window (ms).
        self.ip_args = _encoded(
            settings.ip_limit,
            _ms(settings.ip_window_seconds),
            settings.auth_failure_limit,
            _ms(settings.auth_failure_window_seconds),
        )
        self.tenant_args = _encoded(
            settings.tenant_write_limit, _ms(settings.tenant_write_window_seconds)
        )

    def ip_gate_keys(self, ip: str) -> tuple[str, str]:
        names = self._ip_names.get(ip)
        if names is None:
            names = self._ip_names.keep(
                ip, (self.keys.ip_request_window(ip), self.keys.ip_auth_failures(ip))
            )
        return names

    def webhook_gate_keys(self, ip: str, tenant_id: str, shared_sender: bool) -> tuple[str, str]:
        """A webhook's windows: its requests count against the IP, or against the tenant when
        the IP is a sender shared by every user (TradingView's); its 401s against the pair
        (IP, tenant), so that wrong URLs sent from a shared address block no other tenant."""
        requests = (
            self.keys.webhook_request_window(tenant_id)
            if shared_sender
            else self.keys.ip_request_window(ip)
        )
        return requests, self.keys.webhook_auth_failures(tenant_id, ip)

    def ip_gate_command(self, ip: str) -> tuple[Arg, ...]:
        """The per-IP check, to send in a pipeline; read its reply with ``ip_gate_result``."""
        return self.gate_command(self.ip_gate_keys(ip))

    def gate_command(self, windows: tuple[str, str]) -> tuple[Arg, ...]:
        """The check of a request window and an auth-failure window, with the per-IP limits."""
        ip_limit, ip_window_ms, failure_limit, failure_window_ms = self.ip_args
        return functions.ip_gate(
            *windows, ip_limit, ip_window_ms, failure_limit, failure_window_ms, unique_member()
        ).command()

    @staticmethod
    def ip_gate_result(reply: list[int]) -> int:
        """The IP's current count of auth failures, or raise Limited."""
        outcome, value = int(reply[0]), int(reply[1])
        if outcome == 1:
            raise Limited(Limiter.IP, value)
        if outcome == 2:
            raise Limited(Limiter.AUTH_FAILURE, value)
        return value

    async def record_auth_failure(self, ip: str) -> None:
        await self.record_failure(self.keys.ip_auth_failures(ip))

    async def record_failure(self, window: str) -> None:
        """A 401 counted in an auth-failure window."""
        call = functions.auth_failure(
            window, _ms(self.s.auth_failure_window_seconds), unique_member()
        )
        await self.store.call(*call.command())

    async def clear_auth_failures(self, ip: str) -> None:
        await self.clear_failures(self.keys.ip_auth_failures(ip))

    async def clear_failures(self, window: str) -> None:
        await self.store.call("DEL", window)

    async def count_tenant_write(self, tenant_id: str) -> None:
        """Count a write that will not reach the log (it failed validation); raise if over."""
        call = functions.tenant_write(
            self.keys.tenant_write_window(tenant_id), *self.tenant_write_args()
        )
        wait = await self.store.call(*call.command())
        if int(wait) > 0:
            raise Limited(Limiter.TENANT, int(wait))

    def tenant_write_args(self) -> tuple[bytes | str, ...]:
        """The tenant's write limit and window (ms), and a member."""
        return (*self.tenant_args, unique_member())
