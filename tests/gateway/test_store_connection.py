"""The gateway's pipelined store connection: a store that stops answering fails the waiting
commands after the timeout (the gateway answers 503), and the order of replies holds."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import TimeoutError as StoreTimeoutError

from baas.store.multiplexed import MultiplexedConnection


async def test_a_silent_store_times_out_every_waiting_command():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads everything, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = MultiplexedConnection(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        started = time.monotonic()
        first = asyncio.ensure_future(connection.call("PING"))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(connection.call("PING"))
        for waiting in (first, second):
            with pytest.raises(StoreTimeoutError):
                await waiting
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        await connection.close()
        server.close()


async def test_replies_reach_their_callers_in_order(store_url):
    connection = MultiplexedConnection(store_url, timeout=5)
    try:
        replies = await asyncio.gather(*(connection.call("ECHO", str(i)) for i in range(200)))
        assert replies == [str(i).encode() for i in range(200)]
    finally:
        await connection.close()
