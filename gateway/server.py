"""Serving the gateway: uvicorn with uvloop and httptools (``gateway.http_protocol``)."""

from __future__ import annotations

import gc

import uvicorn

from baas.settings import Settings
from baas.store.connection import store_url
from gateway.app import create_app
from gateway.http_protocol import guarded_protocol


def serve(settings: Settings) -> None:
    store_url(settings)  # fail here, with the reason, when no store is running
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=guarded_protocol(settings),  # httptools, with limits on heads and connections
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        # Client IPs are ours to decide (BAAS_TRUSTED_PROXIES): uvicorn must not rewrite them.
        proxy_headers=False,
    )
    # The objects built so far (modules, schemas, routes: some 53,000) live as long as the
    # process. Frozen, the collector no longer walks them: a full collection, which stops every
    # request in flight, took 32 ms before and well under 1 ms after, on the benchmark's machine.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()
