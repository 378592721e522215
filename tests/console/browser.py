"""The real service for the browser tests: a gateway and a worker process on the suite's store,
and Debian's Chromium driven by Playwright (its own browser download cannot work here)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from baas.settings import Settings
from baas.store.connection import open_store
from tests.support.gateway import live_gateway
from tests.support.repo import REPO
from tests.support.store import TenantCredentials, new_tenant, settings_env

CHROMIUM_PATHS = ("chromium", "chromium-browser")
INSTALL = (
    "no Chromium found: install Debian's package (apt-get install chromium) to run the "
    "console's browser tests; .ci/run does"
)
DEADLINE_MS = 10_000  # generous: a condition awaited, never a timing asserted


def chromium() -> str | None:
    for name in CHROMIUM_PATHS:
        if found := shutil.which(name):
            return found
    return None


def tenants(settings: Settings, *names: str) -> list[TenantCredentials]:
    async def create() -> list[TenantCredentials]:
        store = open_store(settings.redis_url, settings)
        try:
            return [await new_tenant(store, settings.key_prefix, name) for name in names]
        finally:
            await store.aclose()

    # A thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, create()).result()


@contextlib.contextmanager
def service(settings: Settings) -> Iterator[str]:
    """A `baas gateway` and a `baas worker` on ``settings``; yields the gateway's URL."""
    env = {**os.environ, **settings_env(settings), "BAAS_LOG_LEVEL": "warning"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "baas.cli.main", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with live_gateway(settings) as base:
            yield base
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def configure_alert(base: str, tenant: TenantCredentials, alert_id: str = "alert-1") -> None:
    """The alert the signals name (CorrelationId), on the paper broker, through the API."""
    event = {
        "id": f"{alert_id}-{secrets.token_hex(4)}",
        "type": "ConfigureIndicatorAlert",
        "source": "browser-test",
        "data": {"AlertId": alert_id, "BrokerId": "paper"},
    }
    answer = httpx.post(
        f"{base}/tenants/{tenant.tenant_id}/api/trading",
        json=event,
        headers={"X-Api-Key": tenant.api_key},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def send_signal(base: str, tenant: TenantCredentials, **data: Any) -> str:
    """A SubmitSignal through the API (a market buy of 1 on the paper broker); its id."""
    signal_id = f"sig-{secrets.token_hex(4)}"
    body = {
        "CorrelationId": "alert-1",
        "Id": signal_id,
        "BrokerId": "paper",
        "Symbol": "AAPL",
        "Date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Data": "buy",
        "Quantity": 1,
        "Price": 200.0,
        "OrderType": "MKT",
        "InstrumentType": "STK",
        **data,
    }
    event = {"id": signal_id, "type": "SubmitSignal", "source": "browser-test", "data": body}
    answer = httpx.post(
        f"{base}/tenants/{tenant.tenant_id}/api/trading",
        json=event,
        headers={"X-Api-Key": tenant.api_key},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    return signal_id


def wait_for(check: Any, what: str, seconds: float = DEADLINE_MS / 1000) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)
