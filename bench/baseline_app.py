"""The baseline of the ingress benchmark: a bare Starlette endpoint that reads the body and
answers 202, served exactly like the gateway (uvicorn, uvloop, httptools, one process)."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    await request.body()
    return Response(b'{"id":"x"}', 202, media_type="application/json")


app = Starlette(routes=[Route("/tenants/{tenantId}/api/trading", accept, methods=["POST", "PUT"])])

if __name__ == "__main__":
    # The options of gateway/server.py, so that only the application differs.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
    )
