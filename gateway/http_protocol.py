"""uvicorn's httptools protocol with limits on what one client may hold: the size of a request
head and its number of headers (431 above), the time to send a head, and the number of open
connections (503 above).

uvicorn bounds none of these. httptools keeps a header that has not ended in memory, so one
connection streaming an endless header grew the gateway by 300 MB and slowed every request;
connections that never finished a request were held until the open-file limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from baas.settings import Settings


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_seconds: float
    max_connections: int
    retry_after_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            settings.max_header_bytes,
            settings.max_headers,
            settings.header_timeout_seconds,
            settings.max_connections,
            settings.unavailable_retry_after_seconds,
        )


class _HeadRefused(Exception):
    """Raised in a parser callback: stops parsing a head over the limits."""


def refusal(status: int, detail: str, *headers: bytes) -> bytes:
    """A whole HTTP response with the gateway's JSON error body, closing the connection."""
    body = orjson.dumps({"detail": detail, "errors": []})
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            *headers,
            b"\r\n",
            body,
        ]
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the current request's head is not complete yet
        self._head_received = 0  # bytes received while in the head (an unfinished header too)
        self._head_size = 0  # the head's request line and headers, as parsed
        self._header_count = 0
        self._head_too_large = False
        self._refused = False  # answered and closing: nothing more is read
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            retry_after = b"retry-after: %d\r\n" % self.limits.retry_after_seconds
            self._refuse(refusal(503, "Too many open connections. Retry later.", retry_after))
            return
        self._start_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_received += len(data)
        super().data_received(data)
        if self._in_head and self._head_received > self.limits.max_header_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._start_deadline()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_received = self._head_size = self._header_count = 0
        self._stop_deadline()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error here, _HeadRefused included.
        if self._head_too_large:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _count_head(self, size: int) -> None:
        self._head_size += size
        limits = self.limits
        if self._head_size > limits.max_header_bytes or self._header_count > limits.max_headers:
            self._head_too_large = True
            raise _HeadRefused()

    def _refuse_head(self) -> None:
        if self._refused:
            return
        limits = self.limits
        detail = (
            f"The request's headers are too large: at most {limits.max_headers} headers "
            f"and {limits.max_header_bytes} bytes."
        )
        self._refuse(refusal(431, detail))

    def _refuse(self, response: bytes) -> None:
        """Answer and stop reading. The write side is shut first and the socket closed when the
        client closes (or after the header time-out): closing at once with unread input would
        reset the connection, and the client could lose the answer."""
        self._refused = True
        self._stop_deadline()
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._deadline = self.loop.call_later(
            self.limits.header_timeout_seconds, self.transport.close
        )

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(
                self.limits.header_timeout_seconds, self._head_timed_out
            )

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with the settings' limits."""
    limits = ConnectionLimits.from_settings(settings)
    return type("GatewayHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
