"""Reading a request body up to a size limit (413 past it), straight from the ASGI channel."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from baas.core.problems import Problem


async def receive_body(receive: Receive, declared_length: str | None, limit: int) -> bytes:
    """The body; a declared Content-Length over ``limit`` is refused before anything is read."""
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes.")


async def read_body(request: Request, limit: int) -> bytes:
    return await receive_body(request.receive, request.headers.get("content-length"), limit)
