"""One pipelined connection for the gateway's hot path.

redis-py checks a pooled connection for stray data before every command and writes each command
with its own system call; on a busy gateway that costs more than the command itself. Here every
request shares one connection: commands issued in the same event-loop turn leave in a few writes
(``FLUSH_AT``), replies are matched to callers in order (Redis answers in order), and many replies
are parsed from one read. Everything else keeps using redis-py.

A command that could not be sent fails with ``StoreUnreachable``; one sent and then timed out or
cut off by a lost connection fails with another store error: the store may have run it.

A timeout is one watchdog per connection, not a timer per command: when the oldest unanswered
command has waited longer than the timeout, it fails (and stays queued, so that a late reply keeps
the order), and so does every command sent since that long ago.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any
from urllib.parse import unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError as StoreConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as StoreTimeoutError

Arg = bytes | str | int | float
# Queued commands leave in one write at the end of the event-loop turn, or as soon as this many
# are queued: the store starts on them while the gateway reads the next requests. (Measured with
# ``python -m bench ingress``: waiting for the end of a busy turn left the store idle, and
# the gateway too, a fifth of the time; 8 saved the gateway 2-4% of its time per request against 4
# at 32, 64 and 128 connections, by waking the store half as often; 16 and more left it idle.)
FLUSH_AT = 8


class StoreUnreachable(StoreConnectionError):
    """The connection could not be opened: the command was never sent."""


def encode_command(args: tuple[Arg, ...]) -> bytes:
    """The RESP encoding of one command (hiredis does it in C)."""
    return hiredis.pack_command(args)


def encode_arguments(*values: bytes) -> bytes:
    """The RESP encoding of arguments (bulk strings), to join with others into a command: the
    constant part of a hot command encoded once."""
    return b"".join([b"$%d\r\n%b\r\n" % (len(value), value) for value in values])


def encode_header(arguments: int) -> bytes:
    """The RESP header of a command of ``arguments`` arguments, its name included."""
    return b"*%d\r\n" % arguments


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: MultiplexedConnection) -> None:
        self.owner = owner
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.owner._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(exc)


class MultiplexedConnection:
    def __init__(self, url: str, timeout: float) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("redis", "unix"):
            raise ValueError("the pipelined connection supports redis:// and unix:// URLs")
        self._url = parsed
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        # Unanswered commands in the order sent, with the loop time each was sent at.
        self._pending: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop  # the loop of the last connection

    async def call(self, *args: Arg) -> Any:
        """Send one command; its reply, or raise ResponseError / a store connection error."""
        return await self.call_encoded(encode_command(args))

    async def call_encoded(self, command: bytes) -> Any:
        """``call`` for a command already in RESP."""
        if self._protocol is None:
            await self._connect()
        future = self._loop.create_future()
        self._pending.append((future, self._loop.time()))
        self._outbox.append(command)
        self._queued()
        return await future

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Several commands in one write; their replies in order (errors returned, not raised)."""
        futures = await self._send([encode_command(c) for c in commands])
        results = []
        for future in futures:
            try:
                results.append(await future)
            except ResponseError as exc:
                results.append(exc)
        return results

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _send(self, packed: list[bytes]) -> list[asyncio.Future[Any]]:
        if self._protocol is None:
            await self._connect()
        futures = [self._loop.create_future() for _ in packed]
        now = self._loop.time()
        self._pending.extend((future, now) for future in futures)
        self._outbox.extend(packed)
        self._queued()
        return futures

    def _queued(self) -> None:
        if len(self._outbox) >= FLUSH_AT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self._loop.call_later(self._timeout, self._expire_overdue)

    def _expire_overdue(self) -> None:
        self._watchdog = None
        loop = self._loop
        cutoff = loop.time() - self._timeout
        next_due = None
        for future, sent_at in self._pending:
            if sent_at > cutoff:
                next_due = sent_at + self._timeout
                break
            if not future.done():
                future.set_exception(StoreTimeoutError("the store did not answer in time"))
        if next_due is not None:
            self._watchdog = loop.call_at(next_due, self._expire_overdue)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._outbox:
            return
        if self._protocol is None or self._protocol.transport is None:
            return
        self._protocol.transport.write(b"".join(self._outbox))
        self._outbox.clear()

    def _received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            future, _ = self._pending.popleft()
            if future.done():
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _lost(self, exc: Exception | None) -> None:
        self._protocol = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._outbox.clear()
        error = StoreConnectionError(f"connection to the store lost: {exc or 'closed'}")
        while self._pending:
            future, _ = self._pending.popleft()
            if not future.done():
                future.set_exception(error)

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None:
                return
            loop = self._loop = asyncio.get_running_loop()
            url = self._url
            try:
                if url.scheme == "unix":
                    connecting = loop.create_unix_connection(lambda: _Protocol(self), url.path)
                else:
                    connecting = loop.create_connection(
                        lambda: _Protocol(self), url.hostname or "127.0.0.1", url.port or 6379
                    )
                _, protocol = await asyncio.wait_for(connecting, self._timeout)
            except (OSError, TimeoutError) as exc:
                raise StoreUnreachable(f"cannot reach the store: {exc}") from None
            self._protocol = protocol
            handshake: list[tuple[Arg, ...]] = []
            if url.password:
                user = unquote(url.username) if url.username else None
                password = unquote(url.password)
                handshake.append(("AUTH", user, password) if user else ("AUTH", password))
            database = url.path.lstrip("/") if url.scheme == "redis" else ""
            if database and database != "0":
                handshake.append(("SELECT", database))
            for reply in await self.pipeline(*handshake):
                if isinstance(reply, ResponseError):
                    await self.close()
                    raise StoreUnreachable(f"the store refused the connection: {reply}")
