"""The gateway's pipelined store connection: a store that stops answering fails the waiting
commands after the timeout (the gateway answers 503), the order of replies holds, and a command
encoded in parts is the command."""

from __future__ import annotations

import asyncio
import time

import hiredis
import pytest
from redis.exceptions import TimeoutError as StoreTimeoutError

from baas.store.multiplexed import MultiplexedConnection, encode_arguments, encode_header


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


async def test_a_command_encoded_in_parts_is_the_command(store_url):
    args = (b"FCALL", b"baas_probe", b"0", "é".encode(), b"", b"x" * 70_000)
    assert encode_header(len(args)) + encode_arguments(*args) == hiredis.pack_command(args)
    connection = MultiplexedConnection(store_url, timeout=5)
    try:
        echoed = encode_header(2) + encode_arguments(b"ECHO") + encode_arguments(args[-1])
        assert await connection.call_encoded(echoed) == args[-1]
    finally:
        await connection.close()
