"""The HTTP server's own limits, over raw sockets against a real gateway process: request heads
too large or with too many headers (431), heads that never end (the connection is closed), and
too many open connections (503)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
import pytest

from tests.support.gateway import live_gateway
from tests.support.store import make_settings

pytestmark = pytest.mark.live

DEADLINE = 30.0  # seconds: generous, for a loaded machine
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n"


@pytest.fixture(scope="module")
def gateway(store_url: str, run_prefix: str) -> Iterator[str]:
    """A gateway with small head limits: 4 KiB and 20 headers."""
    settings = make_settings(store_url, f"{run_prefix}-http", max_header_bytes=4096, max_headers=20)
    with live_gateway(settings) as base:
        yield base


def address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


@contextlib.contextmanager
def connection(base: str) -> Iterator[socket.socket]:
    with socket.create_connection(address(base), timeout=DEADLINE) as sock:
        yield sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lowercase names) and body of one response."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def healthz(base: str) -> int:
    with connection(base) as sock:
        sock.sendall(HEALTHZ + b"\r\n")
        return read_response(sock)[0]


def closed_by_server(sock: socket.socket) -> bool:
    """Waits for the server to close the connection; False if it is still open at the deadline."""
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def assert_431(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    assert status == 431
    assert headers["content-type"] == "application/json"
    document = orjson.loads(body)
    assert "headers are too large" in document["detail"]
    assert document["errors"] == []


def test_a_head_over_the_byte_limit_is_431(gateway):
    with connection(gateway) as sock:
        sock.sendall(HEALTHZ + b"X-Big: " + b"a" * 5000 + b"\r\n\r\n")
        assert_431(read_response(sock))
        assert closed_by_server(sock)
    assert healthz(gateway) == 200


def test_more_headers_than_the_limit_is_431(gateway):
    with connection(gateway) as sock:
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(21))
        sock.sendall(HEALTHZ + many + b"\r\n")
        assert_431(read_response(sock))


def test_a_head_within_the_limits_is_served(gateway):
    with connection(gateway) as sock:
        headers = b"".join(b"X-H%d: %b\r\n" % (i, b"v" * 150) for i in range(18))
        sock.sendall(HEALTHZ + headers + b"\r\n")
        assert read_response(sock)[0] == 200
        # A body does not count as head: a large one on the same connection is not a 431.
        body = b"{" + b" " * 20_000 + b"}"
        sock.sendall(
            b"POST /tenants/t1/api/trading HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        assert read_response(sock)[0] == 401


def test_a_header_that_never_ends_is_refused(gateway):
    """httptools keeps an unfinished header in memory: the gateway stops reading it at the
    limit instead of growing with it."""
    with connection(gateway) as sock:
        sock.sendall(HEALTHZ + b"X-Endless: " + b"a" * 65536)  # no end of line, ever
        assert_431(read_response(sock))
    assert healthz(gateway) == 200


def test_a_connection_that_sends_no_head_in_time_is_closed(store_url, run_prefix):
    settings = make_settings(store_url, f"{run_prefix}-slow", header_timeout_seconds=1.0)
    with live_gateway(settings) as base:
        with connection(base) as silent, connection(base) as partial:
            partial.sendall(b"GET /healthz HT")
            assert closed_by_server(silent)
            assert closed_by_server(partial)
        assert healthz(base) == 200


def test_connections_over_the_limit_are_503(store_url, run_prefix):
    settings = make_settings(store_url, f"{run_prefix}-busy", max_connections=3)
    with live_gateway(settings) as base:
        with contextlib.ExitStack() as held:
            for _ in range(3):  # unfinished heads hold their connections
                held.enter_context(connection(base)).sendall(b"GET /healthz HTTP/1.1\r\n")
            with connection(base) as extra:
                status, headers, body = read_response(extra)
            assert status == 503
            assert int(headers["retry-after"]) >= 1
            assert orjson.loads(body) == {
                "detail": "Too many open connections. Retry later.",
                "errors": [],
            }
        # Closed, they free their places.
        deadline = time.monotonic() + DEADLINE
        while healthz_or_refused(base) != 200:
            assert time.monotonic() < deadline, "the places were not freed"
            time.sleep(0.1)


def healthz_or_refused(base: str) -> int:
    with contextlib.suppress(ConnectionResetError, AssertionError):
        return healthz(base)
    return 0
