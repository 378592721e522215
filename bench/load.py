"""Load generators on loopback: wrk for saturation when installed, and an open-loop asyncio
client for latency at a fixed request rate. Each run is bounded in count and time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvloop

WRK_SCRIPT = """
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  local id = string.format("bench-%s-%d-%d", RUN, tid, counter)
  local body = string.gsub(TEMPLATE, "__ID__", id)
  return wrk.format("POST", PATH, HEADERS, body)
end
"""


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def saturate(
    base_url: str,
    path: str,
    headers: dict[str, str],
    template: str,
    seconds: int,
    connections: int = 32,
) -> Result:
    """Closed-loop maximum throughput. ``template`` holds ``__ID__`` where a unique id goes."""
    if shutil.which("wrk"):
        return _wrk(base_url, path, headers, template, seconds, connections)
    return asyncio.run(_closed_loop(base_url, path, headers, template, seconds, connections))


def _wrk(
    base_url: str, path: str, headers: dict[str, str], template: str, seconds: int, connections: int
) -> Result:
    lua_headers = (
        "{"
        + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
        + "}"
    )
    script = (
        f"RUN = {_lua_string(str(time.time_ns()))}\nPATH = {_lua_string(path)}\n"
        f"HEADERS = {lua_headers}\nTEMPLATE = {_lua_string(template)}\n{WRK_SCRIPT}"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                f.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return Result(rps, _wrk_latency(out, "50%"), _wrk_latency(out, "99%"), errors, "wrk")


def _wrk_latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def _closed_loop(
    base_url: str, path: str, headers: dict[str, str], template: str, seconds: int, connections: int
) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    counter = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while time.monotonic() < deadline:
            counter += 1
            body = template.replace("__ID__", f"py-{time.time_ns()}-{counter}")
            started = time.perf_counter()
            r = await client.post(path, content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += r.status_code >= 300

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return _summary(latencies, errors, seconds, "python")


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: cheap enough not to be what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        reused = self.writer is not None
        status_line = await self._send(request)
        if not status_line and reused:
            # The server closed this connection while it was idle (its keep-alive timeout)
            # before reading the request: send it again on a new one.
            self.close()
            status_line = await self._send(request)
        assert self.reader is not None
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def _send(self, request: bytes) -> bytes:
        """Write the request (connecting if need be); the response's status line."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        return await self.reader.readline()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


def fixed_rate(
    base_url: str,
    path: str,
    headers: dict[str, str],
    body: Callable[[int], str],
    rate: int,
    seconds: float,
) -> Result:
    """Open loop: requests start on schedule whether or not earlier ones have finished.

    The client measures the server, not itself: it never sleeps (waking a sleeping process takes
    hundreds of microseconds on a virtual machine, more than the request), and its collector does
    not run during the measurement (a full collection pauses it for tens of milliseconds)."""
    url = httpx.URL(base_url)
    idle: list[_Connection] = []

    async def post(i: int) -> int:
        connection = idle.pop() if idle else _Connection(url.host, url.port or 80)
        try:
            status = await connection.post(path, headers, body(i).encode())
        except BaseException:
            connection.close()
            raise
        idle.append(connection)
        return status

    async def run() -> Result:
        try:
            return await _open_loop(post, rate, seconds)
        finally:
            for connection in idle:
                connection.close()

    gc.collect()
    gc.disable()
    try:
        return uvloop.run(run())
    finally:
        gc.enable()


async def _open_loop(post: Callable[[int], Awaitable[int]], rate: int, seconds: float) -> Result:
    """``post(i)`` started ``rate`` times a second for ``seconds``; each timed from its
    scheduled start, so that a late start counts against the server (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        try:
            errors += await post(i) >= 300
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        # Spinning on purpose: each turn of the loop polls the sockets without blocking.
        while time.perf_counter() < scheduled:  # noqa: ASYNC110
            await asyncio.sleep(0)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    return _summary(latencies, errors, seconds, "python open-loop")


def _summary(latencies: list[float], errors: int, seconds: float, tool: str) -> Result:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return Result(
        len(latencies) / seconds, statistics.median(ordered) if ordered else 0.0, p99, errors, tool
    )


@contextlib.contextmanager
def process(
    argv: list[str], env: dict[str, str], ready_url: str | None, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process for the length of the block; ready when ``ready_url`` answers at all."""
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while ready_url is not None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(ready_url, timeout=1)
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not start")
            time.sleep(0.1)
        else:
            time.sleep(1.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
