"""The worker's loops over the tenants' logs, each through a consumer group shared by all
workers: ``workers`` decides commands, ``ledger`` posts fills to the ledger, so neither waits for
the other.

- ``XREADGROUP … BLOCK`` delivers new entries of every tenant's stream; a stream created after
  the worker started is found within ``BAAS_WORKER_DISCOVERY_SECONDS``.
- An entry is acknowledged (``XACK``) only after its outcomes are recorded.
- ``XAUTOCLAIM`` hands the entries a dead worker left pending to a live one after
  ``BAAS_WORKER_CLAIM_IDLE_SECONDS``.
- A command that fails ``MAX_FAILURES`` times gets its failure recorded as its outcome. A store
  that is unreachable, loading or read-only is no failure of the command: the turn ends, and the
  next one handles this consumer's pending entries again, in order, before reading new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as StoreConnectionError
from redis.exceptions import TimeoutError as StoreTimeoutError

from baas.core.keyspace import Keyspace
from baas.settings import Settings

log = logging.getLogger("baas.worker")

COMMANDS_GROUP = "workers"
LEDGER_GROUP = "ledger"
Entry = TypeVar("Entry")
# An entry's id, its tenant and its document to what the handler takes; None: nothing to handle.
Decode = Callable[[str, str, dict[str, Any]], Entry | None]
Handle = Callable[[Entry], Awaitable[object]]
GiveUp = Callable[[Entry, str], Awaitable[None]]
MAX_FAILURES = 3
STORE_UNAVAILABLE = (
    StoreConnectionError,  # BusyLoadingError (LOADING) among them
    StoreTimeoutError,
    ReadOnlyError,
    TryAgainError,
    ClusterDownError,
    OutOfMemoryError,
    OSError,  # a socket error redis-py let through unwrapped
)
_BUSY_REPLIES = ("BUSY ", "MASTERDOWN ")


def store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot serve now (retry), not that the command failed."""
    return isinstance(exc, STORE_UNAVAILABLE) or (
        isinstance(exc, ResponseError) and str(exc).startswith(_BUSY_REPLIES)
    )


class LogConsumer(Generic[Entry]):
    """Reads a consumer group's entries, decodes each once and hands it to ``handle``."""

    def __init__(
        self,
        store: aioredis.Redis,
        keyspace: Keyspace,
        settings: Settings,
        consumer: str,
        decode: Decode[Entry],
        handle: Handle[Entry],
        give_up: GiveUp[Entry] | None = None,
        group: str = COMMANDS_GROUP,
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.settings = settings
        self.consumer = consumer
        self.decode = decode
        self.handle = handle
        self.group = group
        self.give_up = give_up
        self.failures: dict[str, int] = {}
        self.streams: dict[str, str] = {}  # stream key → tenant id
        self._next_discovery = 0.0
        self._next_claim = 0.0
        self._replay_pending = False

    async def run(self, stop: asyncio.Event) -> None:
        log.info("consuming tenants' logs", extra={"consumer": self.consumer, "group": self.group})
        while not stop.is_set():
            try:
                await self.step()
            except (RedisError, *STORE_UNAVAILABLE) as exc:
                self._replay_pending = True
                log.warning("store error; retrying", extra={"error": str(exc)})
                await asyncio.sleep(1)
            except Exception:  # a bug must not end the loop: the worker would look alive, idle
                log.exception("consumer turn failed; retrying", extra={"group": self.group})
                await asyncio.sleep(1)

    async def step(self) -> int:
        """One turn of the loop: discover, claim, read, handle. Returns the entries handled."""
        now = time.monotonic()
        if now >= self._next_discovery:
            await self.discover()
            self._next_discovery = now + self.settings.worker_discovery_seconds
        handled = 0
        if now >= self._next_claim:
            handled += await self.claim_abandoned()
            self._next_claim = now + self.settings.worker_claim_idle_seconds / 2
        if not self.streams:
            await asyncio.sleep(self.settings.worker_block_ms / 1000)
            return handled
        replay, self._replay_pending = self._replay_pending, False
        replies = await self.store.xreadgroup(
            self.group,
            self.consumer,
            # "0": this consumer's own pending entries (left by a store outage) come first
            dict.fromkeys(self.streams, "0" if replay else ">"),
            count=self.settings.worker_batch,
            block=None if replay else self.settings.worker_block_ms,
        )
        # Tenants side by side: a broker that keeps one tenant waiting does not hold the others.
        # A store outage ends the turn only once every tenant's handling has stopped, so that
        # the replay never handles an entry that is still being handled.
        results = await asyncio.gather(
            *(self._handle_all(stream.decode(), entries) for stream, entries in replies or []),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return handled + sum(r for r in results if isinstance(r, int))

    async def discover(self) -> None:
        for raw in await self.store.hkeys(self.keys.tenants):
            tenant_id = raw.decode()
            stream = self.keys.tenant_log(tenant_id)
            if stream in self.streams:
                continue
            with contextlib.suppress(ResponseError):  # BUSYGROUP: another worker made it
                await self.store.xgroup_create(stream, self.group, id="0", mkstream=True)
            self.streams[stream] = tenant_id

    async def claim_abandoned(self) -> int:
        handled = 0
        idle_ms = int(self.settings.worker_claim_idle_seconds * 1000)
        for stream in list(self.streams):
            start = "0-0"
            while True:
                reply = await self.store.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    idle_ms,
                    start,
                    count=self.settings.worker_batch,
                )
                start, entries = reply[0], reply[1]
                if entries:
                    log.info(
                        "claimed abandoned entries", extra={"stream": stream, "count": len(entries)}
                    )
                    handled += await self._handle_all(stream, entries)
                if start in (b"0-0", "0-0") or not entries:
                    break
        return handled

    async def _gave_up(self, entry_id: str, decoded: Entry, exc: Exception) -> bool:
        """After MAX_FAILURES attempts, record the failure as the entry's outcome."""
        self.failures[entry_id] = self.failures.get(entry_id, 0) + 1
        if self.give_up is None or self.failures[entry_id] < MAX_FAILURES:
            return False
        await self.give_up(decoded, f"{type(exc).__name__}: {exc}")
        return True

    async def _handle_all(self, stream: str, entries: list[Any]) -> int:
        tenant_id = self.streams[stream]
        done = []
        for entry_id, fields in entries:
            if fields is None:  # trimmed away while pending
                done.append(entry_id)
                continue
            entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            try:
                decoded = self.decode(entry, tenant_id, orjson.loads(fields[b"event"]))
            except Exception:
                # Only a hand-written or damaged entry: the gateway logs checked commands. It stays
                # in the log, unacted on; held pending, it would stop this tenant's every turn.
                log.exception(
                    "unreadable log entry skipped", extra={"tenant_id": tenant_id, "entry": entry}
                )
                done.append(entry_id)
                continue
            if decoded is not None:
                try:
                    await self.handle(decoded)
                except Exception as exc:
                    if store_unavailable(exc):
                        raise  # not the command's failure: the turn ends, the entry is replayed
                    log.exception("handling failed", extra={"tenant_id": tenant_id, "entry": entry})
                    if not await self._gave_up(entry, decoded, exc):
                        continue  # left pending: another attempt comes through XAUTOCLAIM
            self.failures.pop(entry, None)
            done.append(entry_id)
        if done:
            await self.store.xack(stream, self.group, *done)
        return len(done)
