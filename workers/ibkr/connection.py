"""One ib_async connection to IB Gateway that comes back by itself.

ib_async does not reconnect. ``IbkrConnection`` runs a loop that connects, waits for the
connection to drop (IB Gateway's daily restart, a closed socket, or a heartbeat that goes
unanswered), and connects again after an exponential backoff with jitter. Each (re)connect
emits ``connectedEvent``; each loss ``disconnectedEvent``. ``status()`` is what the API shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from eventkit import Event
from ib_async import IB

log = logging.getLogger("baas.worker.ibkr")

INFO_CODES = frozenset({2104, 2106, 2107, 2108, 2119, 2158})
"""Farm-status notices IB sends on every connect; not errors."""


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    initial_delay: float = 1.0
    """First wait before reconnecting, in seconds; doubles on each failure."""
    max_delay: float = 60.0
    """Longest wait between two attempts."""
    connect_timeout: float = 10.0
    """How long one attempt (handshake and initial synchronisation) may take."""
    heartbeat_interval: float = 30.0
    """How often an idle connection asks IB for the time (0: never)."""
    heartbeat_timeout: float = 10.0
    """An unanswered heartbeat after this long drops the connection, which then reconnects."""


class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits a random time between half
    and all of min(max_delay, initial_delay × 2ⁿ)."""

    def __init__(
        self, initial_delay: float, max_delay: float, rng: random.Random | None = None
    ) -> None:
        if initial_delay <= 0 or max_delay < initial_delay:
            raise ValueError("need 0 < initial_delay <= max_delay")
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.max_delay, self.initial_delay * 2 ** min(self.attempts, 62))
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """A broker connection as ``GET /tenants/{t}/api/brokers/{id}`` shows it."""

    host: str
    port: int
    client_id: int
    connected: bool
    ready: bool
    """Connected and reconciled: orders are being sent."""
    accounts: tuple[str, ...]
    account: str | None
    server_version: int | None
    last_error: str | None
    last_error_time: datetime | None
    last_connect_time: datetime | None
    last_disconnect_time: datetime | None
    failed_attempts: int
    """Connection attempts that failed since the last success."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times in RFC 3339)."""
        data = asdict(self)
        data["accounts"] = list(self.accounts)
        for name in ("last_error_time", "last_connect_time", "last_disconnect_time"):
            value = data[name]
            data[name] = value.isoformat() if value else None
        return data


def _now() -> datetime:
    return datetime.now(UTC)


class IbkrConnection:
    """``ib`` connected to ``host:port`` as ``client_id``, kept connected until ``stop()``."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        *,
        account: str | None = None,
        options: ConnectionOptions = ConnectionOptions(),
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.account = account
        self.options = options
        self.ib = IB()
        self.connectedEvent = Event("connectedEvent")
        """Emitted after each successful (re)connect, once ib_async has synchronised."""
        self.disconnectedEvent = Event("disconnectedEvent")
        """Emitted when a connection that was up is lost (or closed by ``stop``)."""
        self._backoff = Backoff(options.initial_delay, options.max_delay, rng)
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        self._up = False
        self._ready = False
        self._attempt_errors: list[str] = []
        self._last_error: str | None = None
        self._last_error_time: datetime | None = None
        self._last_connect_time: datetime | None = None
        self._last_disconnect_time: datetime | None = None
        self.ib.disconnectedEvent += self._on_ib_disconnected
        self.ib.errorEvent += self._on_ib_error
        self.ib.client.apiError += self._on_api_error

    # lifecycle

    def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"ibkr-connection-{self.client_id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ib.disconnect()

    @property
    def running(self) -> bool:
        """Whether it is connected or trying to be (between ``start`` and ``stop``)."""
        return self._task is not None and not self._task.done()

    @property
    def is_connected(self) -> bool:
        return self._up and self.ib.isConnected()

    async def wait_connected(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the connection is up, waiting for it at most ``timeout`` seconds."""
        if self.is_connected:
            return True
        if timeout <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.is_connected

    def drop(self, reason: str) -> None:
        """Close the connection now (it reconnects), recording ``reason`` as the last error."""
        self.record_error(reason)
        self.ib.disconnect()

    def set_ready(self, ready: bool) -> None:
        """Whether orders are being sent (the adapter says so once it has reconciled)."""
        self._ready = ready and self.is_connected

    def record_error(self, text: str) -> None:
        self._last_error, self._last_error_time = text, _now()

    def status(self) -> ConnectionStatus:
        connected = self.is_connected
        return ConnectionStatus(
            host=self.host,
            port=self.port,
            client_id=self.client_id,
            connected=connected,
            ready=connected and self._ready,
            accounts=tuple(self.ib.managedAccounts()) if connected else (),
            account=self.trading_account() if connected else self.account,
            server_version=self.ib.client.serverVersion() if connected else None,
            last_error=self._last_error,
            last_error_time=self._last_error_time,
            last_connect_time=self._last_connect_time,
            last_disconnect_time=self._last_disconnect_time,
            failed_attempts=self._backoff.attempts,
        )

    def trading_account(self) -> str | None:
        """The configured account, else the login's only account."""
        if self.account:
            return self.account
        accounts = self.ib.managedAccounts()
        return accounts[0] if len(accounts) == 1 else None

    # the loop

    async def _run(self) -> None:
        while True:
            if not await self._connect_once():
                delay = self._backoff.next_delay()
                log.info(
                    "ibkr reconnect in %.2f s",
                    delay,
                    extra={"client_id": self.client_id, "error": self._last_error},
                )
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            await self._stay_connected()

    async def _connect_once(self) -> bool:
        self._attempt_errors = []
        self._lost.clear()
        try:
            await self.ib.connectAsync(
                self.host,
                self.port,
                clientId=self.client_id,
                timeout=self.options.connect_timeout,
                account=self.account or "",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.ib.disconnect()
            self.record_error(self._describe_failure(exc))
            return False
        if not self.ib.isConnected() or self._lost.is_set():
            self.record_error("the connection dropped while synchronising")
            return False
        self._up = True
        self._last_connect_time = _now()
        self._connected.set()
        accounts = self.ib.managedAccounts()
        if self.account and self.account not in accounts:
            self.record_error(
                f"account {self.account} is not managed by this login "
                f"(it manages {', '.join(accounts) or 'none'})"
            )
        log.info(
            "ibkr connected",
            extra={
                "host": self.host,
                "port": self.port,
                "client_id": self.client_id,
                "accounts": accounts,
                "server_version": self.ib.client.serverVersion(),
            },
        )
        self.connectedEvent.emit()
        return True

    async def _stay_connected(self) -> None:
        interval = self.options.heartbeat_interval
        while self.is_connected and not self._lost.is_set():
            try:
                await asyncio.wait_for(self._lost.wait(), interval or None)
            except TimeoutError:
                await self._heartbeat()
        self._went_down()

    async def _heartbeat(self) -> None:
        try:
            await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.options.heartbeat_timeout)
        except TimeoutError:
            self.drop(
                f"IB Gateway did not answer a heartbeat within {self.options.heartbeat_timeout:g} s"
            )
        except ConnectionError:
            pass  # the socket closed meanwhile: the loop sees it

    def _went_down(self) -> None:
        if not self._up:
            return
        self._up = False
        self._ready = False
        self._connected.clear()
        self._last_disconnect_time = _now()
        if self.ib.isConnected():
            self.ib.disconnect()
        log.warning(
            "ibkr disconnected",
            extra={"client_id": self.client_id, "error": self._last_error},
        )
        self.disconnectedEvent.emit()

    # ib_async events

    def _on_ib_disconnected(self) -> None:
        self._lost.set()
        if self._up:
            # tell listeners at once (the loop notices on its next turn)
            self._went_down()

    def _on_ib_error(self, req_id: int, code: int, message: str, _contract: object) -> None:
        if req_id != -1 or code in INFO_CODES or 2100 <= code < 2200:
            return
        text = f"IB error {code}: {message}"
        self._attempt_errors.append(text)
        self.record_error(text)

    def _on_api_error(self, message: str) -> None:
        self._attempt_errors.append(message)
        if not self._up:
            return
        self.record_error(message)

    def _describe_failure(self, exc: BaseException) -> str:
        where = f"{self.host}:{self.port} (clientId {self.client_id})"
        ib_errors = [e for e in self._attempt_errors if e.startswith("IB error")]
        if ib_errors:
            return f"{where}: {ib_errors[-1]}"
        if isinstance(exc, TimeoutError):
            return (
                f"{where}: no API handshake within {self.options.connect_timeout:g} s "
                "(IB Gateway still logging in, or the clientId in use?)"
            )
        if isinstance(exc, OSError):
            return f"{where}: {exc.strerror or exc}"
        return f"{where}: {type(exc).__name__}: {exc}"
