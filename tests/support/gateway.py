"""The gateway under test: in-process (an httpx client on the app) or a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx

from baas.settings import Settings, env_name
from gateway.app import create_app
from tests.support.repo import REPO
from tests.support.store import settings_env


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, client_ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process, its lifespan run around it."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_gateway(settings: Settings) -> Iterator[str]:
    """A real `baas gateway` process on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, **settings_env(settings), env_name("port"): str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "baas.cli.main", "gateway"], env=env, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("the gateway exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
